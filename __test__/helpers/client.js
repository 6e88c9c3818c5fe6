'use strict'
// Shared pieces of the Node suite: a reference server per test file, clients with their own
// account (so the process-wide memory store never mixes tests), and log capture.

const { randomUUID } = require('node:crypto')
const net = require('node:net')
const { before, after, beforeEach, afterEach } = require('node:test')
const { AuthClient } = require('../..')
const { startReferenceServer } = require('../../testing/server')

/** Clients made by `newClient` in the running test, signed out after it. */
const liveClients = new Set()

/**
 * Starts one reference server for the calling test file; resets it before every test and
 * signs out the test's clients after it, so no client's background refresh reaches the
 * server (and its counters and injected faults) during a later test.
 */
function useReferenceServer(options = {}) {
  const handle = { server: null }
  before(async () => {
    handle.server = await startReferenceServer(options)
  })
  beforeEach(async () => {
    await handle.server.reset({ sessions: true })
  })
  afterEach(async () => {
    await handle.server.clearFaults()
    const clients = [...liveClients]
    liveClients.clear()
    await Promise.all(clients.map((client) => client.logout().catch(() => {})))
  })
  after(async () => {
    await handle.server?.stop()
  })
  return handle
}

function newClient(server, options = {}) {
  const client = new AuthClient({
    baseUrl: server.url,
    storage: 'memory',
    account: `test-${randomUUID()}`,
    ...options,
  })
  liveClients.add(client)
  return client
}

async function signedInClient(server, options = {}) {
  const client = newClient(server, options)
  await client.login({ email: server.user.email, password: server.user.password })
  return client
}

/** Collects every log record of `client` at trace level (client must use logLevel 'trace'). */
function captureLogs(client) {
  const records = []
  client.onLog((record) => records.push(record))
  return records
}

/** Resolves with the rejection of `promise`; fails the test if it resolves. */
async function rejection(promise) {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection, but the promise resolved')
}

function thrown(fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected an exception')
}

/** A loopback URL on which nothing listens: connections are refused. */
async function closedPortUrl() {
  const socket = net.createServer()
  await new Promise((resolve) => socket.listen(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise((resolve) => socket.close(resolve))
  return `http://127.0.0.1:${port}`
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * `callers` concurrent getJwtToken() calls on an expired token while its refresh is in
 * flight: the client signs in (`signIn()`) with a 2 s token, the refresh that starts near
 * expiry is held at the server until the callers have all arrived, then released.
 */
async function stormOnExpiredToken(server, signIn, callers) {
  // 2 s, not 1: `exp` is whole seconds, and a sign-in that also fetches a CSRF token and the
  // JWKS can take the rest of a second under load, which makes the new token expired on
  // arrival (refused, E_TOKEN_INVALID).
  await server.config({ lifetime: 2 })
  await server.fault({ endpoint: 'refresh', hang: true, count: -1 })
  const client = await signIn()
  const stale = client.getStoredJwtToken()
  await server.config({ lifetime: 900 })
  await sleep(2300)
  const stateDuringStorm = client.status().state
  const calls = Promise.all(Array.from({ length: callers }, () => client.getJwtToken()))
  await sleep(100)
  await server.clearFaults()
  return { tokens: await calls, stale, stateDuringStorm }
}

/** The options a client of a Flask-Security backend needs: its login view hands out the CSRF token. */
const FLASK_SECURITY = Object.freeze({ paths: Object.freeze({ csrf: '/api/login' }) })

/** A Flask-Security client signed in as the demo user, with every log record it writes. */
async function signedInToFlaskSecurity(server, options = {}) {
  const client = newClient(server, { ...FLASK_SECURITY, logLevel: 'trace', ...options })
  const logs = captureLogs(client)
  const status = await client.login(server.user)
  return { client, logs, status }
}

/** Lets queued threadsafe-function callbacks (status events, logs) reach JS. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

module.exports = {
  useReferenceServer,
  newClient,
  signedInClient,
  captureLogs,
  rejection,
  thrown,
  sleep,
  settle,
  closedPortUrl,
  stormOnExpiredToken,
  FLASK_SECURITY,
  signedInToFlaskSecurity,
}
