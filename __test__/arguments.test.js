'use strict'
// Every argument of every method is checked by the library itself: a wrong type is an error
// with our code and a fixed message naming the field and its type, never the value (napi's
// own conversion errors quote it), as a rejected promise for async methods.

const test = require('node:test')
const assert = require('node:assert/strict')
const { AuthClient } = require('..')
const { useReferenceServer, newClient, signedInClient, rejection, thrown } = require('./helpers/client')

const ref = useReferenceServer()
const PASSWORD = 'hunter2-in-the-wrong-shape'

/** Values of the wrong type, each carrying the password where napi would quote it. */
const wrongShapes = () => [
  Buffer.from(PASSWORD),
  new String(PASSWORD), // eslint-disable-line no-new-wrappers
  new Uint8Array(Buffer.from(PASSWORD)),
  [PASSWORD],
  { value: PASSWORD },
  4242,
]

function assertNothingQuoted(error, ...extra) {
  for (const text of [PASSWORD, 'hunter2', '4242', ...extra]) {
    assert.equal(error.message.includes(text), false, `the message quotes the value: ${error.message}`)
  }
}

test('a password of the wrong type rejects with E_INVALID_ARGUMENT and never quotes it', async () => {
  const client = newClient(ref.server)
  for (const password of wrongShapes()) {
    const pending = client.login({ email: ref.server.user.email, password })
    assert.ok(pending instanceof Promise, 'a rejected promise, not a synchronous throw')
    const error = await rejection(pending)
    assert.equal(error.code, 'E_INVALID_ARGUMENT')
    assert.equal(error.message, 'E_INVALID_ARGUMENT: credentials.password must be a string')
    assertNothingQuoted(error)
  }
  const counters = await ref.server.counters()
  assert.equal(counters.login, 0, 'nothing was sent')
})

test('login credentials: each field and the object itself', async () => {
  const client = newClient(ref.server)
  const cases = [
    [undefined, 'credentials must be an object'],
    [PASSWORD, 'credentials must be an object'],
    [{ password: 'x' }, 'credentials.email must be a string'],
    [{ email: ref.server.user.email }, 'credentials.password must be a string'],
    [{ email: 7, password: 'x' }, 'credentials.email must be a string'],
    [{ email: ref.server.user.email, password: 'x', remember: 'yes' }, 'credentials.remember must be a boolean'],
  ]
  for (const [credentials, message] of cases) {
    const error = await rejection(client.login(credentials))
    assert.equal(error.code, 'E_INVALID_ARGUMENT')
    assert.equal(error.message, `${error.code}: ${message}`)
    assertNothingQuoted(error)
  }
  assert.equal((await client.login(ref.server.user)).state, 'valid', 'the right shape still signs in')
})

test('constructor options of the wrong type throw E_CONFIG naming the field', () => {
  const cases = [
    [undefined, 'options must be an object'],
    [{}, 'options.baseUrl must be a string'],
    [{ baseUrl: Buffer.from(PASSWORD) }, 'options.baseUrl must be a string'],
    [{ baseUrl: ref.server.url, paths: { login: 4242 } }, 'options.paths.login must be a string'],
    [{ baseUrl: ref.server.url, paths: { refresh: false } }, 'options.paths.refresh must be a string or null'],
    [{ baseUrl: ref.server.url, algorithms: 'RS256' }, 'options.algorithms must be an array of strings'],
    [{ baseUrl: ref.server.url, trustedOrigins: [4242] }, 'options.trustedOrigins must be an array of strings'],
    [{ baseUrl: ref.server.url, audience: { PASSWORD } }, 'options.audience must be a string or an array of strings'],
    [{ baseUrl: ref.server.url, leewaySeconds: '30' }, 'options.leewaySeconds must be a number'],
    [{ baseUrl: ref.server.url, storage: 4242 }, 'options.storage must be a string or an object'],
    [{ baseUrl: ref.server.url, account: [PASSWORD] }, 'options.account must be a string'],
  ]
  for (const [options, message] of cases) {
    const error = thrown(() => new AuthClient(options))
    assert.equal(error.code, 'E_CONFIG', message)
    assert.equal(error.message, `${error.code}: ${message}`)
    assertNothingQuoted(error)
  }
})

test('synchronous methods throw E_INVALID_ARGUMENT; async ones reject with it', async () => {
  const client = await signedInClient(ref.server)
  for (const [name, call, message] of [
    ['isJwtTokenValid', (v) => client.isJwtTokenValid(v), 'token must be a string'],
    ['isTrustedUrl', (v) => client.isTrustedUrl(v), 'url must be a string'],
    ['isSecureUrl', (v) => client.isSecureUrl(v), 'url must be a string'],
    ['mcpProvider', (v) => client.mcpProvider(v), 'serverUrl must be a string'],
    ['onStatusChange', (v) => client.onStatusChange(v), 'callback must be a function'],
    ['onLog', (v) => client.onLog(v), 'callback must be a function'],
  ]) {
    const error = thrown(() => call(Buffer.from(PASSWORD)))
    assert.equal(error.code, 'E_INVALID_ARGUMENT', name)
    assert.equal(error.message, `${error.code}: ${message}`, name)
    assertNothingQuoted(error)
  }
  assert.equal(client.isJwtTokenValid(null), true, 'null means the current token')
  const provider = client.mcpProvider(`${ref.server.url}/mcp`)
  for (const call of [(v) => provider.onUnauthorized(v), (v) => provider.invalidateCredentials(v)]) {
    const error = await rejection(call(Buffer.from(PASSWORD)))
    assert.equal(error.code, 'E_INVALID_ARGUMENT')
    assertNothingQuoted(error)
  }
  await provider.invalidateCredentials(undefined)
  assert.equal(client.status().state, 'valid')
})
