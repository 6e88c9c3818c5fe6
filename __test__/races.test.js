'use strict'
// Session changes that overlap: every change of session state and of storage takes one
// ordered path, so a save begun before logout() never lands after it, and a slow logout()
// never wipes a login that completed meanwhile. (The same races run deterministically in
// Rust: src/session/tests.)

const test = require('node:test')
const assert = require('node:assert/strict')
const { useReferenceServer, newClient, signedInClient, sleep } = require('./helpers/client')

const ref = useReferenceServer()

/** A JS backend whose writes land `saveDelayMs` after `save()` is called, as a slow disk would. */
function slowBackend(saveDelayMs) {
  const backend = {
    record: null,
    saveCalls: 0,
    load: () => backend.record,
    save: async (record) => {
      backend.saveCalls += 1
      await sleep(saveDelayMs)
      backend.record = record
    },
    clear: () => {
      backend.record = null
    },
  }
  return backend
}

test('a save begun before logout() never lands after it: restore() finds no session', async () => {
  const backend = slowBackend(300)
  const options = { storage: backend, account: 'race-save-logout' }
  const client = await signedInClient(ref.server, options)
  assert.notEqual(backend.record, null)
  const savesBefore = backend.saveCalls
  const refreshed = client.refreshJwtToken().catch((error) => error)
  // Wait until the refreshed session is being written, then sign out during the write.
  while (backend.saveCalls === savesBefore) await sleep(5)
  await client.logout()
  await refreshed
  await sleep(400)
  assert.equal(backend.record, null, 'the store holds no session after logout')
  const next = newClient(ref.server, options)
  assert.equal((await next.restore()).state, 'signed-out')
})

test('a slow logout() never wipes a login that completed while it waited on the API', async () => {
  const backend = slowBackend(0)
  const options = { storage: backend, account: 'race-logout-login' }
  const client = await signedInClient(ref.server, options)
  await ref.server.fault({ endpoint: 'logout', delayMs: 600 })
  const loggingOut = client.logout()
  await sleep(50)
  const status = await client.login({ email: ref.server.user.email, password: ref.server.user.password })
  await loggingOut
  assert.equal(status.state, 'valid')
  assert.equal(client.status().state, 'valid', 'the newer login is still signed in')
  assert.notEqual(backend.record, null, 'the newer login is still stored')
  const token = await client.getJwtToken()
  assert.ok(client.isJwtTokenValid(token))
  // The session cookie of the newer login still works at the API: a forced refresh succeeds.
  assert.ok(await client.refreshJwtToken())
  const restored = newClient(ref.server, options)
  assert.equal((await restored.restore()).state, 'valid', 'the next run restores the newer login')
})

test('logout() called during login() wins: the login is abandoned and nothing is stored', async () => {
  const backend = slowBackend(0)
  const client = newClient(ref.server, { storage: backend })
  await ref.server.fault({ endpoint: 'token', delayMs: 300 })
  const loggingIn = client.login({ email: ref.server.user.email, password: ref.server.user.password }).then(
    (status) => status,
    (error) => error
  )
  await sleep(100)
  await client.logout()
  const outcome = await loggingIn
  assert.equal(outcome.code, 'E_LOGIN_REQUIRED', 'the abandoned login rejects')
  assert.equal(client.status().state, 'signed-out')
  assert.equal(client.getStoredJwtToken(), null)
  assert.equal(backend.record, null)
})
