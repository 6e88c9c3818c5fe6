'use strict'
// createMcpTransport: the host's own MCP server and a third-party one that signs in with
// OAuth, side by side with the real SDKs. Ours gets the JWT and never an OAuth request; the
// third-party one gets the host's OAuth provider (its 401 leads to discovery and the
// provider's redirectToAuthorization) and never the JWT. The third-party server would
// accept our JWT (it verifies with the same JWKS), so a leaked token would show as a
// successful call, not only in its request log.

const test = require('node:test')
const assert = require('node:assert/strict')
const { createMcpTransport } = require('../mcp')
const { rejection } = require('./helpers/client')
const { useMcpServers, startMcpServer, signedInMcpClient, bearerOf, oauthDetours, waitFor } = require('./helpers/mcp-server')

const servers = useMcpServers()
let thirdParty
test.beforeEach(async () => {
  // Another port, so another origin: not in the client's trustedOrigins. Started here, once,
  // because the reference API it verifies against is up only when the shared hooks ran.
  thirdParty ??= await startMcpServer({ jwksUrl: `${servers.api.url}/api/jwt/jwks` })
  thirdParty.requests.length = 0
})
test.after(() => thirdParty?.close())

/** The host's OAuth client provider, as the SDK's OAuthClientProvider: records where it was sent. */
function hostOAuthProvider() {
  const redirects = []
  return {
    redirects,
    redirectUrl: 'http://127.0.0.1:12346/oauth/callback',
    clientMetadata: { redirect_uris: ['http://127.0.0.1:12346/oauth/callback'], client_name: 'host' },
    // Registered already, so discovery goes straight on to the authorization redirect.
    clientInformation: async () => ({ client_id: 'host-app' }),
    saveClientInformation: async () => {},
    tokens: async () => undefined,
    saveTokens: async () => {},
    redirectToAuthorization: async (url) => {
      redirects.push(new URL(url))
    },
    saveCodeVerifier: async () => {},
    codeVerifier: async () => 'verifier',
  }
}

function sdk1(pkg) {
  return {
    Client: require(`${pkg}/client/index.js`).Client,
    StreamableHTTPClientTransport: require(`${pkg}/client/streamableHttp.js`).StreamableHTTPClientTransport,
    SSEClientTransport: require(`${pkg}/client/sse.js`).SSEClientTransport,
  }
}

const lines = [
  ['sdk 1.11.4', sdk1('mcp-sdk-1.11.4')],
  ['sdk 1.x latest', sdk1('@modelcontextprotocol/sdk')],
  ['client 2.x', require('@modelcontextprotocol/client')],
]

for (const [line, sdk] of lines) {
  for (const [kind, path] of [
    ['StreamableHTTPClientTransport', '/mcp'],
    ['SSEClientTransport', '/sse'],
  ]) {
    test(`${line} ${kind}: ours gets the JWT and no OAuth, the third party gets the host's OAuth and no JWT`, async (t) => {
      const authClient = await signedInMcpClient(servers)
      const oauthProvider = hostOAuthProvider()
      const Transport = sdk[kind]

      const ours = new sdk.Client({ name: 'mcp-oauth.test', version: '1.0.0' })
      t.after(() => ours.close())
      await ours.connect(createMcpTransport(authClient, Transport, servers.mcp.origin + path, { oauthProvider }))
      const result = await ours.callTool({ name: 'whoami', arguments: {} })
      assert.equal(JSON.parse(result.content[0].text).email, 'demo@example.com')

      const theirs = new sdk.Client({ name: 'mcp-oauth.test', version: '1.0.0' })
      t.after(() => theirs.close())
      const refused = await rejection(
        theirs.connect(createMcpTransport(authClient, Transport, thirdParty.origin + path, { oauthProvider }))
      )
      // How the host tells it (MCPService.ts): the name on newer lines, the message on 1.11.4.
      assert.match(`${refused.name} ${refused.message}`, /Unauthorized/)
      await waitFor(() => oauthProvider.redirects.length > 0, { what: "the host provider's redirect" })
      assert.equal(oauthProvider.redirects[0].origin, thirdParty.origin, 'authorization at the third party')
      assert.equal(oauthProvider.redirects[0].searchParams.get('client_id'), 'host-app')
      assert.ok(oauthDetours(thirdParty.requests).length > 0, 'the SDK went looking for its OAuth metadata')

      const token = authClient.getStoredJwtToken()
      assert.ok(token)
      assert.deepEqual(servers.mcp.requests.map(bearerOf), Array(servers.mcp.requests.length).fill(token))
      assert.deepEqual(oauthDetours(servers.mcp.requests), [], 'no OAuth request to our server')
      assert.deepEqual(
        thirdParty.requests.filter((r) => r.authorization !== undefined).map((r) => `${r.method} ${r.path}`),
        [],
        'no Authorization header to the third party'
      )
    })
  }
}

test('createMcpTransport without an AuthClient or a transport class is E_CONFIG', async () => {
  const authClient = await signedInMcpClient(servers)
  const { StreamableHTTPClientTransport } = sdk1('mcp-sdk-1.11.4')
  assert.throws(() => createMcpTransport(null, StreamableHTTPClientTransport, servers.mcp.url), { code: 'E_CONFIG' })
  assert.throws(() => createMcpTransport(authClient, undefined, thirdParty.url), { code: 'E_CONFIG' })
})
