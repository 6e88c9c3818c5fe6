'use strict'
// The addon in several JS contexts at once, as Electron renderers and workers load it:
// four worker_threads sign in to the reference server together, two are terminated while
// a login is held up by the server, the main thread keeps working, and the process exits
// on its own with code 0.
//
// This file plays three parts, chosen by how it is loaded:
// - under `node --test`: the test, which starts the reference server and runs the
//   scenario in a child process (a native crash must fail the test, not kill the runner);
// - with SCENARIO_FLAG: that child, which drives the workers;
// - as a worker thread: one signed-in context.

const { isMainThread, parentPort, workerData, Worker } = require('node:worker_threads')
const path = require('node:path')

const SCENARIO_FLAG = '--workers-scenario'
const WORKER_COUNT = 4
const TERMINATED = [2, 3]
const HELD_LOGIN_MS = 2000
const SCENARIO_OK = 'workers scenario: ok'

if (!isMainThread) {
  runWorker(workerData)
} else if (process.argv.includes(SCENARIO_FLAG)) {
  runScenario(process.argv[process.argv.indexOf(SCENARIO_FLAG) + 1]).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
} else {
  defineTest()
}

// ----- worker thread ---------------------------------------------------------------------

// Signs in, then answers commands; status and log callbacks stay registered throughout, so
// termination meets live thread-safe functions as well as promises in flight.
function runWorker({ baseUrl, account, credentials }) {
  const { AuthClient } = require('..')
  const client = new AuthClient({ baseUrl, storage: 'memory', account, logLevel: 'debug' })
  const states = []
  client.onStatusChange((status) => states.push(status.state))
  client.onLog(() => {})
  const report = (message) => parentPort.postMessage(message)
  const fail = (error) => report({ type: 'error', code: error.code, message: error.message })

  const commands = {
    // A second login that the server holds up; the worker is terminated meanwhile.
    login: () => {
      report({ type: 'login-started' })
      client.login(credentials).then(() => report({ type: 'login-finished' }), fail)
    },
    // Refresh, sign out, and let the thread end by itself.
    finish: async () => {
      await client.refreshJwtToken()
      await client.logout()
      report({ type: 'finished', states })
      parentPort.close()
    },
  }
  parentPort.on('message', (command) => Promise.resolve(commands[command]()).catch(fail))
  client.login(credentials).then((status) => report({ type: 'signed-in', state: status.state, valid: client.isJwtTokenValid() }), fail)
}

// ----- scenario (child process) ----------------------------------------------------------

async function runScenario(baseUrl) {
  const assert = require('node:assert/strict')
  const { AuthClient } = require('..')
  const credentials = { email: 'demo@example.com', password: 'demo-password' }
  const control = (name, body) =>
    fetch(`${baseUrl}/__control/${name}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((response) => response.json())

  const workers = Array.from({ length: WORKER_COUNT }, (_, index) => {
    const worker = new Worker(__filename, { workerData: { baseUrl, account: `worker-${index}`, credentials } })
    // Messages nobody awaits yet wait in the inbox; at most one waiter per message type.
    const inbox = []
    const waiters = new Map()
    worker.on('message', (message) => {
      if (message.type === 'error') console.error(`worker ${index}: ${message.code} ${message.message}`)
      const waiter = waiters.get(message.type)
      waiters.delete(message.type)
      if (waiter) waiter(message)
      else inbox.push(message)
    })
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    const next = (type) => {
      const queued = inbox.findIndex((message) => message.type === type)
      if (queued !== -1) return Promise.resolve(inbox.splice(queued, 1)[0])
      return new Promise((resolve) => waiters.set(type, resolve))
    }
    return { worker, next, exited }
  })

  // All four sign in at once.
  for (const signedIn of await Promise.all(workers.map(({ next }) => next('signed-in')))) {
    assert.deepEqual(signedIn, { type: 'signed-in', state: 'valid', valid: true })
  }

  // Two workers start a login the server holds; they are terminated while it is held.
  const tokenRequestsBefore = (await control('counters')).token
  await control('fault', { endpoint: 'token', delay_ms: HELD_LOGIN_MS, count: TERMINATED.length })
  for (const index of TERMINATED) workers[index].worker.postMessage('login')
  const heldSince = Date.now()
  while ((await control('counters')).token < tokenRequestsBefore + TERMINATED.length) {
    assert.ok(Date.now() - heldSince < HELD_LOGIN_MS, 'the held logins never reached the token endpoint')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const exitCodes = await Promise.all(TERMINATED.map((index) => workers[index].worker.terminate()))
  assert.deepEqual(exitCodes, [1, 1])

  // The main thread keeps working: its own login, token and refresh.
  const client = new AuthClient({ baseUrl, storage: 'memory', account: 'main-thread' })
  assert.equal((await client.login(credentials)).state, 'valid')
  assert.ok(client.isJwtTokenValid(await client.refreshJwtToken()))

  // The surviving workers too, after the terminations.
  const survivors = workers.filter((_, index) => !TERMINATED.includes(index))
  for (const { worker } of survivors) worker.postMessage('finish')
  for (const finished of await Promise.all(survivors.map(({ next }) => next('finished')))) {
    assert.deepEqual(finished.states.slice(-1), ['signed-out'])
  }
  assert.deepEqual(await Promise.all(survivors.map(({ exited }) => exited)), [0, 0])

  // Outlive the held requests, so their completions arrive for contexts that are gone.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, heldSince + HELD_LOGIN_MS + 300 - Date.now())))
  await client.logout()
  console.log(SCENARIO_OK)
  // No process.exit(): the process must end by itself, nothing native keeping it alive.
}

// ----- the test --------------------------------------------------------------------------

function defineTest() {
  const test = require('node:test')
  const assert = require('node:assert/strict')
  const { spawn } = require('node:child_process')
  const { startReferenceServer } = require('../testing/server')

  let srv
  test.before(async () => {
    srv = await startReferenceServer()
  })
  test.after(() => srv?.stop())

  test('four worker threads sign in at once, two are terminated mid-login, the process exits cleanly', async () => {
    const child = spawn(process.execPath, [__filename, SCENARIO_FLAG, srv.url], {
      cwd: path.resolve(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const [code, signal] = await new Promise((resolve) => child.on('close', (...outcome) => resolve(outcome)))
    const output = `exit code ${code}, signal ${signal}\nstdout:\n${stdout}\nstderr:\n${stderr}`
    assert.equal(signal, null, `the scenario was killed:\n${output}`)
    assert.equal(code, 0, `the scenario failed:\n${output}`)
    assert.equal(stdout.trim(), SCENARIO_OK, output)
    assert.equal(stderr, '', output)
  })
}
