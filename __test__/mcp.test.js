'use strict'
// symbiote-auth/mcp on its own (no MCP client): which origins get the token, redirects,
// the 401 retry and the provider shapes, against the reference API and a real MCP server.

const test = require('node:test')
const assert = require('node:assert/strict')
const { createAuthFetch, createMcpAuthProvider } = require('../mcp')
const { rejection, thrown } = require('./helpers/client')
const { useMcpServers, mcpClient, signedInMcpClient, bearerOf, apiRequestsDuring, assertOneRefresh } = require('./helpers/mcp-server')

const servers = useMcpServers()

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

// A Streamable HTTP initialize: the MCP server answers 200 only when the body arrived.
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp.test', version: '1' } },
})
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

function redirectUrl(from, to, status = 307) {
  return `${from}/redirect?status=${status}&to=${encodeURIComponent(to)}`
}

async function authFetchFor(options) {
  const client = await signedInMcpClient(servers, options)
  return { client, authFetch: createAuthFetch(client, { serverUrl: servers.mcp.url }) }
}

test('symbiote-auth/mcp is the package export of mcp.js', () => {
  assert.equal(require('symbiote-auth/mcp'), require('../mcp'))
})

test.describe('trusted origins', () => {
  test('an MCP server outside trustedOrigins gets neither a provider nor a fetch', () => {
    const client = mcpClient(servers)
    const { port } = new URL(servers.mcp.origin)
    const refused = [
      ['http://evil.example.com/mcp', 'E_INSECURE_URL'],
      ['https://other.example.com/mcp', 'E_UNTRUSTED_ORIGIN'],
      // Same server, same port: a different origin all the same.
      [`http://localhost:${port}/mcp`, 'E_UNTRUSTED_ORIGIN'],
      [`${servers.other.origin}/mcp`, 'E_UNTRUSTED_ORIGIN'],
    ]
    const makers = {
      mcpProvider: (serverUrl) => client.mcpProvider(serverUrl),
      createAuthFetch: (serverUrl) => createAuthFetch(client, { serverUrl }),
      createMcpAuthProvider: (serverUrl) => createMcpAuthProvider(client, { serverUrl: new URL(serverUrl) }),
    }
    for (const [name, make] of Object.entries(makers)) {
      for (const [serverUrl, code] of refused) {
        assert.equal(thrown(() => make(serverUrl)).code, code, `${name}(${serverUrl})`)
      }
      assert.doesNotThrow(() => make(servers.mcp.url), name)
    }
  })

  test('the token goes to the trusted origin and to no other', async () => {
    const { client, authFetch } = await authFetchFor()
    const token = client.getStoredJwtToken()
    const { port } = new URL(servers.mcp.origin)

    assert.equal((await authFetch(`${servers.mcp.origin}/status/204`)).status, 204)
    assert.equal((await authFetch(`${servers.other.origin}/status/204`, { method: 'POST', body: '{}' })).status, 204)
    assert.equal((await authFetch(new Request(`${servers.other.origin}/status/204`))).status, 204)
    assert.equal((await authFetch(new URL(`http://localhost:${port}/status/204`))).status, 204)

    assert.deepEqual(servers.mcp.requests.map(bearerOf), [token, undefined])
    assert.deepEqual(servers.other.requests.map(bearerOf), [undefined, undefined])
  })

  test('the header the caller set is replaced, not sent twice', async () => {
    const { client, authFetch } = await authFetchFor()
    await authFetch(`${servers.mcp.origin}/status/204`, { headers: { Authorization: 'Bearer something-else' } })
    assert.equal(servers.mcp.requests[0].authorization, `Bearer ${client.getStoredJwtToken()}`)
  })
})

