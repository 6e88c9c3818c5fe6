'use strict'
// AuthClient against the real reference Flask server: login, verification, refresh,
// single flight, and the error code of every failure.

const test = require('node:test')
const assert = require('node:assert/strict')
const { AuthClient } = require('..')
const {
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
} = require('./helpers/client')

const ref = useReferenceServer()
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())

test.describe('construction', () => {
  test('options that can never work throw E_CONFIG or E_INSECURE_URL', () => {
    assert.equal(thrown(() => new AuthClient({ baseUrl: 'http://api.example.com' })).code, 'E_INSECURE_URL')
    assert.equal(thrown(() => new AuthClient({ baseUrl: 'not a url' })).code, 'E_CONFIG')
    assert.equal(thrown(() => new AuthClient({ baseUrl: 'https://a.example', algorithms: ['HS256'] })).code, 'E_CONFIG')
    assert.equal(thrown(() => new AuthClient({ baseUrl: 'https://a.example', requestTimeoutMs: -1 })).code, 'E_CONFIG')
    assert.equal(
      thrown(() => new AuthClient({ baseUrl: 'https://a.example', trustedOrigins: ['http://mcp.example'] })).code,
      'E_INSECURE_URL'
    )
    assert.equal(thrown(() => new AuthClient({ baseUrl: 'https://a.example', storage: 'disk' })).code, 'E_CONFIG')
  })

  test('constructing does no I/O and starts signed out', async () => {
    const before = await ref.server.counters()
    const client = newClient(ref.server)
    assert.deepEqual(await ref.server.counters(), before)
    assert.equal(client.status().state, 'signed-out')
    assert.equal(client.isAuthenticated(), false)
    assert.equal(client.getStoredJwtToken(), null)
    assert.equal(client.isJwtTokenValid(), false)
    assert.equal((await rejection(client.getJwtToken())).code, 'E_LOGIN_REQUIRED')
  })
})

