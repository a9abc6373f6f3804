// A real OpenID provider for the gateway's tests and `make run`: panva's oidc-provider
// (an OpenID Certified implementation), one client, a few operators whose claims carry
// Sportello's role, department and municipality.
//
//   node tests/oidc/provider.mjs
//
// Environment:
//   OIDC_PORT            port to listen on, 127.0.0.1 (default 0: any free port)
//   OIDC_CLIENT_ID       the gateway's client id (default sportello-gateway)
//   OIDC_CLIENT_SECRET   its secret; empty: a public client (PKCE alone)
//   OIDC_REDIRECT_URL    the gateway's /auth/callback
//   OIDC_POST_LOGOUT_URL where the provider's logout sends the browser back
//   OIDC_TAMPER          tests only: nonce | issuer | unsigned | expired — the token
//                        endpoint's ID token is altered that way (re-signed with the
//                        provider's own key, but for `unsigned`), so the gateway's
//                        verifier must refuse exactly that check
//
// Prints `OIDC_PROVIDER_READY <issuer>` on stdout once it serves.
//
// Sign-in: GET /interaction/<uid> is a form; POST it with `login` (an account below; any
// password — this is a test provider) and the provider continues. Consent is implied for
// the one first-party client.
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

/** The operators this provider knows, and their claims. */
const ACCOUNTS = {
  'oidc.rossi': {
    name: 'Maria Rossi',
    roles: ['polivalente'],
    municipality: '011015',
  },
  'oidc.verdi': {
    name: 'Giulio Verdi',
    roles: ['back_office', 'not-a-sportello-role'],
    department: 'anagrafe',
    municipality: '011015',
  },
  'oidc.admin': {
    name: 'Anna Bianchi',
    roles: ['admin'],
    municipality: '011015',
  },
  // A colleague of the municipality with no Sportello role: refused by the gateway.
  'oidc.nessuno': {
    name: 'Nessun Ruolo',
    roles: [],
    municipality: '011015',
  },
};

const env = process.env;
const clientId = env.OIDC_CLIENT_ID || 'sportello-gateway';
const clientSecret = env.OIDC_CLIENT_SECRET || '';
const redirectUrl = env.OIDC_REDIRECT_URL || 'http://127.0.0.1:8080/auth/callback';
const postLogoutUrl = env.OIDC_POST_LOGOUT_URL || new URL('/accesso', redirectUrl).href;
const tamper = env.OIDC_TAMPER || '';
if (tamper && !['nonce', 'issuer', 'unsigned', 'expired'].includes(tamper)) {
  console.error(`OIDC_TAMPER=${tamper}: expected nonce, issuer, unsigned or expired`);
  process.exit(2);
}

// A fresh signing key each start.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomBytes(8).toString('hex');
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise((resolve) => server.listen(Number(env.OIDC_PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      ...(clientSecret
        ? { client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_basic' }
        : { token_endpoint_auth_method: 'none' }),
      redirect_uris: [redirectUrl],
      post_logout_redirect_uris: [postLogoutUrl],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'sportello'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    sportello: ['roles', 'department', 'municipality'],
  },
  // The claims of the scopes asked go in the ID token too, as the gateway reads them
  // there (as Keycloak's and Entra ID's mappers do).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...account };
      },
    };
  },
  // The gateway is the municipality's own application: consent is implied.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile sportello');
    await grant.save();
    return grant;
  },
});

const b64url = (value) => Buffer.from(value).toString('base64url');

/** The ID token altered as OIDC_TAMPER says. */
function tampered(idToken) {
  const [head, body] = idToken.split('.');
  const header = JSON.parse(Buffer.from(head, 'base64url'));
  const claims = JSON.parse(Buffer.from(body, 'base64url'));
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'nonce') claims.nonce = 'not-the-nonce-the-gateway-sent';
  if (tamper === 'issuer') claims.iss = 'https://impostore.example';
  if (tamper === 'expired') {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  }
  if (tamper === 'unsigned') {
    return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
  }
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

if (tamper) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: tampered(ctx.body.id_token) };
    }
  });
}

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The sign-in form, and its answer. */
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html lang="it"><title>Provider di prova</title><main>
<h1>Accesso / Sign in</h1><p>${escape(details.prompt.name)}</p>
<form method="post" action="/interaction/${escape(details.uid)}">
<label>Utente <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Accedi</button></form></main></html>`);
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const form = new URLSearchParams(Buffer.concat(chunks).toString());
  const login = form.get('login') ?? '';
  const result = ACCOUNTS[login]
    ? { login: { accountId: login } }
    : { error: 'access_denied', error_description: 'unknown user' };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 400;
      res.end(String(err.message));
    });
    return;
  }
  callback(req, res);
});

process.stdout.write(`OIDC_PROVIDER_READY ${issuer}\n`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