test.describe('redirects', () => {
  test('a redirect to another origin loses the header', async () => {
    const { client, authFetch } = await authFetchFor()
    for (const status of [301, 302, 303, 307, 308]) {
      const response = await authFetch(redirectUrl(servers.mcp.origin, `${servers.other.origin}/landing`, status))
      assert.equal(response.status, 404, `${status} was followed`)
    }
    assert.deepEqual(servers.mcp.requests.map(bearerOf), Array(5).fill(client.getStoredJwtToken()))
    assert.deepEqual(
      servers.other.requests.map((r) => [r.path, r.authorization]),
      Array(5).fill(['/landing', undefined])
    )
  })

  test('a redirect within trusted origins keeps it; once it went elsewhere it stays dropped', async () => {
    const { client, authFetch } = await authFetchFor()
    const token = client.getStoredJwtToken()
    await authFetch(redirectUrl(servers.mcp.origin, `${servers.mcp.origin}/status/204`))
    await authFetch(redirectUrl(servers.mcp.origin, redirectUrl(servers.other.origin, `${servers.mcp.origin}/status/204`)))
    assert.deepEqual(
      servers.mcp.requests.map((r) => [r.path, bearerOf(r)]),
      [
        ['/redirect', token],
        ['/status/204', token],
        ['/redirect', token],
        ['/status/204', undefined],
      ]
    )
    assert.deepEqual(servers.other.requests.map(bearerOf), [undefined])
  })

  test('307 sends the body again; 303 turns the request into a GET without it', async () => {
    const { authFetch } = await authFetchFor()
    const kept = await authFetch(redirectUrl(servers.mcp.origin, servers.mcp.url, 307), {
      method: 'POST',
      headers: MCP_HEADERS,
      body: INITIALIZE,
    })
    assert.equal(kept.status, 200)
    assert.match(await kept.text(), /"result"/)

    await authFetch(redirectUrl(servers.mcp.origin, `${servers.other.origin}/landing`, 303), {
      method: 'POST',
      headers: MCP_HEADERS,
      body: INITIALIZE,
    })
    assert.deepEqual(
      servers.other.requests.map((r) => r.method),
      ['GET']
    )
  })

  test('redirect: manual hands the 3xx to the caller, as fetch does', async () => {
    const { authFetch } = await authFetchFor()
    const response = await authFetch(redirectUrl(servers.mcp.origin, `${servers.other.origin}/landing`), { redirect: 'manual' })
    assert.equal(response.status, 307)
    assert.equal(servers.other.requests.length, 0)
  })

  test('a redirect to plain http off loopback is refused with E_INSECURE_URL', async () => {
    const { authFetch } = await authFetchFor()
    const error = await rejection(authFetch(redirectUrl(servers.mcp.origin, 'http://evil.example.com/steal')))
    assert.equal(error.code, 'E_INSECURE_URL')
  })
})

test.describe('401', () => {
  const bodies = {
    'a string body': (url) => [url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE }],
    'a streamed body': (url) => [url, { method: 'POST', headers: MCP_HEADERS, body: new Blob([INITIALIZE]).stream(), duplex: 'half' }],
    'a Request': (url) => [new Request(url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE })],
  }
  for (const [name, request] of Object.entries(bodies)) {
    test(`a refused token is replaced once and the request retried with ${name}`, async () => {
      const { client, authFetch } = await authFetchFor()
      const refused = client.getStoredJwtToken()
      servers.mcp.revoke(claimsOf(refused).jti)

      const during = await apiRequestsDuring(servers.api, () => authFetch(...request(servers.mcp.url)))
      assert.equal(during.result.status, 200)
      assert.match(await during.result.text(), /"result"/)
      assertOneRefresh(during)
      const replacement = client.getStoredJwtToken()
      assert.notEqual(replacement, refused)
      assert.deepEqual(servers.mcp.requests.map(bearerOf), [refused, replacement])
    })
  }

  test('a second 401 is returned as it is', async () => {
    const { authFetch } = await authFetchFor()
    const during = await apiRequestsDuring(servers.api, () => authFetch(`${servers.mcp.origin}/status/401`))
    assert.equal(during.result.status, 401)
    assertOneRefresh(during)
    const [first, retry] = servers.mcp.requests.map(bearerOf)
    assert.equal(servers.mcp.requests.length, 2)
    assert.notEqual(first, retry)
  })

  test('a 401 from an origin that got no token refreshes nothing', async () => {
    const { authFetch } = await authFetchFor()
    const during = await apiRequestsDuring(servers.api, () => authFetch(`${servers.other.origin}/status/401`))
    assert.equal(during.result.status, 401)
    assert.deepEqual([during.refresh, during.token], [0, 0])
    assert.equal(servers.other.requests.length, 1)
  })

  test('20 concurrent requests refused together share one refresh', async () => {
    const { client, authFetch } = await authFetchFor()
    servers.mcp.revoke(claimsOf(client.getStoredJwtToken()).jti)
    const during = await apiRequestsDuring(servers.api, () =>
      Promise.all(Array.from({ length: 20 }, () => authFetch(servers.mcp.url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE })))
    )
    assert.deepEqual(
      during.result.map((r) => r.status),
      Array(20).fill(200)
    )
    await Promise.all(during.result.map((r) => r.body.cancel()))
    assertOneRefresh(during)
  })
})