test.describe('login', () => {
  test('good credentials give a verified JWT and a valid status', async () => {
    const client = newClient(ref.server)
    const status = await client.login({ email: ref.server.user.email, password: ref.server.user.password })
    assert.equal(status.state, 'valid')
    assert.equal(status.authenticated, true)
    assert.deepEqual(status.user, { id: '1', email: 'demo@example.com', displayName: 'Demo User', roles: ['user'] })
    const token = await client.getJwtToken()
    assert.equal(claimsOf(token).sub, '1')
    assert.equal(status.expiresAt, claimsOf(token).exp * 1000)
    assert.equal(client.getStoredJwtToken(), token)
    assert.equal(client.isJwtTokenValid(), true)
    assert.equal(client.isJwtTokenValid(token), true)
    const counters = await ref.server.counters()
    assert.deepEqual([counters.login, counters.token, counters.jwks], [1, 1, 1])
  })

  for (const [status, code] of [
    [503, 'E_SERVER'],
    [403, 'E_LOGIN_REQUIRED'],
  ]) {
    test(`a second login whose token step answers ${status} changes nothing: status, token, cookie, API session`, async () => {
      const client = await signedInClient(ref.server)
      const token = client.getStoredJwtToken()
      const whoAmI = async () => (await (await client.apiFetch('/api/user/status')).json()).user?.email
      assert.equal(await whoAmI(), 'demo@example.com')
      await ref.server.fault({ endpoint: 'token', status })
      const error = await rejection(client.login({ email: 'admin@example.com', password: 'admin-password' }))
      assert.equal(error.code, code)
      assert.equal(client.status().state, 'valid')
      assert.equal(client.status().user.email, 'demo@example.com')
      assert.equal(client.getStoredJwtToken(), token)
      assert.equal(await whoAmI(), 'demo@example.com', 'apiFetch() still goes out as the user signed in')
      assert.ok(client.isJwtTokenValid(await client.refreshJwtToken()), 'and that session still works at the API')
    })
  }

  test('a wrong password is E_INVALID_CREDENTIALS and leaves the client signed out', async () => {
    const client = newClient(ref.server)
    const error = await rejection(client.login({ email: ref.server.user.email, password: 'wrong-password' }))
    assert.equal(error.code, 'E_INVALID_CREDENTIALS')
    assert.ok(error instanceof Error)
    assert.equal(client.status().state, 'signed-out')
    assert.equal(client.status().lastError.code, 'E_INVALID_CREDENTIALS')
    assert.equal((await rejection(client.login({ email: '', password: '' }))).code, 'E_INVALID_CREDENTIALS')
  })

  test('with CSRF on, login works when paths.csrf is set and is E_CSRF when not', async () => {
    await ref.server.config({ csrf: true })
    const withCsrf = newClient(ref.server, { paths: { csrf: '/api/login' } })
    const status = await withCsrf.login({ email: ref.server.user.email, password: ref.server.user.password })
    assert.equal(status.state, 'valid')
    assert.equal((await ref.server.counters()).csrf, 1)
    const withoutCsrf = newClient(ref.server)
    const error = await rejection(withoutCsrf.login({ email: ref.server.user.email, password: ref.server.user.password }))
    assert.equal(error.code, 'E_CSRF')
  })

  test('a CSRF endpoint that answers garbage is E_CSRF', async () => {
    await ref.server.fault({ endpoint: 'csrf', status: 200, body: 'not json', contentType: 'text/plain' })
    const client = newClient(ref.server, { paths: { csrf: '/api/login' } })
    assert.equal((await rejection(client.login(ref.server.user))).code, 'E_CSRF')
  })

  test('a server that is down is E_NETWORK', async () => {
    const client = new AuthClient({ baseUrl: await closedPortUrl(), storage: 'memory', account: 'down' })
    const error = await rejection(client.login({ email: 'a@b.c', password: 'pw' }))
    assert.equal(error.code, 'E_NETWORK')
    assert.equal(client.status().state, 'signed-out')
  })

  test('a server that hangs is E_TIMEOUT within requestTimeoutMs', async () => {
    await ref.server.fault({ endpoint: 'login', hang: true })
    const client = newClient(ref.server, { requestTimeoutMs: 300 })
    const started = Date.now()
    const error = await rejection(client.login(ref.server.user))
    assert.equal(error.code, 'E_TIMEOUT')
    assert.ok(Date.now() - started < 5000, 'the timeout bounds the wait')
    await ref.server.clearFaults()
  })

  test('5xx is E_SERVER; HTML, non-JSON and oversized bodies are E_BAD_RESPONSE', async () => {
    const cases = [
      [{ status: 503, body: 'down' }, 'E_SERVER'],
      [{ status: 200, body: '<html><body>hello</body></html>', contentType: 'text/html' }, 'E_BAD_RESPONSE'],
      [{ status: 200, body: { token_type: 'Bearer' } }, 'E_BAD_RESPONSE'],
      [{ status: 200, body: { access_token: 42 } }, 'E_BAD_RESPONSE'],
      [{ status: 200, body: 'x'.repeat(2 * 1024 * 1024), contentType: 'application/json' }, 'E_BAD_RESPONSE'],
    ]
    for (const [fault, code] of cases) {
      await ref.server.fault({ endpoint: 'token', ...fault })
      const client = newClient(ref.server)
      const error = await rejection(client.login(ref.server.user))
      assert.equal(error.code, code, JSON.stringify(fault).slice(0, 80))
      assert.equal(client.getStoredJwtToken(), null)
    }
  })

  test('redirects are not followed to http:// nor to another origin', async () => {
    await ref.server.fault({ endpoint: 'token', status: 302, headers: { Location: 'http://api.example.com/steal' } })
    assert.equal((await rejection(newClient(ref.server).login(ref.server.user))).code, 'E_INSECURE_URL')
    await ref.server.fault({ endpoint: 'token', status: 307, headers: { Location: 'https://other.example.com/token' } })
    assert.equal((await rejection(newClient(ref.server).login(ref.server.user))).code, 'E_BAD_RESPONSE')
  })
})

