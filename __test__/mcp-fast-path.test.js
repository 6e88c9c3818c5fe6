'use strict'
// The cached per-request path of symbiote-auth/mcp (docs/PERFORMANCE.md): one resolved
// promise per token generation, the generation probe, stale-while-revalidate, and the async
// path shared by callers that arrive together. Behaviour only; no timing is asserted.

const test = require('node:test')
const assert = require('node:assert/strict')
const v8 = require('node:v8')
const vm = require('node:vm')
const { createMcpAuthProvider, createAuthFetch } = require('../mcp')
const { useReferenceServer, newClient, signedInClient, rejection, sleep } = require('./helpers/client')

const ref = useReferenceServer()
const mcpUrl = () => `${ref.server.url}/mcp`

async function tokenRequests(during) {
  const before = await ref.server.counters()
  const result = await during()
  const after = await ref.server.counters()
  return { result, requests: after.refresh + after.token - before.refresh - before.token }
}

function expOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).exp
}

test('a valid token is answered from one resolved promise per generation, with a frozen object', async () => {
  const client = await signedInClient(ref.server)
  const provider = createMcpAuthProvider(client, { serverUrl: mcpUrl() })
  const first = provider.tokens()
  assert.equal(provider.tokens(), first, 'the same promise while the token is the same')
  assert.equal(provider.token(), provider.token())
  const tokens = await first
  assert.equal(tokens.access_token, client.getStoredJwtToken())
  assert.ok(Object.isFrozen(tokens))
  assert.throws(() => {
    tokens.access_token = 'x'
  }, TypeError)
  assert.deepEqual(JSON.parse(JSON.stringify(tokens)), {
    access_token: client.getStoredJwtToken(),
    token_type: 'Bearer',
    expires_in: tokens.expires_in,
  })
})

test("expires_in counts down from the token's expiry at every read", async () => {
  const client = await signedInClient(ref.server)
  const tokens = await createMcpAuthProvider(client, { serverUrl: mcpUrl() }).tokens()
  const expected = () => Math.ceil(expOf(tokens.access_token) - Date.now() / 1000)
  assert.ok(Math.abs(tokens.expires_in - expected()) <= 1)
  const before = tokens.expires_in
  await sleep(1100)
  assert.ok(tokens.expires_in < before, `${tokens.expires_in} after ${before}`)
  assert.ok(Math.abs(tokens.expires_in - expected()) <= 1)
})

test('a new token is a new generation; signing out empties the cache at once', async () => {
  const client = await signedInClient(ref.server)
  const native = client.mcpProvider(mcpUrl())
  const probe = native.generationProbe()
  const provider = createMcpAuthProvider(client, { serverUrl: mcpUrl() })
  const generation = probe()
  assert.ok(Number.isInteger(generation) && generation > 0)
  assert.equal(native.tokenSnapshot().generation, generation)
  const old = await provider.token()

  const replaced = await client.refreshJwtToken()
  assert.notEqual(replaced, old)
  assert.ok(probe() > generation)
  assert.equal(await provider.token(), replaced)
  assert.equal((await provider.tokens()).access_token, replaced)

  await client.logout()
  assert.equal(probe(), 0)
  assert.equal(native.tokenSnapshot(), undefined)
  assert.equal(await provider.tokens(), undefined)
  assert.equal(await provider.token(), undefined)
})

test('the probe outlives its provider object and keeps answering for the same client', async () => {
  const client = await signedInClient(ref.server)
  let provider = client.mcpProvider(mcpUrl())
  const probe = provider.generationProbe()
  const collected = new WeakRef(provider)
  provider = null
  // Collect the provider for real: npm test passes no --expose-gc, so gc is taken from V8.
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  // A WeakRef keeps its target alive until the current job ends.
  for (let round = 0; round < 10 && collected.deref() !== undefined; round += 1) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  assert.equal(collected.deref(), undefined, 'the provider object was collected')
  assert.ok(probe() > 0)
  await client.logout()
  assert.equal(probe(), 0)
})

