/**
 * The pages' Content-Security-Policy. Scripts run only when they carry this response's nonce
 * ('strict-dynamic' lets the framework's own loader add its chunks), so an injected <script>
 * or inline handler never runs. Styles come from our stylesheet files or carry the nonce;
 * markup has no style attributes. Development adds 'unsafe-eval', which React's dev build
 * needs to rebuild server stacks in the browser, and allows inline styles, which the Next.js dev
 * tools (the overlay and its indicator) set without the nonce: a nonce in style-src would make
 * the browser ignore 'unsafe-inline', so development lists none there. Production has neither.
 */
export function contentSecurityPolicy(nonce: string, { development = false } = {}): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${development ? " 'unsafe-eval'" : ''}`,
    development ? "style-src 'self' 'unsafe-inline'" : `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/** 128 random bits, base64: unguessable and fresh for every page response. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return btoa(String.fromCharCode(...bytes))
}
