'use strict'
// storage: 'memory' across worker threads: four AuthClients of the same service, account
// and API origin, one per worker, sign in at once and each gets its token, 20 rounds. The
// memory store is one record per (service, account, origin) in the process, shared as the
// credential store would be (docs/STORAGE.md): what one client saves another can restore,
// and no client's sign-in, refresh or sign-out changes another client's session.

const { isMainThread, parentPort, workerData, Worker } = require('node:worker_threads')

if (!isMainThread) {
  const { AuthClient } = require('..')
  const client = new AuthClient({ baseUrl: workerData.baseUrl, storage: 'memory', account: 'shared-by-workers' })
  client
    .login(workerData.credentials)
    .then(() => client.getJwtToken())
    .then(
      (token) => parentPort.postMessage({ ok: client.isJwtTokenValid(token), state: client.status().state }),
      (error) => parentPort.postMessage({ ok: false, code: error.code, message: error.message })
    )
} else {
  const test = require('node:test')
  const assert = require('node:assert/strict')
  const { AuthClient } = require('..')
  const { useReferenceServer } = require('./helpers/client')
  const ref = useReferenceServer()

  const runWorker = () =>
    new Promise((resolve, reject) => {
      const worker = new Worker(__filename, { workerData: { baseUrl: ref.server.url, credentials: ref.server.user } })
      worker.once('error', reject)
      worker.once('message', (outcome) => worker.terminate().then(() => resolve(outcome)))
    })

  test('four workers sharing one memory record each sign in and get a token, 20 rounds', { timeout: 120_000 }, async () => {
    for (let round = 0; round < 20; round++) {
      const outcomes = await Promise.all(Array.from({ length: 4 }, runWorker))
      assert.deepEqual(
        outcomes,
        Array.from({ length: 4 }, () => ({ ok: true, state: 'valid' })),
        `round ${round}`
      )
    }
    // What the last of them saved is there for a client of this thread to restore.
    const restored = new AuthClient({ baseUrl: ref.server.url, storage: 'memory', account: 'shared-by-workers' })
    assert.equal((await restored.restore()).state, 'valid')
    await restored.logout()
  })
}
