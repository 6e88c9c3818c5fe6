'use strict'
// The adversarial catalogue: every hostile answer a broken or malicious API (or a network
// attacker standing in for it) can give, one named test each. Every case starts from a good
// state — signed in through the hostile server, which proxies to the reference Flask
// server, with a JS storage backend that records what it is given — then meets one hostile
// answer and checks:
//   - the exact error code (or, for answers the contract says to survive, that none came);
//   - no crash: the client still answers, and no E_INTERNAL (a caught panic) came out;
//   - the good state is intact: the same valid token is still served and verifies, and the
//     stored session was neither rewritten nor cleared;
//   - nothing secret (password, token, session cookie, anything JWT-shaped: `eyJ`) is in
//     the error message, the status, or any log record at trace level.
// Answers that only a raw socket can give come from helpers/hostile-server.js.

const test = require('node:test')
const assert = require('node:assert/strict')
const { generateKeyPairSync, sign: rsaSign } = require('node:crypto')
const { useReferenceServer, newClient, captureLogs, rejection, sleep, settle } = require('./helpers/client')
const { startHostileServer, startUntrustedTlsServer, behaviours } = require('./helpers/hostile-server')

const ref = useReferenceServer()
let hostile
test.before(async () => {
  hostile = await startHostileServer({ upstream: () => ref.server.url })
})
test.afterEach(() => hostile.reset())
test.after(() => hostile.close())

/** What the reference server puts in iss and aud; every catalogue client checks both. */
const ISSUER = 'symbiote-reference'
const AUDIENCE = 'symbiote-desktop'
/** Short, so the hanging answers cost little, yet ample for loopback answers (a few ms). */
const TIMEOUT_MS = 750
const TOKEN_PATHS = ['/api/jwt/refresh', '/api/jwt/token']
const FLOOD = 1000

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'))
const nowSeconds = () => Math.floor(Date.now() / 1000)

/** A `StorageBackend` that records every save and clear. */
function recordingStorage() {
  return {
    data: null,
    saves: 0,
    clears: 0,
    load() {
      return this.data
    },
    save(data) {
      this.saves += 1
      this.data = data
    },
    clear() {
      this.clears += 1
      this.data = null
    },
  }
}

// ----- hostile answers ------------------------------------------------------------------

/** Both token endpoints (refresh and its fallback) answer with this fault. */
const tokenEndpointsAnswer = (fault) => Promise.all(['refresh', 'token'].map((endpoint) => ref.server.fault({ endpoint, ...fault })))

const tokenEndpointsIssue = (token) => tokenEndpointsAnswer({ status: 200, body: { access_token: token, token_type: 'Bearer' } })

/** A real token with one of its three parts replaced. */
async function tokenWithPart(index, replacement) {
  const parts = (await ref.server.sign()).split('.')
  parts[index] = replacement
  return parts.join('.')
}

async function publishedKeys() {
  return (await (await fetch(`${ref.server.url}/api/jwt/jwks`)).json()).keys
}

/**
 * The API rotates its key (so the next token names a kid the client has not seen) and
 * serves a JWKS with the keys it published before plus `entriesFor(newKey)` in place of
 * the new key.
 */
async function rotateAndPublish(entriesFor) {
  const kid = await ref.server.rotate()
  const keys = await publishedKeys()
  await ref.server.setJwks({ keys: [...keys.filter((key) => key.kid !== kid), ...entriesFor(keys.find((key) => key.kid === kid))] })
}

/** The API rotates its key and its JWKS endpoint then answers `body`. */
async function rotateAndServeJwks(body) {
  await ref.server.rotate()
  await ref.server.setJwks(body)
}

/**
 * A token with good claims, correctly signed by a key of this test's own making, issued by
 * the token endpoints while the JWKS publishes that key (as `publish` exports it) beside
 * the real ones.
 */