test.describe('verification', () => {
  async function loginWithIssuedToken(token, options = {}) {
    await ref.server.fault({ endpoint: 'token', status: 200, body: { access_token: token, token_type: 'Bearer' } })
    const client = newClient(ref.server, options)
    const error = await rejection(client.login(ref.server.user))
    assert.equal(client.getStoredJwtToken(), null, 'an invalid token is never stored')
    return error
  }

  test('alg none is refused', async () => {
    const token = await ref.server.sign({ alg: 'none' })
    assert.equal((await loginWithIssuedToken(token)).code, 'E_TOKEN_INVALID')
  })

  test('HS256 signed with the public key (algorithm confusion) is refused, even if listed', async () => {
    const token = await ref.server.sign({ alg: 'HS256', hsSecret: 'public_pem' })
    const error = await loginWithIssuedToken(token, { algorithms: ['RS256', 'HS256'] })
    assert.equal(error.code, 'E_TOKEN_INVALID')
  })

  test('a wrong issuer or audience is refused when configured', async () => {
    const signed = await signedInClient(ref.server)
    const token = await signed.getJwtToken()
    const strict = newClient(ref.server, { issuer: 'someone-else' })
    assert.equal((await rejection(strict.login(ref.server.user))).code, 'E_TOKEN_INVALID')
    const audience = newClient(ref.server, { audience: ['other-app'] })
    assert.equal((await rejection(audience.login(ref.server.user))).code, 'E_TOKEN_INVALID')
    const matching = newClient(ref.server, { issuer: claimsOf(token).iss, audience: ['x', claimsOf(token).aud] })
    assert.equal((await matching.login(ref.server.user)).state, 'valid')
  })

  test('an expired token and a token from the future are refused', async () => {
    const client = await signedInClient(ref.server)
    const expired = await ref.server.sign({ claims: { exp: Math.floor(Date.now() / 1000) - 120 } })
    const future = await ref.server.sign({
      claims: { iat: Math.floor(Date.now() / 1000) + 3600, nbf: Math.floor(Date.now() / 1000) + 3600 },
    })
    assert.equal(client.isJwtTokenValid(expired), false)
    assert.equal(client.isJwtTokenValid(future), false)
    assert.equal(client.isJwtTokenValid(await ref.server.sign({})), true)
    assert.equal(client.isJwtTokenValid('not.a.jwt'), false)
  })

  test('a key rotated after the last JWKS fetch is fetched once and works', async () => {
    const client = await signedInClient(ref.server)
    const before = await client.getJwtToken()
    await ref.server.rotate({ keepOld: false })
    const after = await client.refreshJwtToken()
    assert.notEqual(after, before)
    assert.equal(client.isJwtTokenValid(after), true)
    assert.equal((await ref.server.counters()).jwks, 2)
  })

  test('a key the API withdraws stops being trusted once the cached JWKS is older than jwksMaxAgeSeconds', async () => {
    const client = await signedInClient(ref.server, { jwksMaxAgeSeconds: 1 })
    const signingKid = JSON.parse(Buffer.from(client.getStoredJwtToken().split('.')[0], 'base64url')).kid
    const published = await (await fetch(`${ref.server.url}/api/jwt/jwks`)).json()
    // The API still signs with the key but no longer publishes it: it was withdrawn.
    await ref.server.setJwks({ keys: published.keys.filter((key) => key.kid !== signingKid) })
    const fetched = (await ref.server.counters()).jwks
    const withinMaxAge = await client.refreshJwtToken()
    assert.equal((await ref.server.counters()).jwks, fetched, 'fresh keys are not refetched')
    await sleep(1100)
    assert.equal((await rejection(client.refreshJwtToken())).code, 'E_TOKEN_INVALID')
    // Past the max age the keys are refetched (and, as the kid is now unknown, looked up once
    // more when the token endpoint's answer is verified after the refresh endpoint's).
    const refetched = (await ref.server.counters()).jwks - fetched
    assert.ok(refetched >= 1 && refetched <= 2, `refetched past the max age (${refetched})`)
    assert.equal(client.getStoredJwtToken(), withinMaxAge, 'the token in use is kept')
    assert.equal(client.isJwtTokenValid(withinMaxAge), false, 'and no longer verifies with the fresh keys')
  })

  test('the same unknown kid causes one JWKS fetch within the cooldown', async () => {
    const client = await signedInClient(ref.server)
    const good = client.getStoredJwtToken()
    const unknown = await ref.server.sign({ kid: 'never-published' })
    await ref.server.fault({ endpoint: 'refresh', status: 500, count: 3 })
    await ref.server.fault({ endpoint: 'token', status: 200, body: { access_token: unknown }, count: 3 })
    for (let i = 0; i < 3; i++) {
      assert.equal((await rejection(client.refreshJwtToken())).code, 'E_TOKEN_INVALID')
    }
    assert.equal((await ref.server.counters()).jwks, 2, 'one fetch at login, one for the unknown kid')
    assert.equal(client.getStoredJwtToken(), good, 'the good token is kept')
  })

  test('a token already expired when issued (inside the leeway) is refused, never handed out', async () => {
    const client = await signedInClient(ref.server)
    const good = client.getStoredJwtToken()
    await ref.server.config({ lifetime: -1 })
    assert.equal((await rejection(client.refreshJwtToken())).code, 'E_TOKEN_INVALID')
    assert.equal(client.getStoredJwtToken(), good)
    assert.equal((await rejection(newClient(ref.server).login(ref.server.user))).code, 'E_TOKEN_INVALID')
  })

  test('ES256 tokens verify', async () => {
    await ref.server.config({ algorithm: 'ES256' })
    const client = await signedInClient(ref.server)
    const token = await client.getJwtToken()
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')).alg, 'ES256')
    assert.equal(client.isJwtTokenValid(), true)
  })
})