test('inside the refresh window the current token is served while one background refresh runs', async () => {
  await ref.server.config({ lifetime: 4 })
  const client = await signedInClient(ref.server, { refreshBeforeExpirySeconds: 2 })
  await ref.server.fault({ endpoint: 'refresh', delayMs: 500 })
  const provider = createMcpAuthProvider(client, { serverUrl: mcpUrl() })
  const current = await provider.token()
  const { result, requests } = await tokenRequests(async () => {
    // The scheduler and every caller meet in the window; the refresh is held 500 ms.
    while (Date.now() < (expOf(current) - 2) * 1000 + 50) await sleep(20)
    const served = await Promise.all(Array.from({ length: 200 }, () => provider.token()))
    while (client.getStoredJwtToken() === current) await sleep(20)
    return { served }
  })
  assert.deepEqual(new Set(result.served), new Set([current]), 'the stale token, without waiting')
  assert.equal(requests, 1, 'one refresh for the scheduler and 200 callers')
  assert.notEqual(await provider.token(), current)
})

test('callers arriving together on an expired token share one native call and one refresh', async () => {
  // The refresh that starts as the 1 s token nears expiry is held at the server, so the
  // callers meet an expired token with that one refresh in flight.
  await ref.server.config({ lifetime: 1 })
  await ref.server.fault({ endpoint: 'refresh', hang: true, count: -1 })
  const client = await signedInClient(ref.server)
  await ref.server.config({ lifetime: 900 })
  await sleep(1300)
  assert.ok(expOf(client.getStoredJwtToken()) * 1000 <= Date.now(), 'the token has expired')
  const provider = createMcpAuthProvider(client, { serverUrl: mcpUrl() })
  const authFetch = createAuthFetch(client, { serverUrl: mcpUrl() })
  const { result, requests } = await tokenRequests(async () => {
    const callers = Promise.all([
      ...Array.from({ length: 300 }, () => provider.token()),
      ...Array.from({ length: 300 }, () => provider.tokens().then((t) => t.access_token)),
    ])
    await sleep(100)
    await ref.server.clearFaults()
    return callers
  })
  assert.equal(requests, 0, 'the callers caused no request of their own')
  const counters = await ref.server.counters()
  assert.deepEqual([counters.token, counters.refresh], [1, 1], 'the login and one refresh in all')
  assert.deepEqual([...new Set(result)], [client.getStoredJwtToken()])
  assert.ok(expOf(result[0]) * 1000 > Date.now())
  // createAuthFetch's token comes from the same cache.
  const response = await authFetch(`${ref.server.url}/api/user/status`)
  assert.equal(response.status, 200)
})

test('a session the API ended is an error on the shared async path too, not undefined', async () => {
  const client = await signedInClient(ref.server)
  await ref.server.expireSessions()
  assert.equal((await rejection(client.refreshJwtToken())).code, 'E_LOGIN_REQUIRED')
  const provider = createMcpAuthProvider(client, { serverUrl: mcpUrl() })
  const errors = await Promise.all(Array.from({ length: 10 }, () => rejection(provider.tokens())))
  assert.deepEqual(new Set(errors.map((e) => e.code)), new Set(['E_LOGIN_REQUIRED']))
  assert.equal((await rejection(provider.token())).code, 'E_LOGIN_REQUIRED')
})

test('signed out from the start: undefined, and nothing is cached', async () => {
  const client = newClient(ref.server)
  const provider = createMcpAuthProvider(client, { serverUrl: mcpUrl() })
  assert.equal(await provider.tokens(), undefined)
  assert.equal(await provider.token(), undefined)
  await client.login({ email: ref.server.user.email, password: ref.server.user.password })
  assert.equal(await provider.token(), client.getStoredJwtToken())
})