async function issueSelfSigned({ modulusLength, publish }) {
  const kid = `self-${modulusLength}-${publish}`
  const pair = generateKeyPairSync('rsa', { modulusLength })
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url(claimsOf(await ref.server.sign()))}`
  const token = `${input}.${rsaSign('sha256', Buffer.from(input), pair.privateKey).toString('base64url')}`
  const jwk = { ...pair[publish].export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }
  await ref.server.setJwks({ keys: [...(await publishedKeys()), jwk] })
  await tokenEndpointsIssue(token)
}

const requestsTo = (requests, path) => requests.filter((request) => request.path === path).length

// ----- the catalogue ----------------------------------------------------------------------
//
// A case: `attack(ctx)` sets the hostile answer up after the client signed in; `act(ctx)`
// (default: a forced refresh) meets it; `code` is the expected rejection, or null when the
// contract says to carry on. `options` go to the client, `before()` runs before it signs in,
// `check(ctx, outcome)` adds what the case is about, and `replacesSession` marks the cases
// whose outcome legitimately replaces the token or ends the session.

const refresh = ({ client }) => client.refreshJwtToken()
const signInAgain = ({ client }) => client.login(ref.server.user)

const catalogue = {
  'token header and key choice': [
    {
      name: 'alg: none',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ alg: 'none' })),
    },
    {
      name: 'HS256 signed with the RSA public key as the secret (algorithm confusion)',
      code: 'E_TOKEN_INVALID',
      options: { algorithms: ['RS256', 'HS256'] },
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ alg: 'HS256', hsSecret: 'public_pem' })),
    },
    {
      name: 'alg not matching the key type (ES256 signature naming the RSA kid)',
      code: 'E_TOKEN_INVALID',
      attack: async () => {
        const { current_kids: kids } = await ref.server.state()
        await tokenEndpointsIssue(await ref.server.sign({ alg: 'ES256', kid: kids.RS256 }))
      },
    },
    {
      name: 'unknown kid: the JWKS is fetched once more, and not again for the fallback',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ kid: 'never-published' })),
      check: ({ during }) => assert.equal(requestsTo(during, '/api/jwt/jwks'), 1),
    },
    {
      name: `a flood of ${FLOOD} tokens with unseen kids: the JWKS is fetched once per cooldown`,
      code: 'E_TOKEN_INVALID',
      options: { paths: { refresh: null }, refreshRetryMinMs: 1, refreshRetryMaxMs: 1 },
      attack: () => hostile.arm('/api/jwt/token', behaviours.tokenWithUnseenKid()),
      act: async ({ client }) => {
        // The backoff after each failure is at most 1 ms: the pause lets every call through.
        const sent = () => requestsTo(hostile.requests.slice(mark), '/api/jwt/token')
        const mark = hostile.requests.length
        let last
        for (let round = 0; sent() < FLOOD && round < 5 * FLOOD; round++) {
          last = await rejection(client.refreshJwtToken())
          await sleep(2)
        }
        throw last
      },
      check: ({ during }) => {
        assert.equal(requestsTo(during, '/api/jwt/token'), FLOOD)
        assert.equal(requestsTo(during, '/api/jwt/jwks'), 1)
      },
    },
    {
      name: 'kid missing while the JWKS has several keys that could fit',
      code: 'E_TOKEN_INVALID',
      before: () => ref.server.rotate(),
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ kid: null })),
    },
  ],

  'published keys (JWKS)': [
    {
      name: 'JWKS with an oct (symmetric) key under the new kid',
      code: 'E_TOKEN_INVALID',
      attack: () => rotateAndPublish((key) => [{ kty: 'oct', kid: key.kid, alg: 'HS256', k: b64url('shared-secret') }]),
    },
    {
      name: 'JWKS with a 512-bit RSA key that really signed the token',
      code: 'E_TOKEN_INVALID',
      attack: () => issueSelfSigned({ modulusLength: 512, publish: 'publicKey' }),
    },
    {
      name: 'JWKS publishing a private key (with d) that signed the token',
      code: 'E_TOKEN_INVALID',
      attack: () => issueSelfSigned({ modulusLength: 2048, publish: 'privateKey' }),
    },
    {
      name: 'JWKS with a malformed n',
      code: 'E_TOKEN_INVALID',
      attack: () => rotateAndPublish((key) => [{ ...key, n: `!!${key.n.slice(2)}` }]),
    },
    {
      name: 'JWKS with duplicate kids, none of them the signing key',
      code: 'E_TOKEN_INVALID',
      attack: async () => {
        const [rsa, ec] = await publishedKeys()
        await rotateAndPublish((key) => [
          { ...rsa, kid: key.kid },
          { ...ec, kid: key.kid },
        ])
      },
    },
    {
      name: 'JWKS with the signing key marked use: enc',
      code: 'E_TOKEN_INVALID',
      attack: () => rotateAndPublish((key) => [{ ...key, use: 'enc' }]),
    },
    { name: 'JWKS that is not JSON', code: 'E_BAD_RESPONSE', attack: () => rotateAndServeJwks('{"keys": [ this is not JSON') },
    { name: 'JWKS with an empty body', code: 'E_BAD_RESPONSE', attack: () => rotateAndServeJwks('') },
    { name: 'JWKS with an empty key list', code: 'E_BAD_RESPONSE', attack: () => rotateAndServeJwks({ keys: [] }) },
    {
      name: 'JWKS of 5 MB',
      code: 'E_BAD_RESPONSE',
      attack: () => rotateAndServeJwks(`{"keys": [${' '.repeat(5 * 1024 * 1024)}]}`),
    },
  ],

  'token claims': [
    {
      name: 'JWT expired',
      code: 'E_TOKEN_INVALID',
      attack: async () =>
        tokenEndpointsIssue(
          await ref.server.sign({ claims: { iat: nowSeconds() - 7200, nbf: nowSeconds() - 7200, exp: nowSeconds() - 3600 } })
        ),
    },
    {
      name: 'JWT with nbf in the future',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ claims: { nbf: nowSeconds() + 3600 } })),
    },
    {
      name: 'JWT with iat far in the future',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ claims: { iat: nowSeconds() + 30 * 24 * 3600 } })),
    },
    {
      name: 'JWT with exp as a string',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ claims: { exp: String(nowSeconds() + 900) } })),
    },
    {
      name: 'JWT without exp',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ claims: { exp: null } })),
    },
    {
      name: 'JWT with the wrong iss',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ claims: { iss: 'https://issuer.evil.example' } })),
    },
    {
      name: 'JWT with the wrong aud',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await ref.server.sign({ claims: { aud: ['another-app'] } })),
    },
  ],

  'token structure': [
    {
      name: 'three parts, the payload not base64url',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await tokenWithPart(1, '!!!not*base64!!!')),
    },
    {
      name: 'two parts',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue((await ref.server.sign()).split('.').slice(0, 2).join('.')),
    },
    {
      name: 'a 100 KB token',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await tokenWithPart(1, b64url({ sub: '1', pad: 'x'.repeat(100 * 1024) }))),
    },
    {
      name: 'payload that is not UTF-8',
      code: 'E_TOKEN_INVALID',
      attack: async () => tokenEndpointsIssue(await tokenWithPart(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url'))),
    },
  ],

  'token endpoint answers': [
    {
      name: 'token response without access_token',
      code: 'E_BAD_RESPONSE',
      attack: () => tokenEndpointsAnswer({ status: 200, body: { token_type: 'Bearer', expires_in: 900 } }),
    },
    {
      name: 'access_token that is not a string',
      code: 'E_BAD_RESPONSE',
      attack: () => tokenEndpointsAnswer({ status: 200, body: { access_token: { jwt: 'x' }, token_type: 'Bearer' } }),
    },
    {
      name: 'token_type that is not Bearer (with a valid token)',
      code: 'E_BAD_RESPONSE',
      attack: async () => tokenEndpointsAnswer({ status: 200, body: { access_token: await ref.server.sign(), token_type: 'MAC' } }),
    },
    {
      name: 'token response body that is not JSON',
      code: 'E_BAD_RESPONSE',
      attack: async () =>
        tokenEndpointsAnswer({
          status: 200,
          body: `access_token=${await ref.server.sign()}`,
          contentType: 'application/x-www-form-urlencoded',
        }),
    },
    {
      name: 'an HTML 502 page',
      code: 'E_SERVER',
      attack: () =>
        tokenEndpointsAnswer({ status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>', contentType: 'text/html' }),
    },
    {
      name: 'a 5 MB body without Content-Length (chunked)',
      code: 'E_BAD_RESPONSE',
      attack: () => hostile.arm(TOKEN_PATHS, behaviours.chunkedBody(5 * 1024 * 1024)),
    },
  ],

  'raw HTTP': [
    { name: 'chunked body that never ends', code: 'E_TIMEOUT', attack: () => hostile.arm(TOKEN_PATHS, behaviours.neverEndingBody()) },
    { name: 'headers that never end', code: 'E_TIMEOUT', attack: () => hostile.arm(TOKEN_PATHS, behaviours.neverEndingHeaders()) },
    { name: 'connection reset mid-body', code: 'E_NETWORK', attack: () => hostile.arm(TOKEN_PATHS, behaviours.resetMidBody()) },
    {
      name: '3xx to http:// on another host',
      code: 'E_INSECURE_URL',
      attack: () => hostile.arm(TOKEN_PATHS, behaviours.redirect('http://api.example.com/api/jwt/token')),
    },
    {
      name: '3xx to another origin: not followed, nothing sent there',
      code: 'E_BAD_RESPONSE',
      // localhost and 127.0.0.1 are different origins of the same (hostile) server, so
      // its log shows whether anything went there.
      attack: () => hostile.arm(TOKEN_PATHS, behaviours.redirect(`http://localhost:${hostile.port}/api/jwt/token`, 307)),
      check: () =>
        assert.deepEqual(
          hostile.requests.filter((request) => request.host.startsWith('localhost')),
          []
        ),
    },
    {
      name: 'redirect loop on the API origin',
      code: 'E_BAD_RESPONSE',
      attack: () => hostile.arm(TOKEN_PATHS, behaviours.redirectLoop()),
    },
  ],

  'session, cookies and rate limits': [
    {
      name: 'login answering 200 with success: false',
      code: 'E_INVALID_CREDENTIALS',
      attack: () => ref.server.fault({ endpoint: 'login', status: 200, body: { success: false, error: 'Invalid email or password' } }),
      act: signInAgain,
    },
    {
      name: 'CSRF endpoint returning garbage',
      code: 'E_CSRF',
      options: { paths: { csrf: '/api/login' } },
      attack: () => ref.server.fault({ endpoint: 'csrf', status: 200, body: '<html>no token here</html>', contentType: 'text/html' }),
      act: signInAgain,
    },
    {
      name: 'Set-Cookie for another domain is ignored, never sent back',
      code: null,
      replacesSession: true,
      attack: () =>
        hostile.arm(
          '/api/jwt/refresh',
          (req, res, { proxy }) => proxy(req, res, { 'set-cookie': 'session=eyJmb3JlaWdu.forged; Domain=evil.example; Path=/' }),
          { count: 1 }
        ),
      check: async ({ client, storage }) => {
        assert.equal(typeof (await client.refreshJwtToken()), 'string', 'the real session cookie still works')
        assert.deepEqual(
          hostile.requests.filter((request) => request.cookie.includes('forged')),
          []
        )
        assert.ok(!storage.data.includes('forged'))
      },
    },
    {
      name: '401 on refresh with a live session: falls back to the token endpoint',
      code: null,
      replacesSession: true,
      attack: () => ref.server.fault({ endpoint: 'refresh', status: 401, body: { error: 'Invalid bearer token' } }),
      check: async ({ client, during }) => {
        assert.deepEqual([requestsTo(during, '/api/jwt/refresh'), requestsTo(during, '/api/jwt/token')], [1, 1])
        assert.equal(client.status().state, 'valid')
      },
    },
    {
      name: '429 with Retry-After: E_SERVER naming the wait, which the backoff honours',
      code: 'E_SERVER',
      attack: () => tokenEndpointsAnswer({ status: 429, body: { error: 'slow down' }, headers: { 'Retry-After': '7' } }),
      check: async ({ client, logs }, { error }) => {
        assert.match(error.message, /Retry-After: 7 s/)
        assert.equal(error.retryAfterMs, 7000, 'the wait, as a number for a UI')
        assert.equal(client.status().lastError.retryAfterMs, 7000)
        assert.match(client.status().lastError.message, /^E_SERVER: /, 'lastError is shaped as the rejection')
        await settle()
        const backoff = logs.find((record) => record.message.startsWith('next refresh attempt'))
        assert.ok(Number(backoff.fields.delayMs) >= 7000, `backoff ${backoff.fields.delayMs} ms`)
        const before = hostile.requests.length
        assert.equal((await rejection(client.refreshJwtToken())).code, 'E_SERVER')
        assert.equal(hostile.requests.length, before, 'no request while the API asked to wait')
      },
    },
  ],

  [`every endpoint hanging past requestTimeoutMs (${TIMEOUT_MS} ms)`]: [
    {
      name: 'CSRF endpoint hangs',
      code: 'E_TIMEOUT',
      options: { paths: { csrf: '/api/login' } },
      attack: () => ref.server.fault({ endpoint: 'csrf', hang: true }),
      act: signInAgain,
    },
    {
      name: 'login endpoint hangs',
      code: 'E_TIMEOUT',
      attack: () => ref.server.fault({ endpoint: 'login', hang: true }),
      act: signInAgain,
    },
    {
      name: 'status endpoint hangs: sign-in completes with the user from the JWT',
      code: null,
      replacesSession: true,
      attack: async () => {
        await ref.server.config({ loginReturnsUser: false })
        await ref.server.fault({ endpoint: 'status', hang: true })
      },
      act: signInAgain,
      check: (_ctx, { value }) => assert.equal(value.user.id, '1'),
    },
    {
      name: 'token endpoint hangs',
      code: 'E_TIMEOUT',
      attack: () => ref.server.fault({ endpoint: 'token', hang: true }),
      act: signInAgain,
    },
    {
      name: 'refresh endpoint hangs: falls back to the token endpoint',
      code: null,
      replacesSession: true,
      attack: () => ref.server.fault({ endpoint: 'refresh', hang: true }),
      check: ({ client }) => assert.equal(client.status().state, 'valid'),
    },
    { name: 'refresh and token endpoints hang', code: 'E_TIMEOUT', attack: () => tokenEndpointsAnswer({ hang: true }) },
    {
      name: 'JWKS endpoint hangs while a new key needs fetching',
      code: 'E_TIMEOUT',
      attack: async () => {
        await ref.server.rotate()
        await ref.server.fault({ endpoint: 'jwks', hang: true, count: -1 })
      },
    },
    {
      name: 'logout endpoint hangs: logout still completes and wipes the session',
      code: null,
      replacesSession: true,
      attack: () => ref.server.fault({ endpoint: 'logout', hang: true }),
      act: ({ client }) => client.logout(),
      check: ({ client, storage }) => {
        assert.equal(client.status().state, 'signed-out')
        assert.equal(client.getStoredJwtToken(), null)
        assert.deepEqual([storage.data, storage.clears], [null, 1])
      },
    },
  ],
}

