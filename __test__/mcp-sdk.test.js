'use strict'
// symbiote-auth/mcp with the real MCP SDKs: @modelcontextprotocol/sdk 1.x and
// @modelcontextprotocol/client 2.x clients, over Streamable HTTP and SSE, against a real
// SDK server behind requireBearerAuth that verifies the JWT with the reference API's JWKS.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

// Every SDK line a host may pin, each the real package (npm aliases in devDependencies).
function sdk1(pkg) {
  return {
    // Their exports map package.json elsewhere: read it where npm put it.
    version: JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'node_modules', pkg, 'package.json'), 'utf8')).version,
    Client: require(`${pkg}/client/index.js`).Client,
    StreamableHTTPClientTransport: require(`${pkg}/client/streamableHttp.js`).StreamableHTTPClientTransport,
    SSEClientTransport: require(`${pkg}/client/sse.js`).SSEClientTransport,
  }
}
const sdk1_11 = sdk1('mcp-sdk-1.11.4')
const sdk1_15 = sdk1('mcp-sdk-1.15.0')
const sdk1Latest = sdk1('@modelcontextprotocol/sdk')
const sdk2 = require('@modelcontextprotocol/client')
const { createAuthFetch, createMcpAuthProvider, createAuthTransport, FETCH_OPTION_SINCE } = require('../mcp')
const { rejection, sleep } = require('./helpers/client')
const {
  useMcpServers,
  mcpClient,
  signedInMcpClient,
  bearerOf,
  apiRequestsDuring,
  assertOneRefresh,
  waitFor,
  oauthDetours,
} = require('./helpers/mcp-server')

const servers = useMcpServers()
const DEMO = { sub: '1', email: 'demo@example.com' }

// The documented wiring of each line (docs/MCP.md): createAuthTransport for all of them;
// createAuthFetch (the fetch option) from SDK 1.15.0; createMcpAuthProvider on 2.x.
const variants = []
for (const [line, sdk, wirings] of [
  ['sdk 1.11.4', sdk1_11, ['transport']],
  ['sdk 1.15.0', sdk1_15, ['fetch', 'transport']],
  [`sdk ${sdk1Latest.version}`, sdk1Latest, ['fetch', 'transport']],
  ['client 2.x', sdk2, ['authProvider', 'fetch', 'transport']],
]) {
  for (const transport of ['StreamableHTTPClientTransport', 'SSEClientTransport']) {
    for (const wiring of wirings) variants.push({ name: `${line} ${transport} + ${wiring}`, sdk, transport, wiring })
  }
}

