'use strict'
// The token lifecycle against the reference server's controls: refresh before anyone waits,
// outages with backoff and recovery, the session ending, clock skew, and the event stream.

const test = require('node:test')
const assert = require('node:assert/strict')
const { performance } = require('node:perf_hooks')
const { useReferenceServer, newClient, signedInClient, captureLogs, rejection, sleep, settle } = require('./helpers/client')

const ref = useReferenceServer()
const expOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp

/** Waits until `predicate()` holds, polling; fails after `ms`. */
async function eventually(predicate, ms, what) {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

test('across many refresh cycles no getJwtToken call waits on the network', async () => {
  await ref.server.config({ lifetime: 3 })
  const client = await signedInClient(ref.server)
  // Every refresh answer is slowed down, so a caller that waited on one would be obvious.
  await ref.server.fault({ endpoint: 'refresh', delayMs: 400, count: -1 })
  const slowCalls = []
  const seen = new Set()
  const started = Date.now()
  while (Date.now() - started < 7000) {
    const before = performance.now()
    const token = await client.getJwtToken()
    const waited = performance.now() - before
    if (waited > 200) slowCalls.push(waited)
    assert.ok(expOf(token) * 1000 > Date.now(), 'never an expired token')
    seen.add(token)
    await sleep(10)
  }
  await ref.server.clearFaults()
  assert.ok(seen.size >= 3, `the token was refreshed several times (${seen.size} tokens)`)
  assert.deepEqual(slowCalls, [], 'no call waited for a refresh')
  assert.equal(client.status().state, 'valid')
})

test('an outage: the valid token keeps being served, retries back off and stay capped, then recover by themselves', async () => {
  await ref.server.config({ lifetime: 8 })
  const client = await signedInClient(ref.server, {
    logLevel: 'debug',
    refreshBeforeExpirySeconds: 3.9,
    refreshRetryMinMs: 100,
    refreshRetryMaxMs: 400,
  })
  const records = captureLogs(client)
  const states = []
  client.onStatusChange((status) => states.push(status.state))
  const token = client.getStoredJwtToken()
  await ref.server.fault({ endpoint: 'refresh', status: 503, count: -1 })
  await ref.server.fault({ endpoint: 'token', status: 503, count: -1 })

  await eventually(() => records.filter((r) => r.message.startsWith('next refresh attempt')).length >= 6, 10000, 'six failed attempts')
  assert.equal(client.status().state, 'offline')
  assert.equal(client.status().lastError.code, 'E_SERVER')
  assert.equal(await client.getJwtToken(), token, 'the still-valid token is served during the outage')

  const delays = records.filter((r) => r.message.startsWith('next refresh attempt')).map((r) => Number(r.fields.delayMs))
  const ceilings = delays.map((_, i) => Math.min(400, 100 * 2 ** i))
  delays.forEach((delay, i) => {
    assert.ok(
      delay >= ceilings[i] / 2 - 1 && delay <= ceilings[i],
      `attempt ${i + 1}: ${delay} ms within [${ceilings[i] / 2}, ${ceilings[i]}]`
    )
  })
  assert.ok(Math.max(...delays) <= 400, 'capped')

  await ref.server.clearFaults()
  await eventually(() => client.status().state === 'valid', 5000, 'recovery')
  assert.notEqual(client.getStoredJwtToken(), token)
  await settle()
  assert.ok(states.includes('offline'))
  assert.equal(states.at(-1), 'valid')
  for (let i = 1; i < states.length; i++) assert.notEqual(states[i], states[i - 1], 'no duplicate events')
})

test('a token that expires during an outage fails with the transient code and the session is kept', async () => {
  await ref.server.config({ lifetime: 2 })
  const client = await signedInClient(ref.server, { account: 'outage-expiry', refreshRetryMinMs: 50, refreshRetryMaxMs: 100 })
  await ref.server.fault({ endpoint: 'refresh', status: 500, count: -1 })
  await ref.server.fault({ endpoint: 'token', status: 500, count: -1 })
  await sleep(2300)
  const error = await rejection(client.getJwtToken())
  assert.equal(error.code, 'E_SERVER')
  assert.equal(client.isAuthenticated(), true)
  assert.equal(client.status().state, 'offline')
  const restored = newClient(ref.server, { account: 'outage-expiry' })
  await ref.server.clearFaults()
  assert.equal((await restored.restore()).state, 'valid', 'the stored session survived the outage')
})

test('the API ending the session: one login-required event, memory and storage cleared', async () => {
  const client = await signedInClient(ref.server, { account: 'session-gone' })
  const states = []
  client.onStatusChange((status) => states.push(status.state))
  await ref.server.expireSessions()
  const error = await rejection(client.refreshJwtToken())
  assert.equal(error.code, 'E_LOGIN_REQUIRED')
  await settle()
  assert.deepEqual(states, ['refreshing', 'login-required'])
  assert.equal(client.getStoredJwtToken(), null)
  assert.equal((await newClient(ref.server, { account: 'session-gone' }).restore()).state, 'signed-out')
  assert.equal((await rejection(client.getJwtToken())).code, 'E_LOGIN_REQUIRED')
})

test('a server clock an hour ahead: tokens still verify and status reports the skew', async () => {
  await ref.server.config({ clockOffset: 3600 })
  const client = newClient(ref.server)
  const status = await client.login(ref.server.user)
  assert.equal(status.state, 'valid')
  assert.ok(Math.abs(status.clockSkewMs - 3_600_000) < 5000, `skew ${status.clockSkewMs}`)
  assert.ok(Math.abs(status.expiresAt - (Date.now() + 900_000)) < 10_000, "expiresAt is on this machine's clock")
  assert.equal(client.isJwtTokenValid(), true)
  assert.equal(newClient(ref.server).status().clockSkewMs, null)
})

test('a token expiring while nobody calls is replaced by itself; notifyResume may be called any time', async () => {
  await ref.server.config({ lifetime: 2 })
  const client = await signedInClient(ref.server, { refreshBeforeExpirySeconds: 0 })
  const first = client.getStoredJwtToken()
  await sleep(2100)
  client.notifyResume()
  await eventually(() => client.getStoredJwtToken() !== first, 3000, 'a refresh after resume')
  assert.equal(client.status().state, 'valid')
})

test('logs at trace level across login, refresh, 401 and logout hold no token, cookie or password', async () => {
  // Forced refreshes unspaced: each of the three reaches the API.
  const client = newClient(ref.server, { logLevel: 'trace', refreshRetryMinMs: 1, refreshRetryMaxMs: 1 })
  const records = captureLogs(client)
  await client.login(ref.server.user)
  await client.refreshJwtToken()
  await ref.server.fault({ endpoint: 'refresh', status: 401 })
  await client.refreshJwtToken()
  await ref.server.expireSessions()
  await rejection(client.refreshJwtToken())
  await client.logout()
  await settle()
  const text = JSON.stringify(records)
  assert.ok(records.length >= 6)
  assert.equal(text.includes(ref.server.user.password), false)
  // JWTs and Flask session cookies are both base64url JSON, which starts "eyJ".
  assert.equal(/eyJ|session=/.test(text), false)
})

test('offline after a failed forced refresh comes back to valid by itself once the API answers, one event per change', async () => {
  const client = await signedInClient(ref.server, { refreshRetryMinMs: 200, refreshRetryMaxMs: 1000 })
  const states = []
  client.onStatusChange((status) => states.push(status.state))
  await ref.server.fault({ endpoint: 'refresh', status: 503, count: -1 })
  await ref.server.fault({ endpoint: 'token', status: 503, count: -1 })
  assert.equal((await rejection(client.refreshJwtToken())).code, 'E_SERVER')
  assert.equal(client.status().state, 'offline')
  const before = await ref.server.counters()
  // The token is fresh for 15 minutes, yet the failed refresh is retried in backoff.
  await sleep(2500)
  const retried = (await ref.server.counters()).refresh - before.refresh
  assert.ok(retried >= 2, `${retried} retries in 2.5 s`)
  assert.equal(client.status().state, 'offline')
  await ref.server.clearFaults()
  // The next retry comes within refreshRetryMaxMs (1 s here), with no caller asking.
  await eventually(() => client.status().state === 'valid', 2500, 'the state to return to valid')
  const offlineAt = states.indexOf('offline')
  assert.deepEqual(states.slice(offlineAt), ['offline', 'valid'], `one event per real change: ${states.join(' → ')}`)
})
