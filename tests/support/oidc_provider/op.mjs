// A real OpenID Provider (panva's certified oidc-provider) on loopback, for the SSO tests only.
//
//   OP_CONFIG='{"port": 0, "clients": [...], "accounts": {...}, "userinfo_only": false}' node op.mjs
//
// Prints one line `{"issuer": "http://127.0.0.1:PORT"}` once it listens. Besides the standard
// endpoints it serves, for tests only:
//   GET  /interaction/:uid           the login form (consent is granted without a page)
//   POST /interaction/:uid/login     login=<account id>&password=<password>
//   POST /interaction/:uid/abort     the user refuses: access_denied back to the client
//   PUT  /__test/accounts/:id        create or replace an account (JSON: password, email,
//                                    email_verified, name, groups)
//   POST /__test/rotate              a new signing key replaces the old one (a new kid)
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OP_CONFIG ?? '{}');
const accounts = new Map(Object.entries(config.accounts ?? {}));
const cookieKeys = [randomBytes(32).toString('hex')];

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
}

async function findAccount(ctx, id) {
  const account = accounts.get(id);
  if (!account) return undefined;
  return {
    accountId: id,
    async claims() {
      const current = accounts.get(id) ?? account;
      return {
        sub: id,
        email: current.email,
        email_verified: current.email_verified ?? true,
        name: current.name,
        groups: current.groups ?? [],
      };
    },
  };
}

function buildProvider(issuer, signingKey) {
  const provider = new Provider(issuer, {
    clients: config.clients ?? [],
    jwks: { keys: [signingKey] },
    cookies: { keys: cookieKeys },
    findAccount,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // By default the claims of the granted scopes go into the ID token, as Entra ID and Okta do;
    // `"userinfo_only": true` keeps them for the UserInfo endpoint, as the spec's code flow does.
    conformIdTokenClaims: config.userinfo_only ?? false,
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { IdToken: config.id_token_ttl ?? 3600 },
  });
  provider.on('server_error', (ctx, error) => console.error('op server_error', error));
  return provider;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

let provider;

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, { error: 'interaction mismatch' });
  if (action === 'abort') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user refused the sign-in' },
      { mergeWithLastSubmission: false },
    );
  }
  if (details.prompt.name === 'consent') {
    // First-party enterprise apps are pre-approved by the IdP's administrator: no consent page.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }
  if (action === 'login' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const account = accounts.get(form.get('login') ?? '');
    if (!account || account.password !== form.get('password')) {
      return send(res, 401, '<p id="error">Wrong login or password</p>', 'text/html');
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, {
      mergeWithLastSubmission: false,
    });
  }
  return send(
    res,
    200,
    `<!doctype html><title>Test OP sign-in</title>
<form method="post" action="/interaction/${uid}/login">
<label>Login <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`,
    'text/html',
  );
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://op');
  const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
  if (match) return interaction(req, res, match[1], match[2]);
  const accountMatch = url.pathname.match(/^\/__test\/accounts\/([^/]+)$/);
  if (accountMatch && req.method === 'PUT') {
    accounts.set(decodeURIComponent(accountMatch[1]), JSON.parse(await readBody(req)));
    return send(res, 204, '');
  }
  if (url.pathname === '/__test/rotate' && req.method === 'POST') {
    const key = newSigningKey();
    provider = buildProvider(provider.issuer, key);
    return send(res, 200, { kid: key.kid });
  }
  return provider.callback()(req, res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    console.error('op error', error);
    if (!res.headersSent) send(res, 500, { error: String(error?.message ?? error) });
  });
});

server.listen(config.port ?? 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = buildProvider(issuer, newSigningKey());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