test.describe('refresh', () => {
  test('a token past its lifetime is never handed out: a new one replaces it', async () => {
    await ref.server.config({ lifetime: 2 })
    const client = await signedInClient(ref.server)
    const first = await client.getJwtToken()
    await sleep(2200)
    const second = await client.getJwtToken()
    assert.notEqual(second, first)
    assert.ok(claimsOf(second).exp > claimsOf(first).exp)
    assert.ok(claimsOf(second).exp * 1000 > Date.now())
    assert.ok((await ref.server.counters()).refresh >= 1)
  })

  test('a failing refresh endpoint falls back to the token endpoint', async () => {
    const client = await signedInClient(ref.server)
    await ref.server.fault({ endpoint: 'refresh', status: 500 })
    const token = await client.refreshJwtToken()
    assert.equal(client.isJwtTokenValid(token), true)
    const counters = await ref.server.counters()
    assert.deepEqual([counters.refresh, counters.token], [1, 2])
  })

  test('paths.refresh: null uses the token endpoint only', async () => {
    const client = await signedInClient(ref.server, { paths: { refresh: null } })
    await client.refreshJwtToken()
    const counters = await ref.server.counters()
    assert.deepEqual([counters.refresh, counters.token], [0, 2])
  })

  test('a session the server forgot is E_LOGIN_REQUIRED and state login-required', async () => {
    const client = await signedInClient(ref.server)
    await ref.server.expireSessions()
    const error = await rejection(client.refreshJwtToken())
    assert.equal(error.code, 'E_LOGIN_REQUIRED')
    assert.equal(client.status().state, 'login-required')
    assert.equal(client.isAuthenticated(), false)
    assert.equal(client.getStoredJwtToken(), null)
    assert.equal((await rejection(client.getJwtToken())).code, 'E_LOGIN_REQUIRED')
  })

  test('a failed refresh keeps the still-valid token', async () => {
    const client = await signedInClient(ref.server)
    const token = client.getStoredJwtToken()
    await ref.server.fault({ endpoint: 'refresh', status: 502 })
    await ref.server.fault({ endpoint: 'token', status: 502 })
    assert.equal((await rejection(client.refreshJwtToken())).code, 'E_SERVER')
    assert.equal(client.getStoredJwtToken(), token)
    assert.equal(await client.getJwtToken(), token)
    assert.equal(client.isAuthenticated(), true)
  })

  test('1000 concurrent callers on an expired token cause exactly one token request', async () => {
    const { tokens, stale, stateDuringStorm } = await stormOnExpiredToken(ref.server, () => signedInClient(ref.server), 1000)
    assert.equal(stateDuringStorm, 'refreshing')
    const after = await ref.server.counters()
    assert.equal(new Set(tokens).size, 1, 'every caller got the same token')
    assert.notEqual(tokens[0], stale)
    assert.equal(after.token, 1, 'the login')
    assert.equal(after.refresh, 1, 'one refresh for all 1000 callers')
  })

  test('callers of getJwtToken() while one call runs share its promise, until it settles or the session changes', async () => {
    const client = await signedInClient(ref.server)
    const first = client.getJwtToken()
    assert.equal(client.getJwtToken(), first, 'a caller meanwhile gets the same promise')
    const token = await first
    assert.notEqual(client.getJwtToken(), first, 'a settled call is not handed out again')
    const beforeLogout = client.getJwtToken()
    beforeLogout.catch(() => {}) // settles either way: whichever of the two the core does first
    const logout = client.logout()
    assert.equal(client.getStoredJwtToken(), null, 'signed out when logout() is called, not when its work runs')
    const afterLogout = client.getJwtToken()
    const afterLogoutOutcome = rejection(afterLogout)
    assert.notEqual(afterLogout, beforeLogout, 'no caller after logout() gets a promise from before it')
    await logout
    assert.equal((await afterLogoutOutcome).code, 'E_LOGIN_REQUIRED')
    assert.equal(typeof token, 'string')
  })

  test('1000 concurrent forced refreshes share one request, failures included', async () => {
    const client = await signedInClient(ref.server)
    await ref.server.fault({ endpoint: 'refresh', status: 500, count: -1 })
    await ref.server.fault({ endpoint: 'token', status: 500, count: -1 })
    const before = await ref.server.counters()
    const outcomes = await Promise.allSettled(Array.from({ length: 1000 }, () => client.refreshJwtToken()))
    const after = await ref.server.counters()
    assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason.code === 'E_SERVER'))
    assert.equal(after.refresh - before.refresh, 1)
    assert.equal(after.token - before.token, 1)
    await ref.server.clearFaults()
  })
})