for (const variant of variants) {
  const streamable = variant.transport === 'StreamableHTTPClientTransport'
  const endpointPath = streamable ? '/mcp' : '/sse'

  const Transport = variant.sdk[variant.transport]
  const newTransport = (authClient, url, options) => {
    switch (variant.wiring) {
      case 'transport':
        return createAuthTransport(authClient, Transport, url, options)
      case 'fetch':
        return new Transport(new URL(url), {
          fetch: createAuthFetch(authClient, { serverUrl: url, sdkVersion: variant.sdk.version }),
          ...options,
        })
      default:
        return new Transport(new URL(url), { authProvider: createMcpAuthProvider(authClient, { serverUrl: url }), ...options })
    }
  }

  /**
   * An MCP client of this variant, closed after the test; `url` defaults to the MCP server.
   * Streamable HTTP clients open their GET stream after connect() resolves; waiting for it
   * keeps its requests out of what a test counts afterwards.
   */
  const connect = async (t, authClient, { url = servers.mcp.origin + endpointPath, options } = {}) => {
    const transport = newTransport(authClient, url, options)
    const client = new variant.sdk.Client({ name: 'mcp-sdk.test', version: '1.0.0' })
    t.after(() => client.close())
    await client.connect(transport)
    if (streamable) await waitFor(() => servers.mcp.requests.some((r) => r.method === 'GET'), { what: 'the GET stream' })
    return { client, transport }
  }

  const whoami = async (client) => {
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    return JSON.parse(result.content[0].text)
  }

  test.describe(variant.name, () => {
    test('a tool call carries the JWT, and the server verified who the user is', async (t) => {
      const authClient = await signedInMcpClient(servers)
      const { client, transport } = await connect(t, authClient)
      assert.deepEqual(await whoami(client), DEMO)
      // The standalone GET stream and the DELETE that ends the session carry it too.
      if (streamable) await transport.terminateSession()
      const token = authClient.getStoredJwtToken()
      const seen = servers.mcp.requests.map((r) => `${r.method} ${r.path}`)
      for (const expected of streamable ? ['POST /mcp', 'GET /mcp', 'DELETE /mcp'] : ['GET /sse', 'POST /messages']) {
        assert.ok(seen.includes(expected), `${expected} in ${seen}`)
      }
      assert.deepEqual(servers.mcp.requests.map(bearerOf), Array(servers.mcp.requests.length).fill(token))
    })

    if (variant.wiring === 'transport') {
      test("the caller's requestInit headers go with every request, the streams included", async (t) => {
        const authClient = await signedInMcpClient(servers)
        const { transport } = await connect(t, authClient, { options: { requestInit: { headers: { 'x-app': 'desktop' } } } })
        if (streamable) await transport.terminateSession()
        const missing = servers.mcp.requests.filter((r) => r.app !== 'desktop').map((r) => `${r.method} ${r.path}`)
        assert.deepEqual(missing, [])
        assert.deepEqual(servers.mcp.requests.map(bearerOf), Array(servers.mcp.requests.length).fill(authClient.getStoredJwtToken()))
      })
    }

    const refusals = {
      'the API rotated its key without keeping the old one': () => servers.api.rotate({ keepOld: false }),
      'the MCP server revoked the token': (token) => servers.mcp.revoke(JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).jti),
    }
    for (const [cause, refuse] of Object.entries(refusals)) {
      test(`${cause}: 401, one refresh, the retried call succeeds`, async (t) => {
        const authClient = await signedInMcpClient(servers)
        const { client } = await connect(t, authClient)
        const refused = authClient.getStoredJwtToken()
        await refuse(refused)
        const mark = servers.mcp.requests.length

        const during = await apiRequestsDuring(servers.api, () => whoami(client))
        assert.deepEqual(during.result, DEMO)
        assertOneRefresh(during)
        const replacement = authClient.getStoredJwtToken()
        assert.notEqual(replacement, refused)
        const sent = servers.mcp.requests.slice(mark).map(bearerOf)
        assert.deepEqual([sent[0], sent.at(-1)], [refused, replacement], 'refused first, then retried with the new token')
        assert.deepEqual(oauthDetours(servers.mcp.requests), [])
      })
    }

    test('50 concurrent tool calls on an expired token cause one refresh', async (t) => {
      await servers.api.config({ lifetime: 2 })
      // Whoever refreshes first (the client's own scheduler or a tool call) waits here
      // until released, so the token surely expires before its replacement exists.
      await servers.api.fault({ endpoint: 'refresh', hang: true })
      const before = await servers.api.counters()
      const authClient = await signedInMcpClient(servers, { requestTimeoutMs: 60_000 })
      const { client } = await connect(t, authClient)
      const expired = authClient.getStoredJwtToken()
      await servers.api.config({ lifetime: 900 })
      await waitFor(() => Date.now() > authClient.status().expiresAt, { what: 'the token to expire' })
      const mark = servers.mcp.requests.length

      const calls = Promise.all(Array.from({ length: 50 }, () => whoami(client)))
      await sleep(200) // lets the calls queue up behind the held refresh; correctness does not depend on it
      await servers.api.clearFaults()
      assert.deepEqual(await calls, Array(50).fill(DEMO))

      const after = await servers.api.counters()
      assert.equal(after.refresh - before.refresh, 1, 'one refresh')
      assert.equal(after.token - before.token, 1, "the login's token request and no other")
      const sent = new Set(servers.mcp.requests.slice(mark).map(bearerOf))
      assert.deepEqual([...sent], [authClient.getStoredJwtToken()], 'every call went out with the one new token')
      assert.equal(sent.has(expired), false)
    })

    if (streamable) {
      test('a server alternating 401 and an empty `retry: 0` event stream on its GET gets ≤ 10 refreshes in 2 s', async (t) => {
        const authClient = await signedInMcpClient(servers)
        servers.mcp.setHostileStream(true)
        const during = await apiRequestsDuring(servers.api, async () => {
          const mark = servers.mcp.requests.length
          const { client } = await connect(t, authClient)
          await sleep(2000)
          servers.mcp.setHostileStream(false)
          await client.close()
          return servers.mcp.requests.slice(mark).filter((r) => r.method === 'GET').length
        })
        // Lines that give up on a GET stream refused with 401 meet it once; the others loop.
        assert.ok(during.result >= 1, 'the hostile stream was met')
        const refreshes = during.refresh + during.token
        t.diagnostic(`${refreshes} token requests at the API, ${during.result} GETs, in 2 s`)
        assert.ok(refreshes <= 10, `${refreshes} token requests at the API in 2 s`)
      })
    }

    test('signed out: the SDK surfaces E_LOGIN_REQUIRED, and nobody looks for OAuth', async (t) => {
      const error = await rejection(connect(t, mcpClient(servers)))
      if (variant.wiring !== 'authProvider' && !streamable) {
        // Both lines' SSE transports turn a fetch error into text (docs/MCP.md): ours is in the
        // message, after the SDK's own prefix on 2.x ("SSE error: "), and the code is not ours.
        assert.match(error.message, /(^|: )E_LOGIN_REQUIRED: not signed in/)
        assert.notEqual(error.code, 'E_LOGIN_REQUIRED')
      } else {
        assert.equal(error.code, 'E_LOGIN_REQUIRED', `${error.name}: ${error.message}`)
      }
      assert.deepEqual(oauthDetours(servers.mcp.requests), [])
      assert.equal(servers.mcp.requests.filter((r) => r.authorization).length, 0)
    })

    test('a redirect to another origin never carries the token', async (t) => {
      const authClient = await signedInMcpClient(servers)
      const url = `${servers.mcp.origin}/redirect?to=${encodeURIComponent(servers.other.origin + endpointPath)}`
      for (const redirectPolicy of ['follow', undefined]) {
        await rejection(connect(t, authClient, { url, options: { redirectPolicy } }))
      }
      assert.ok(servers.mcp.requests.every((r) => bearerOf(r) === authClient.getStoredJwtToken()))
      if (variant.wiring !== 'authProvider') assert.ok(servers.other.requests.length > 0, 'the redirect was followed')
      assert.deepEqual(
        servers.other.requests.filter((r) => r.authorization),
        []
      )
    })

    if (variant.wiring === 'transport') {
      test('a transport for an origin that is not trusted (localhost) is refused before anything is sent', async () => {
        const authClient = await signedInMcpClient(servers)
        const untrusted = `http://localhost:${new URL(servers.mcp.origin).port}${endpointPath}`
        assert.throws(() => newTransport(authClient, untrusted), { code: 'E_UNTRUSTED_ORIGIN' })
        assert.deepEqual(servers.mcp.requests, [])
      })
    }

    if (variant.wiring === 'fetch') {
      test('the same server under an origin that is not trusted (localhost) gets no token', async (t) => {
        const authClient = await signedInMcpClient(servers)
        const transport = new Transport(new URL(`http://localhost:${new URL(servers.mcp.origin).port}${endpointPath}`), {
          fetch: createAuthFetch(authClient, { serverUrl: servers.mcp.origin + endpointPath }),
        })
        const client = new variant.sdk.Client({ name: 'mcp-sdk.test', version: '1.0.0' })
        t.after(() => client.close())
        await rejection(client.connect(transport))
        assert.ok(servers.mcp.requests.length > 0)
        assert.deepEqual(
          servers.mcp.requests.filter((r) => r.authorization),
          []
        )
      })
    }
  })
}