// ----- the runner -------------------------------------------------------------------------

async function outcomeOf(promise) {
  try {
    return { value: await promise }
  } catch (error) {
    return { error }
  }
}

/** Signs a fresh client in through the hostile server and remembers the good state. */
async function signedInThroughHostile(options) {
  const storage = recordingStorage()
  const client = newClient(ref.server, {
    baseUrl: hostile.url,
    storage,
    issuer: ISSUER,
    audience: AUDIENCE,
    requestTimeoutMs: TIMEOUT_MS,
    logLevel: 'trace',
    ...options,
  })
  const logs = captureLogs(client)
  await client.login(ref.server.user)
  const good = { token: client.getStoredJwtToken(), record: storage.data, saves: storage.saves }
  assert.ok(good.token && good.record, 'signed in and stored')
  return { client, storage, logs, good }
}

async function assertGoodStateIntact({ client, storage, good }) {
  assert.equal(client.isAuthenticated(), true)
  assert.equal(client.getStoredJwtToken(), good.token, 'the good token is kept')
  assert.equal(await client.getJwtToken(), good.token, 'and served')
  assert.equal(client.isJwtTokenValid(), true, 'and still verifies with the cached keys')
  assert.deepEqual([storage.saves, storage.clears], [good.saves, 0], 'the stored session was not rewritten nor cleared')
  assert.equal(storage.data, good.record)
}