test.describe('logout and restore', () => {
  test('logout wipes the session and never fails because the server is down', async () => {
    const client = await signedInClient(ref.server)
    await ref.server.fault({ endpoint: 'logout', status: 500 })
    await client.logout()
    assert.equal(client.status().state, 'signed-out')
    assert.equal(client.getStoredJwtToken(), null)
    const down = await signedInClient(ref.server, { requestTimeoutMs: 300 })
    await ref.server.fault({ endpoint: 'logout', hang: true })
    await down.logout()
    assert.equal(down.isAuthenticated(), false)
    await ref.server.clearFaults()
  })

  test('a refresh in flight during logout does not bring the token back', async () => {
    const client = await signedInClient(ref.server)
    await ref.server.fault({ endpoint: 'refresh', delayMs: 500 })
    const refreshing = client.refreshJwtToken()
    await sleep(100)
    await client.logout()
    assert.equal((await rejection(refreshing)).code, 'E_LOGIN_REQUIRED')
    assert.equal(client.getStoredJwtToken(), null)
    assert.equal(client.status().state, 'signed-out')
  })

  test('a logout() called right after login() or restore() wins, whichever the runtime runs first', async () => {
    const client = newClient(ref.server, { account: 'logout-right-after' })
    const login = rejection(client.login(ref.server.user))
    await client.logout()
    assert.equal((await login).code, 'E_LOGIN_REQUIRED')
    assert.equal(client.status().state, 'signed-out')
    await client.login(ref.server.user)
    const later = newClient(ref.server, { account: 'logout-right-after' })
    const restoring = later.restore()
    await later.logout()
    // A restore from the memory store may finish before the next line runs; either way
    // the logout comes last.
    await restoring
    assert.equal(later.status().state, 'signed-out')
    assert.equal(later.getStoredJwtToken(), null)
    assert.equal((await newClient(ref.server, { account: 'logout-right-after' }).restore()).state, 'signed-out', 'nothing left stored')
  })

  test('restore() then logout(), 300 times: the logout wins every time', async () => {
    // A store that keeps the one session whatever is cleared, so every round restores it.
    let record = null
    const keeper = { load: () => record, save: (saved) => (record = saved), clear: () => {} }
    const options = { storage: keeper, account: 'restore-then-logout' }
    await signedInClient(ref.server, options)
    assert.equal((await newClient(ref.server, options).restore()).state, 'valid', 'each round has a session to restore')
    for (let round = 0; round < 300; round++) {
      const later = newClient(ref.server, options)
      const restoring = later.restore()
      // 0-200 µs on this thread first: the restore (on a worker) has not begun, has passed
      // its first check, or waits for the store's answer, which needs this thread.
      const until = process.hrtime.bigint() + BigInt(Math.floor(Math.random() * 200_000))
      while (process.hrtime.bigint() < until) {}
      await later.logout()
      await restoring
      assert.equal(later.status().state, 'signed-out', `round ${round}`)
      assert.equal(later.getStoredJwtToken(), null, `round ${round}`)
    }
  })

  test('restore in the same process brings the session back without network', async () => {
    const first = await signedInClient(ref.server, { account: 'restore-same-process' })
    const token = first.getStoredJwtToken()
    const before = await ref.server.counters()
    const second = newClient(ref.server, { account: 'restore-same-process' })
    const status = await second.restore()
    assert.equal(status.state, 'valid')
    assert.equal(status.user.email, 'demo@example.com')
    assert.equal(second.getStoredJwtToken(), token)
    assert.equal(second.isJwtTokenValid(), true, 'the stored keys verify it offline')
    assert.deepEqual(await ref.server.counters(), before, 'zero requests')
    await second.logout()
    const third = newClient(ref.server, { account: 'restore-same-process' })
    assert.equal((await third.restore()).state, 'signed-out')
  })
})

