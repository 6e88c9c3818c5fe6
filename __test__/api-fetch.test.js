'use strict'
// client.apiFetch(): the app's own session-authenticated calls (the host's
// SymbioteApiService), against real Flask-Security with CSRF on.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { getEventListeners } = require('node:events')
const { useReferenceServer, newClient, rejection, sleep, FLASK_SECURITY, signedInToFlaskSecurity } = require('./helpers/client')

const ref = useReferenceServer({ csrf: true })
const signedIn = (options) => signedInToFlaskSecurity(ref.server, options)

/** A server on another origin that records whatever reaches it. */
async function recordingServer(t) {
  const requests = []
  const server = http.createServer((request, response) => {
    requests.push({ method: request.method, url: request.url, headers: request.headers })
    response.end('{}')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://localhost:${server.address().port}`, requests }
}

test('a GET with the session cookie resolves to a WHATWG Response with the JSON the API sent', async () => {
  const { client, logs } = await signedIn()
  const before = await ref.server.counters()
  const response = await client.apiFetch('/api/mcp/tools/cherry-studio-agent')
  assert.ok(response instanceof Response)
  assert.equal(response.status, 200)
  assert.equal(response.ok, true)
  assert.match(response.headers.get('content-type'), /application\/json/)
  assert.equal(response.headers.get('set-cookie'), null, 'the session cookie stays in the client')
  const [agent] = await response.json()
  assert.equal(agent.name, 'cherry-studio-agent')
  assert.match(agent.prompt, /demo@example\.com/)
  const after = await ref.server.counters()
  assert.equal(after.app - before.app, 1)
  assert.equal(after.csrf, before.csrf, 'a GET needs no CSRF token')
  // An absolute URL on the API origin is the same call.
  const absolute = await client.apiFetch(new URL('/api/mcp/tools/cherry-studio-assistant', ref.server.url))
  assert.equal((await absolute.json())[0].name, 'cherry-studio-assistant')
  assert.equal(JSON.stringify(logs).includes(client.getStoredJwtToken()), false)
})

test('a POST carries the CSRF token; once it expires, one new token and one retry', async () => {
  await ref.server.config({ csrfTimeLimit: 1 })
  const { client, logs } = await signedIn()
  const body = JSON.stringify({ hello: 'world' })
  const post = () => client.apiFetch('/api/mcp/tools/echo', { method: 'post', headers: { 'Content-Type': 'application/json' }, body })

  const first = await post()
  assert.deepEqual(await first.json(), { name: 'echo', user: 'demo@example.com', received: { hello: 'world' } })

  await sleep(2200)
  const before = await ref.server.counters()
  const second = await post()
  assert.equal(second.status, 200)
  assert.deepEqual((await second.json()).received, { hello: 'world' })
  const after = await ref.server.counters()
  assert.equal(after.csrf - before.csrf, 1, 'one fresh CSRF token')
  assert.equal(after.app - before.app, 2, 'the refused request and its retry')
  assert.equal(after.login, before.login)
  assert.equal(JSON.stringify(logs).includes(ref.server.user.password), false)
})

test('headers as Headers or pairs, and a Uint8Array body, are sent as given', async () => {
  const { client } = await signedIn()
  const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json' })
  const bytes = new TextEncoder().encode('{"n":1}')
  const viaHeaders = await client.apiFetch('/api/mcp/tools/echo', { method: 'PUT', headers, body: bytes })
  assert.equal(viaHeaders.status, 405, 'the view takes GET and POST only: a non-2xx answer is a Response too')
  const viaPairs = await client.apiFetch('/api/mcp/tools/echo', {
    method: 'POST',
    headers: [['content-type', 'application/json']],
    body: bytes.buffer,
  })
  assert.deepEqual((await viaPairs.json()).received, { n: 1 })
})

test('a 401 is E_LOGIN_REQUIRED, with state login-required, and the stored session is gone', async () => {
  const { client } = await signedIn()
  const changes = []
  client.onStatusChange((status) => changes.push(status.state))
  await ref.server.expireSessions()
  const error = await rejection(client.apiFetch('/api/mcp/tools/cherry-studio-agent'))
  assert.equal(error.code, 'E_LOGIN_REQUIRED')
  assert.match(error.message, /^E_LOGIN_REQUIRED: the API answered 401 to GET \/api\/mcp\/tools\/cherry-studio-agent/)
  const status = client.status()
  assert.equal(status.state, 'login-required')
  assert.equal(status.lastError.code, 'E_LOGIN_REQUIRED')
  assert.equal(client.getStoredJwtToken(), null)
  await sleep(50)
  assert.ok(changes.includes('login-required'))

  // Signed out (or ended), nothing more is sent.
  const before = await ref.server.counters()
  assert.equal((await rejection(client.apiFetch('/api/mcp/tools/x'))).code, 'E_LOGIN_REQUIRED')
  const fresh = newClient(ref.server, FLASK_SECURITY)
  assert.equal((await rejection(fresh.apiFetch('/api/mcp/tools/x'))).code, 'E_LOGIN_REQUIRED')
  assert.equal((await ref.server.counters()).app, before.app)
})

test('another origin is E_UNTRUSTED_ORIGIN, and nothing reaches it', async (t) => {
  const { client } = await signedIn()
  const other = await recordingServer(t)
  for (const input of [`${other.url}/api/x`, `//localhost:${new URL(other.url).port}/api/x`, new URL('/api/x', other.url)]) {
    const error = await rejection(client.apiFetch(input))
    assert.equal(error.code, 'E_UNTRUSTED_ORIGIN', String(input))
    assert.match(error.message, /^E_UNTRUSTED_ORIGIN: /)
  }
  assert.deepEqual(other.requests, [])
})

test('a redirect off the origin is not followed; one on it is', async (t) => {
  const { client } = await signedIn()
  const other = await recordingServer(t)
  const away = `/api/redirect?to=${encodeURIComponent(`${other.url}/steal`)}`
  const error = await rejection(client.apiFetch(away))
  assert.equal(error.code, 'E_BAD_RESPONSE')
  assert.match(error.message, /redirected to another origin/)
  assert.deepEqual(other.requests, [], 'neither the cookie nor anything else went there')

  const insecure = await rejection(client.apiFetch(`/api/redirect?to=${encodeURIComponent('http://example.com/x')}`))
  assert.equal(insecure.code, 'E_INSECURE_URL')

  const home = await client.apiFetch(`/api/redirect?to=${encodeURIComponent('/api/mcp/tools/after-redirect')}`)
  assert.equal((await home.json())[0].name, 'after-redirect')
})

test('answers are size-limited like every other API answer', async () => {
  const { client } = await signedIn()
  const small = await client.apiFetch('/api/bytes/1000')
  assert.equal((await small.arrayBuffer()).byteLength, 1000)
  const error = await rejection(client.apiFetch(`/api/bytes/${2 * 1024 * 1024}`))
  assert.equal(error.code, 'E_BAD_RESPONSE')
  assert.match(error.message, /more than 1048576 bytes/)
})

test('what the client sets itself, bad methods and bad bodies are E_INVALID_ARGUMENT, and values are not echoed', async () => {
  const { client } = await signedIn()
  const before = await ref.server.counters()
  const cases = [
    ['/api/x', { headers: { Cookie: 'session=forged-cookie' } }],
    ['/api/x', { method: 'POST', headers: { 'X-CSRF-Token': 'forged-csrf' } }],
    ['/api/x', { method: 'CONNECT' }],
    ['/api/x', { method: 'GET', body: 'forged-body' }],
    ['/api/x', { method: 'POST', body: { forged: 'object' } }],
    ['/api/x', { headers: 'forged-header-string' }],
    ['/api/x', { signal: { forged: 'signal' } }],
    [42, undefined],
  ]
  for (const [input, init] of cases) {
    const error = await rejection(client.apiFetch(input, init))
    assert.equal(error.code, 'E_INVALID_ARGUMENT', JSON.stringify(init))
    assert.doesNotMatch(error.message, /forged/)
  }
  assert.equal((await ref.server.counters()).app, before.app)
})

test('init.signal aborts as fetch does: nothing sent when already aborted, the request dropped in flight, the session kept', async () => {
  const { client } = await signedIn()
  const before = await ref.server.counters()

  const early = new AbortController()
  early.abort()
  const refused = await rejection(client.apiFetch('/api/mcp/tools/cherry-studio-agent', { signal: early.signal }))
  assert.equal(refused.name, 'AbortError')
  assert.equal(refused.code, 'E_ABORTED')
  assert.equal(refused.cause, early.signal.reason, 'the reason rides along as cause')
  assert.equal((await ref.server.counters()).app, before.app, 'aborted before it was sent: nothing reached the API')

  await ref.server.fault({ endpoint: 'app', delayMs: 3000 })
  const late = new AbortController()
  const inFlight = client.apiFetch('/api/mcp/tools/cherry-studio-agent', { signal: late.signal })
  await sleep(200)
  const startedAbort = Date.now()
  late.abort()
  const dropped = await rejection(inFlight)
  assert.equal(dropped.code, 'E_ABORTED')
  assert.ok(Date.now() - startedAbort < 1000, 'the call ends at the abort, not when the API answers')
  assert.equal((await ref.server.counters()).app, before.app + 1)
  assert.equal(client.status().state, 'valid', 'an abort says nothing about the session')
  assert.equal(client.status().lastError, null)

  await ref.server.fault({ endpoint: 'app', delayMs: 3000 })
  const timedOut = await rejection(client.apiFetch('/api/mcp/tools/cherry-studio-agent', { signal: AbortSignal.timeout(200) }))
  assert.equal(timedOut.name, 'TimeoutError', "named after AbortSignal.timeout()'s reason, as fetch does")
  assert.equal(timedOut.code, 'E_ABORTED')
  await ref.server.clearFaults()

  // One controller for many calls: each call stops listening when it settles.
  const shared = new AbortController()
  for (let i = 0; i < 3; i++) {
    const response = await client.apiFetch('/api/mcp/tools/cherry-studio-agent', { signal: shared.signal })
    assert.equal(response.status, 200)
  }
  assert.equal(getEventListeners(shared.signal, 'abort').length, 0, 'no listener left on a long-lived signal')
  shared.abort()
  assert.equal((await client.apiFetch('/api/mcp/tools/cherry-studio-agent')).status, 200)
})