test.describe('signed out', () => {
  test('requests to a trusted origin fail with E_LOGIN_REQUIRED and nothing is sent', async () => {
    const never = mcpClient(servers)
    const { client: gone } = await authFetchFor()
    await gone.logout()
    for (const client of [never, gone]) {
      const authFetch = createAuthFetch(client, { serverUrl: servers.mcp.url })
      const error = await rejection(authFetch(servers.mcp.url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE }))
      assert.equal(error.code, 'E_LOGIN_REQUIRED')
      assert.equal((await authFetch(`${servers.other.origin}/status/204`)).status, 204, 'other origins are not our business')
    }
    assert.equal(servers.mcp.requests.length, 0)
  })

  test('a session the API ended is E_LOGIN_REQUIRED everywhere, not "signed out"', async () => {
    const { client, authFetch } = await authFetchFor()
    const provider = createMcpAuthProvider(client, { serverUrl: servers.mcp.url })
    await servers.api.expireSessions()
    assert.equal((await rejection(client.refreshJwtToken())).code, 'E_LOGIN_REQUIRED')
    assert.equal((await rejection(provider.token())).code, 'E_LOGIN_REQUIRED')
    assert.equal((await rejection(provider.tokens())).code, 'E_LOGIN_REQUIRED')
    assert.equal((await rejection(authFetch(servers.mcp.url))).code, 'E_LOGIN_REQUIRED')
    assert.equal(servers.mcp.requests.length, 0)
  })
})

test.describe('createMcpAuthProvider', () => {
  test('tokens() and token() give the current JWT in the shapes the SDKs read', async () => {
    const client = await signedInMcpClient(servers)
    const provider = createMcpAuthProvider(client, { serverUrl: servers.mcp.url })
    const token = client.getStoredJwtToken()
    const tokens = await provider.tokens()
    assert.deepEqual(Object.keys(tokens).sort(), ['access_token', 'expires_in', 'token_type'])
    assert.equal(tokens.access_token, token)
    assert.equal(tokens.token_type, 'Bearer')
    assert.ok(tokens.expires_in > 800 && tokens.expires_in <= 900, `expires_in ${tokens.expires_in}`)
    assert.equal(await provider.token(), token)
    // What makes client 2.x treat a provider as OAuth and go looking for an authorization server.
    assert.equal('clientInformation' in provider, false)

    await client.logout()
    assert.equal(await provider.tokens(), undefined)
    assert.equal(await provider.token(), undefined)
  })

  test('onUnauthorized replaces the token last handed out, once for any number of callers', async () => {
    const client = await signedInMcpClient(servers)
    const provider = createMcpAuthProvider(client, { serverUrl: servers.mcp.url })
    const refused = await provider.token()
    const during = await apiRequestsDuring(servers.api, () =>
      Promise.all(Array.from({ length: 20 }, () => provider.onUnauthorized({ response: new Response(null, { status: 401 }) })))
    )
    assertOneRefresh(during)
    assert.notEqual(await provider.token(), refused)
  })

  test('invalidateCredentials drops the token for "tokens" and "all" only', async () => {
    const client = await signedInMcpClient(servers)
    const provider = createMcpAuthProvider(client, { serverUrl: servers.mcp.url })
    for (const scope of ['client', 'verifier', 'discovery']) {
      const during = await apiRequestsDuring(servers.api, () => provider.invalidateCredentials(scope))
      assert.deepEqual([during.refresh, during.token], [0, 0], scope)
    }
    for (const scope of ['tokens', 'all']) {
      // A client of its own each: the token one invalidation obtains is not replaced by the
      // next within 10 s (docs/SECURITY.md).
      const own = await signedInMcpClient(servers)
      const ownProvider = createMcpAuthProvider(own, { serverUrl: servers.mcp.url })
      const before = own.getStoredJwtToken()
      assertOneRefresh(await apiRequestsDuring(servers.api, () => ownProvider.invalidateCredentials(scope)))
      assert.notEqual(own.getStoredJwtToken(), before, scope)
    }
  })

  test('a refusal of the token a refusal just obtained is passed on: no refresh for 10 s, whatever the wiring says', async () => {
    const client = await signedInMcpClient(servers)
    const provider = createMcpAuthProvider(client, { serverUrl: servers.mcp.url })
    assertOneRefresh(await apiRequestsDuring(servers.api, () => provider.invalidateCredentials('tokens')))
    const replacement = client.getStoredJwtToken()
    const during = await apiRequestsDuring(servers.api, async () => {
      for (let i = 0; i < 50; i++) {
        await provider.onUnauthorized({ response: new Response(null, { status: 401 }) })
        await provider.invalidateCredentials('all')
      }
    })
    assert.deepEqual([during.refresh, during.token], [0, 0])
    assert.equal(client.getStoredJwtToken(), replacement)
  })

  test('signed out, onUnauthorized rejects with E_LOGIN_REQUIRED instead of looking for OAuth', async () => {
    const provider = createMcpAuthProvider(mcpClient(servers), { serverUrl: servers.mcp.url })
    assert.equal((await rejection(provider.onUnauthorized())).code, 'E_LOGIN_REQUIRED')
  })

  test('the native McpAuthProvider says undefined, not null, when signed out', async () => {
    const provider = mcpClient(servers).mcpProvider(servers.mcp.url)
    assert.equal(await provider.tokens(), undefined)
    assert.equal(await provider.token(), undefined)
  })
})
