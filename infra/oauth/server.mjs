// A real OAuth 2.0 authorization server for wfm-relay's tests: oidc-provider (a certified
// OpenID Connect / OAuth 2.0 server) with the client-credentials grant, short-lived opaque
// access tokens and token introspection (RFC 7662), on 127.0.0.1 only.
//
// Environment (all set by infra/oauth.sh):
//   OAUTH_PORT                      port to listen on (127.0.0.1)
//   OAUTH_CLIENT_ID / _SECRET       the relay's client; `<id>` authenticates with HTTP Basic
//                                   (client_secret_basic), `<id>-body` with the same secret in the
//                                   form body (client_secret_post)
//   OAUTH_INTROSPECTION_CLIENT_ID / _SECRET  the scripted WFM's client (introspection only)
//   OAUTH_TOKEN_TTL_S               access token lifetime in seconds (default 5)
//   OAUTH_SCOPE                     scopes the relay's clients may ask for (default status:write)
//
// Besides the provider's own endpoints, GET /test/stats answers
// {"token_requests": n, "tokens_issued": n, "token_errors": n, "introspections": n}.
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback === undefined) throw new Error(`${name} is required`);
    return fallback;
  }
  return v;
};

const port = Number(env('OAUTH_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const ttl = Number(env('OAUTH_TOKEN_TTL_S', '5'));
const clientId = env('OAUTH_CLIENT_ID');
const clientSecret = env('OAUTH_CLIENT_SECRET');
const scope = env('OAUTH_SCOPE', 'status:write');

const relayClient = (id, method) => ({
  client_id: id,
  client_secret: clientSecret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: method,
  scope,
});

const provider = new Provider(issuer, {
  clients: [
    relayClient(clientId, 'client_secret_basic'),
    relayClient(`${clientId}-body`, 'client_secret_post'),
    {
      client_id: env('OAUTH_INTROSPECTION_CLIENT_ID'),
      client_secret: env('OAUTH_INTROSPECTION_SECRET'),
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['openid', ...scope.split(' ')],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
  },
  ttl: { ClientCredentials: ttl },
});

const stats = { token_requests: 0, tokens_issued: 0, token_errors: 0, introspections: 0 };
provider.on('grant.success', () => { stats.tokens_issued += 1; });
provider.on('grant.error', () => { stats.token_errors += 1; });

provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/test/stats') {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(stats);
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/token') stats.token_requests += 1;
  if (ctx.method === 'POST' && ctx.path === '/token/introspection') stats.introspections += 1;
  await next();
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer} (token TTL ${ttl} s)`);
});
