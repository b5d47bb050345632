// The API paths page JavaScript may reach through /api/bff. Anything else (notably
// /auth/login, /auth/refresh and /auth/logout, whose bodies carry tokens) is not proxied.
const ROUTES: ReadonlyArray<readonly [string, RegExp]> = [
  ['GET', /^\/auth\/me$/],
  ['GET', /^\/auth\/sessions$/],
  ['DELETE', /^\/auth\/sessions\/[A-Za-z0-9-]{1,64}$/],
  ['GET', /^\/auth\/sso\/identities$/],
  ['DELETE', /^\/auth\/sso\/identities\/\d{1,10}$/],
  [
    'POST',
    /^\/auth\/(register|password-change|revoke-all-tokens|password-reset\/request|password-reset\/confirm|verify-email|verify-email\/resend)$/,
  ],
  ['GET PATCH', /^\/users\/me$/],
  ['GET POST', /^\/users$/],
  ['GET PATCH DELETE', /^\/users\/\d{1,12}$/],
  ['GET POST', /^\/roles$/],
  ['PATCH DELETE', /^\/roles\/\d{1,12}$/],
  ['PUT', /^\/roles\/\d{1,12}\/permissions$/],
  ['GET', /^\/permissions$/],
  ['GET', /^\/audit-events(\/export)?$/],
  ['GET POST', /^\/todos$/],
  ['GET PUT PATCH DELETE', /^\/todos\/\d{1,12}$/],
]

/** Downloads, passed on as they stream in (a long audit export outlasts the API timeout). */
const DOWNLOADS = /^\/audit-events\/export$/

export function isDownload(path: string): boolean {
  return DOWNLOADS.test(path)
}

/** Endpoints that work without a session, so a 401 there is not "session expired". */
const PUBLIC = /^\/auth\/(register|password-reset\/request|password-reset\/confirm|verify-email|verify-email\/resend)$/

export function isProxied(method: string, path: string): boolean {
  return ROUTES.some(([methods, pattern]) => methods.split(' ').includes(method) && pattern.test(path))
}

export function isPublic(path: string): boolean {
  return PUBLIC.test(path)
}

/** Rebuild the API path from the catch-all segments, re-encoding each one. */
export function apiPathFrom(segments: readonly string[]): string {
  return `/${segments.map((segment) => encodeURIComponent(segment)).join('/')}`
}