test.describe('sdk 1.11.4 ignores the fetch option', () => {
  test('so createAuthFetch refuses it with E_CONFIG naming 1.15.0; past the check, 0 requests would carry the token', async (t) => {
    const authClient = await signedInMcpClient(servers)
    const serverUrl = `${servers.mcp.origin}/mcp`
    assert.throws(
      () => createAuthFetch(authClient, { serverUrl, sdkVersion: sdk1_11.version }),
      (error) => error.code === 'E_CONFIG' && /^E_CONFIG: .*1\.11\.4 ignores .*1\.15\.0/.test(error.message)
    )
    // The wiring the check prevents: the transport drops the fetch and sends without it.
    const fetch = createAuthFetch(authClient, { serverUrl, sdkVersion: FETCH_OPTION_SINCE })
    const client = new sdk1_11.Client({ name: 'mcp-sdk.test', version: '1.0.0' })
    t.after(() => client.close())
    await rejection(client.connect(new sdk1_11.StreamableHTTPClientTransport(new URL(serverUrl), { fetch })))
    assert.ok(servers.mcp.requests.length > 0)
    assert.equal(servers.mcp.requests.filter((r) => r.authorization).length, 0)
  })

  test('the check reads the version of the @modelcontextprotocol/sdk the process resolves', () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-sdk-'))
    try {
      const ours = path.join(project, 'node_modules', 'symbiote-auth')
      fs.mkdirSync(ours, { recursive: true })
      for (const file of ['mcp.js', 'errors.js']) fs.copyFileSync(path.join(__dirname, '..', file), path.join(ours, file))
      fs.cpSync(path.join(__dirname, '..', 'mcp'), path.join(ours, 'mcp'), { recursive: true })
      fs.writeFileSync(path.join(ours, 'package.json'), JSON.stringify({ name: 'symbiote-auth', exports: { './mcp': './mcp.js' } }))
      const scope = path.join(project, 'node_modules', '@modelcontextprotocol')
      fs.mkdirSync(scope)
      fs.symlinkSync(fs.realpathSync(path.join(__dirname, '..', 'node_modules', 'mcp-sdk-1.11.4')), path.join(scope, 'sdk'), 'dir')
      const probe = `try { require('symbiote-auth/mcp').createAuthFetch({}, { serverUrl: 'https://mcp.example.com' }) } catch (e) { process.stdout.write(e.code) }`
      assert.equal(execFileSync(process.execPath, ['-e', probe], { cwd: project, encoding: 'utf8' }), 'E_CONFIG')
    } finally {
      fs.rmSync(project, { recursive: true, force: true })
    }
  })
})
