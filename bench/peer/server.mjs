// The peer: panva/oidc-provider v9 (OpenID Certified), configured like Doorway's benchmark
// set-up. In-memory storage (memory-adapter.mjs; Doorway persists to SQLite). Loopback only.
// Env: PORT (13000), BENCH_SECRET (the clients' secret).
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';
import MapAdapter from './memory-adapter.mjs';

const PORT = Number(process.env.PORT || 13000);
const ISSUER = `http://127.0.0.1:${PORT}`;
const SECRET = process.env.BENCH_SECRET || 'bench-secret-0123456789abcdef0123456789abcdef';
const jwks = JSON.parse(readFileSync(new URL('./jwks.json', import.meta.url), 'utf8'));

// Like `doorway apps create --grant-types "authorization_code refresh_token client_credentials"
// --require-pkce [--id-token-alg ALG]`: one confidential client per ID token algorithm.
const client = (client_id, alg) => ({
  client_id,
  client_secret: SECRET,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1:9/cb'],
  scope: 'openid profile email',
  id_token_signed_response_alg: alg,
});

// Like `doorway apps create --grant-types client_credentials --id-token-alg ALG
// --access-token-format jwt`: client_credentials yields an RFC 9068 JWT access token signed with
// ALG, audience the client itself, not stored (the peer's JWT format is never stored; Doorway
// does not store client_credentials JWTs either). oidc-provider issues JWT access tokens only
// for a resource server: each of these clients defaults to one (resourceIndicators below).
const JWT_CLIENTS = { 'bench-jwt-rs256': 'RS256', 'bench-jwt-es256': 'ES256', 'bench-jwt-eddsa': 'EdDSA' };
const jwtClient = (client_id) => ({
  client_id,
  client_secret: SECRET,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'openid profile email',
  id_token_signed_response_alg: JWT_CLIENTS[client_id],
});
const resourceOf = (clientId) => `urn:bench:jwt:${clientId}`;

const configuration = {
  adapter: MapAdapter,
  clients: [
    client('bench-client', 'RS256'), client('bench-es256', 'ES256'), client('bench-eddsa', 'EdDSA'),
    ...Object.keys(JWT_CLIENTS).map(jwtClient),
  ],
  jwks,
  cookies: { keys: ['bench-cookie-key-1-abcdefghijklmnopqrstuvwxyz'] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'picture', 'profile'],
    email: ['email', 'email_verified'],
  },
  // Every login name is an account (devInteractions checks no password: password sign-in is
  // not comparable and is not measured on the peer).
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({
      sub, name: sub, preferred_username: sub, email: `${sub}@example.com`, email_verified: false,
      picture: `${ISSUER}/avatars/${sub}.svg`, profile: `${ISSUER}/${sub}`,
    }),
  }),
  // Remembered consent, as Doorway does it: an authorization request from a signed-in session
  // reuses the grant the person already gave this client (the library's default behaviour,
  // spelled out), so it redirects straight back with a code.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
  // Doorway issues a refresh token to every client allowed the refresh_token grant (no
  // offline_access needed), rotates it at every use, and does not end tokens with the session.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  expiresWithSession: async () => false,
  // Doorway's lifetimes (the benchmark sets Doorway's code lifetime to 30 min so that codes
  // can be minted ahead of the timed part).
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    IdToken: 3600,
    AuthorizationCode: 1800,
    RefreshToken: 30 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Interaction: 1800,
    Grant: 365 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // Only the bench-jwt-* clients get a resource (and so JWT access tokens); every other
    // client gets none, so the other workloads' opaque tokens are as before.
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf ?? (JWT_CLIENTS[client.clientId] ? resourceOf(client.clientId) : undefined),
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, resourceIndicator, client) => {
        const alg = JWT_CLIENTS[client.clientId];
        if (!alg || resourceIndicator !== resourceOf(client.clientId)) throw new errors.InvalidTarget();
        return { scope: '', audience: client.clientId, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg } } };
      },
    },
  },
};

const provider = new Provider(ISSUER, configuration);
provider.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${ISSUER} uptime_ms=${(process.uptime() * 1000).toFixed(1)}`);
});