/** The password, the token (and its signature alone), the session cookies. */
function secretsOf(good) {
  return [ref.server.user.password, good.token, good.token.split('.')[2], ...JSON.parse(good.record).cookies.map((cookie) => cookie.value)]
}

function assertNothingSecretLeaked({ client, logs }, secrets, { error }) {
  const visible = [error?.message ?? '', JSON.stringify(client.status()), ...logs.map((record) => JSON.stringify(record))].join('\n')
  for (const secret of secrets) assert.ok(!visible.includes(secret), 'a secret is visible in an error, the status or a log record')
  assert.doesNotMatch(visible, /eyJ/, 'something JWT-shaped (a token or a Flask cookie) is visible')
}

for (const [group, cases] of Object.entries(catalogue)) {
  test.describe(group, () => {
    for (const hostileCase of cases) {
      test(hostileCase.name, async () => {
        await hostileCase.before?.()
        const ctx = await signedInThroughHostile(hostileCase.options)
        await hostileCase.attack(ctx)
        const mark = hostile.requests.length
        const outcome = await outcomeOf((hostileCase.act ?? refresh)(ctx))
        ctx.during = hostile.requests.slice(mark)
        if (hostileCase.code) {
          assert.ok(outcome.error, 'expected a rejection')
          assert.equal(outcome.error.code, hostileCase.code, outcome.error.message)
        } else {
          assert.equal(outcome.error, undefined, outcome.error?.message)
        }
        await hostileCase.check?.(ctx, outcome)
        assert.ok(['valid', 'offline', 'signed-out'].includes(ctx.client.status().state), 'the client still answers')
        if (!hostileCase.replacesSession) await assertGoodStateIntact(ctx)
        await settle()
        assertNothingSecretLeaked(ctx, secretsOf(ctx.good), outcome)
      })
    }
  })
}

test.describe('a man in the middle', () => {
  test('a certificate no trust store holds: E_NETWORK, and not one request (nor the password) is sent', async () => {
    const tls = await startUntrustedTlsServer()
    try {
      const client = newClient(ref.server, { baseUrl: tls.url, logLevel: 'trace' })
      const logs = captureLogs(client)
      const error = await rejection(client.login(ref.server.user))
      assert.equal(error.code, 'E_NETWORK', error.message)
      assert.equal(client.status().state, 'signed-out')
      assert.ok(tls.seen.refusedHandshakes >= 1, 'the client broke the handshake off')
      assert.equal(tls.seen.requests, 0)
      await settle()
      assertNothingSecretLeaked({ client, logs }, [ref.server.user.password], { error })
    } finally {
      await tls.close()
    }
  })
})