test.describe('events and secrets', () => {
  test('status events follow every change, once each, and unsubscribe works', async () => {
    const client = newClient(ref.server)
    const states = []
    const unsubscribe = client.onStatusChange((status) => states.push(status.state))
    await client.login(ref.server.user)
    await client.refreshJwtToken()
    await settle()
    unsubscribe()
    await client.logout()
    await settle()
    assert.deepEqual(states, ['valid', 'refreshing', 'valid'])
  })

  test('status() is a frozen snapshot: the same object until the status changes', async () => {
    const client = newClient(ref.server)
    const signedOut = client.status()
    assert.equal(client.status(), signedOut, 'unchanged: the same object')
    assert.ok(Object.isFrozen(signedOut))
    await client.login(ref.server.user)
    const valid = client.status()
    assert.notEqual(valid, signedOut)
    assert.equal(valid.state, 'valid')
    assert.equal(client.status(), valid)
    assert.ok(Object.isFrozen(valid.user) && Object.isFrozen(valid.user.roles), 'shared, so frozen all the way down')
    assert.throws(() => valid.user.roles.push('admin'), TypeError)
    assert.equal(signedOut.state, 'signed-out', 'an older snapshot keeps what it showed')
    await client.logout()
    const again = client.status()
    assert.notEqual(again, valid)
    assert.deepEqual(again, signedOut)
    await rejection(client.login({ email: ref.server.user.email, password: 'not-the-password' }))
    const failed = client.status()
    assert.equal(failed.lastError.code, 'E_INVALID_CREDENTIALS')
    assert.ok(Object.isFrozen(failed.lastError))
  })

  test('algorithms that are never accepted are warned about once, when the client is first used', async () => {
    const client = newClient(ref.server, { algorithms: ['RS256', 'ES256', 'HS256', 'none'] })
    const records = captureLogs(client)
    await client.login(ref.server.user)
    await client.logout()
    await client.login(ref.server.user)
    await settle()
    const warnings = records.filter((record) => record.message.includes('never accepted'))
    assert.equal(warnings.length, 1, JSON.stringify(records))
    assert.equal(warnings[0].level, 'warn')
    assert.deepEqual(warnings[0].fields, { ignored: 'HS256,none' })
  })

  test('a throwing status callback does not break the client: it is reported as a process warning', async () => {
    const client = newClient(ref.server)
    const calls = []
    client.onStatusChange((status) => {
      calls.push(status.state)
      throw new Error('listener bug')
    })
    const warnings = []
    const onWarning = (warning) => warnings.push(warning.message)
    process.on('warning', onWarning)
    try {
      const status = await client.login(ref.server.user)
      for (let turn = 0; turn < 100 && (calls.length === 0 || warnings.length === 0); turn++) await settle()
      assert.equal(status.state, 'valid')
      assert.equal(typeof (await client.getJwtToken()), 'string')
    } finally {
      process.removeListener('warning', onWarning)
    }
    assert.ok(calls.includes('valid'), `the listener ran (${calls})`)
    assert.ok(
      warnings.some((message) => message.includes('a listener threw: listener bug')),
      `warned: ${warnings}`
    )
  })

  test('no log record at trace level nor any error message contains the token or password', async () => {
    const password = ref.server.user.password
    // Forced refreshes unspaced: the second one reaches the API and meets the ended session.
    const client = newClient(ref.server, { logLevel: 'trace', refreshRetryMinMs: 1, refreshRetryMaxMs: 1 })
    const records = captureLogs(client)
    const messages = []
    messages.push((await rejection(client.login({ email: ref.server.user.email, password: 'wrong-secret-pw' }))).message)
    await client.login(ref.server.user)
    const tokens = [await client.getJwtToken(), await client.refreshJwtToken()]
    await ref.server.expireSessions()
    messages.push((await rejection(client.refreshJwtToken())).message)
    await client.logout()
    await settle()
    assert.ok(records.length >= 5, `records were captured (${records.length})`)
    const everything = JSON.stringify(records) + messages.join('\n')
    for (const secret of [password, 'wrong-secret-pw', ...tokens, ...tokens.map((t) => t.split('.')[2])]) {
      assert.equal(everything.includes(secret), false)
    }
  })
})
