'use strict'
// The client against real Flask-Security-Too (the reference server's sign-in, sessions and
// Flask-WTF CSRF, configured as the host's backend is), with CSRF on from the start.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const {
  useReferenceServer,
  newClient,
  rejection,
  sleep,
  stormOnExpiredToken,
  FLASK_SECURITY,
  signedInToFlaskSecurity,
} = require('./helpers/client')

const ref = useReferenceServer({ csrf: true })
const signedIn = (options) => signedInToFlaskSecurity(ref.server, options)

function assertNoSecrets(logs, ...secrets) {
  const text = JSON.stringify(logs)
  for (const secret of secrets) assert.equal(text.includes(secret), false, 'a secret reached the log')
}

test('signs in through Flask-Security with a CSRF token, and takes the user from its answer', async () => {
  const { client, logs, status } = await signedIn()
  assert.equal(status.state, 'valid')
  assert.deepEqual(status.user, { id: '1', email: 'demo@example.com', displayName: 'Demo User', roles: ['user'] })
  const counters = await ref.server.counters()
  assert.deepEqual([counters.csrf, counters.login, counters.status, counters.token], [1, 1, 0, 1])
  assertNoSecrets(logs, client.getStoredJwtToken(), ref.server.user.password)
})

test('a wrong password is E_INVALID_CREDENTIALS', async () => {
  const client = newClient(ref.server, FLASK_SECURITY)
  const error = await rejection(client.login({ email: ref.server.user.email, password: 'wrong-password' }))
  assert.equal(error.code, 'E_INVALID_CREDENTIALS')
  assert.equal(client.status().state, 'signed-out')
})

test('without paths.csrf it is E_CSRF, and the message names the fix', async () => {
  const client = newClient(ref.server)
  const error = await rejection(client.login(ref.server.user))
  assert.equal(error.code, 'E_CSRF')
  assert.match(error.message, /set paths\.csrf .*"\/api\/login" for Flask-Security/)
})

test('after the CSRF token expires, a refresh fetches one new token and succeeds', async () => {
  // Flask-WTF counts whole seconds: a token is refused once its age, rounded down, exceeds the limit.
  await ref.server.config({ csrfTimeLimit: 1 })
  const { client, logs } = await signedIn()
  const first = client.getStoredJwtToken()
  const before = await ref.server.counters()
  await sleep(2200)
  const second = await client.refreshJwtToken()
  assert.notEqual(second, first)
  assert.equal(client.isJwtTokenValid(second), true)
  const after = await ref.server.counters()
  assert.equal(after.csrf - before.csrf, 1, 'exactly one extra CSRF fetch')
  assert.equal(after.refresh - before.refresh, 2, 'the refused request and its one retry')
  assert.equal(after.login, before.login, 'no password needed')
  assertNoSecrets(logs, first, second)
})

test('a CSRF token refused even when fresh is E_CSRF after one retry, never a loop', async () => {
  const { client } = await signedIn()
  const token = client.getStoredJwtToken()
  const refusal = { status: 400, body: { meta: { code: 400 }, response: { errors: ['The CSRF token is missing.'] } } }
  await ref.server.fault({ endpoint: 'refresh', ...refusal, count: -1 })
  await ref.server.fault({ endpoint: 'token', ...refusal, count: -1 })
  const before = await ref.server.counters()
  const error = await rejection(client.refreshJwtToken())
  assert.equal(error.code, 'E_CSRF')
  const after = await ref.server.counters()
  // The refresh endpoint, then its fallback (the token endpoint): each retried once with a fresh token.
  assert.equal(after.csrf - before.csrf, 2, 'one fresh token per endpoint, no more')
  assert.equal(after.refresh - before.refresh, 2)
  assert.equal(after.token - before.token, 2)
  assert.equal(client.getStoredJwtToken(), token, 'the still-valid token is kept')
})

test("logout is answered by Flask-Security's own view and ends the server session", async () => {
  const { client, logs } = await signedIn()
  assert.equal((await ref.server.state()).live_sessions, 1)
  await client.logout()
  assert.equal((await ref.server.counters()).logout, 1)
  assert.equal((await ref.server.state()).live_sessions, 0, 'the session ended at the server')
  assert.deepEqual(
    logs.filter((record) => record.level === 'warn'),
    [],
    'no warning: the logout request was accepted'
  )
})

test('signing in again while signed in starts a new session and ends the one it replaces (Flask-Security refuses a login from a signed-in one)', async () => {
  const { client } = await signedIn()
  const again = await client.login(ref.server.users.admin)
  assert.equal(again.user.email, 'admin@example.com')
  assert.equal((await ref.server.state()).live_sessions, 1, "the demo user's session ended at the server")
  assert.equal((await rejection(client.login({ email: 'demo@example.com', password: 'nope' }))).code, 'E_INVALID_CREDENTIALS')
  assert.equal(client.status().user.email, 'admin@example.com', 'a failed login keeps the session there was')
  assert.notEqual(await client.refreshJwtToken(), null, 'and that session still works')
  assert.equal((await ref.server.state()).live_sessions, 1)
  await client.logout()
  assert.equal((await ref.server.state()).live_sessions, 0, 'no session is left live at the server')
})

test('50 concurrent callers on an expired JWT cause one token request', async () => {
  const signIn = async () => (await signedIn()).client
  const { tokens, stale, stateDuringStorm } = await stormOnExpiredToken(ref.server, signIn, 50)
  assert.equal(stateDuringStorm, 'refreshing')
  assert.equal(new Set(tokens).size, 1)
  assert.notEqual(tokens[0], stale)
  const counters = await ref.server.counters()
  assert.deepEqual([counters.refresh, counters.token], [1, 1], 'one refresh for all 50 (the token request is the login)')
})
