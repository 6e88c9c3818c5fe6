'use strict'
// End-to-end check of the reference server and its harness:
//   node --test testing/flask_api/selftest.js
// Real HTTP, real session cookies, JWT signatures verified with node:crypto.

const { test, before, after, beforeEach } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { startReferenceServer } = require('../server')

let srv

before(async () => {
  srv = await startReferenceServer()
})
after(() => srv?.stop())
beforeEach(() => srv.reset({ sessions: true }))

// A browser-like client: one cookie jar, JSON helpers, optional CSRF header.
class Client {
  constructor() {
    this.cookies = new Map()
    this.setCookieHeaders = []
  }

  async request(method, path, { json, headers = {}, signal } = {}) {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(srv.url + path, {
      method,
      signal,
      headers: {
        accept: 'application/json',
        ...(cookie && { cookie }),
        ...(json !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      body: json === undefined ? undefined : JSON.stringify(json),
    })
    this.setCookieHeaders = response.headers.getSetCookie()
    for (const header of this.setCookieHeaders) {
      const [pair, ...attributes] = header.split(';')
      const [name, value] = pair.trim().split(/=(.*)/s)
      const expired = attributes.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a))
      if (expired || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    const text = await response.text()
    let body
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    return { status: response.status, headers: response.headers, body }
  }

  login(user = srv.user, headers) {
    return this.request('POST', '/api/login', { json: { ...user, remember: true }, headers })
  }

  token(headers) {
    return this.request('POST', '/api/jwt/token', { json: {}, headers })
  }
}

async function loggedInClient() {
  const client = new Client()
  const { status } = await client.login()
  assert.equal(status, 200)
  return client
}

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
}

async function fetchJwks() {
  const response = await fetch(`${srv.url}/api/jwt/jwks`)
  assert.equal(response.status, 200)
  return response.json()
}

// Verifies a compact JWS against the server's JWKS the way a relying party would.
async function verifyJwt(token) {
  const [headerPart, claimsPart, signaturePart] = token.split('.')
  const header = decodePart(headerPart)
  const jwk = (await fetchJwks()).keys.find((key) => key.kid === header.kid)
  assert.ok(jwk, `kid ${header.kid} is published in the JWKS`)
  assert.equal(jwk.alg, header.alg)
  const signature = Buffer.from(signaturePart, 'base64url')
  const signingInput = Buffer.from(`${headerPart}.${claimsPart}`)
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' })
  // JWS ES256 signatures are raw r||s, not DER.
  const options = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key
  assert.ok(crypto.verify('sha256', signingInput, options, signature), `${header.alg} signature verifies`)
  return { header, claims: decodePart(claimsPart), jwk }
}

test("Flask-Security's login sets an HttpOnly session cookie; bad credentials and malformed bodies are 400", async () => {
  const client = new Client()
  const ok = await client.login()
  assert.equal(ok.status, 200)
  assert.deepEqual(ok.body.response.user, {
    id: '1',
    email: 'demo@example.com',
    display_name: 'Demo User',
    roles: ['user'],
  })
  assert.equal(typeof ok.body.response.csrf_token, 'string', 'every JSON answer of Flask-Security carries a CSRF token')
  const sessionCookie = client.setCookieHeaders.find((h) => h.startsWith('session='))
  assert.match(sessionCookie, /HttpOnly/i)
  assert.deepEqual((await client.request('GET', '/api/user/status')).body, {
    authenticated: true,
    user: ok.body.response.user,
  })

  const admin = await new Client().login(srv.users.admin)
  assert.deepEqual(admin.body.response.user.roles, ['admin', 'user'])

  const wrong = await new Client().login({ email: 'demo@example.com', password: 'nope' })
  assert.deepEqual([wrong.status, wrong.body.response.errors], [400, ['Invalid password']])
  const malformed = await new Client().request('POST', '/api/login', { json: { email: 42 } })
  assert.equal(malformed.status, 400)
  assert.ok(malformed.body.response.errors.length > 0)

  assert.deepEqual((await new Client().request('GET', '/api/user/status')).body, { authenticated: false })
  assert.equal((await new Client().token()).status, 401, 'no session, no token')
})

test('tokens verify against the JWKS with RS256, then ES256', async () => {
  const client = await loggedInClient()
  const rs = await client.token()
  assert.equal(rs.status, 200)
  assert.equal(rs.body.token_type, 'Bearer')
  assert.equal(rs.body.expires_in, 900)
  const { header, claims, jwk } = await verifyJwt(rs.body.access_token)
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ'])
  assert.equal(header.typ, 'JWT')
  assert.equal(header.alg, 'RS256')
  assert.equal(jwk.kty, 'RSA')
  assert.equal(jwk.use, 'sig')
  assert.equal(claims.sub, '1')
  assert.equal(claims.email, 'demo@example.com')
  assert.equal(claims.iss, 'symbiote-reference')
  assert.equal(claims.aud, 'symbiote-desktop')
  assert.equal(claims.exp - claims.iat, 900)
  assert.equal(claims.nbf, claims.iat)
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 5)
  assert.ok(claims.jti.length >= 16)

  const kinds = (await fetchJwks()).keys.map((key) => `${key.kty}:${key.alg}`).sort()
  assert.deepEqual(kinds, ['EC:ES256', 'RSA:RS256'])

  await srv.config({ algorithm: 'ES256', lifetime: 60, issuer: 'other-issuer', audience: ['a', 'b'] })
  const es = await client.token()
  assert.equal(es.body.expires_in, 60)
  const verified = await verifyJwt(es.body.access_token)
  assert.equal(verified.header.alg, 'ES256')
  assert.deepEqual([verified.jwk.kty, verified.jwk.crv], ['EC', 'P-256'])
  assert.equal(verified.claims.exp - verified.claims.iat, 60)
  assert.equal(verified.claims.iss, 'other-issuer')
  assert.deepEqual(verified.claims.aud, ['a', 'b'])
})

test('refresh needs a valid bearer from this server and a live session', async () => {
  const client = await loggedInClient()
  const first = (await client.token()).body.access_token
  const refreshed = await client.request('POST', '/api/jwt/refresh', { headers: { authorization: `Bearer ${first}` } })
  assert.equal(refreshed.status, 200)
  assert.equal(refreshed.body.token_type, 'Bearer')
  const { claims } = await verifyJwt(refreshed.body.access_token)
  assert.notEqual(claims.jti, decodePart(first.split('.')[1]).jti)

  const refreshWith = (token, who = client) =>
    who.request('POST', '/api/jwt/refresh', { headers: token ? { authorization: `Bearer ${token}` } : {} })
  assert.equal((await refreshWith(null)).status, 401, 'no bearer')
  const [h, c, s] = first.split('.')
  const tampered = `${h}.${c}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`
  assert.equal((await refreshWith(tampered)).status, 401, 'bad signature')
  assert.equal((await refreshWith(await srv.sign({ alg: 'none' }))).status, 401, 'alg none')
  assert.equal((await refreshWith(await srv.sign({ alg: 'HS256' }))).status, 401, 'HS256 with the public key')
  assert.equal((await refreshWith(await srv.sign({ kid: 'unknown-kid' }))).status, 401, 'unknown kid')
  assert.equal((await refreshWith(await srv.sign({ lifetime: -60 }))).status, 200, 'expiry is ignored')
  assert.equal((await refreshWith(first, new Client())).status, 401, 'no session')
  const admin = new Client()
  await admin.login(srv.users.admin)
  assert.equal((await refreshWith(first, admin)).status, 401, "another user's token")
})

test('counters count each endpoint, but not control requests', async () => {
  const client = new Client()
  await client.request('GET', '/api/login')
  await client.login()
  await client.request('GET', '/api/user/status')
  await client.token()
  await client.token()
  await fetchJwks()
  await client.request('POST', '/api/jwt/refresh')
  await client.request('POST', '/api/logout')
  await srv.state()
  assert.deepEqual(await srv.counters(), { csrf: 1, login: 1, status: 1, token: 2, refresh: 1, jwks: 1, logout: 1 })
  await srv.reset()
  assert.deepEqual(await srv.counters(), { csrf: 0, login: 0, status: 0, token: 0, refresh: 0, jwks: 0, logout: 0 })
})

test('a fault answers the chosen status and body for `count` requests, and is counted', async () => {
  const client = await loggedInClient()
  await srv.fault({ endpoint: 'token', status: 500, body: { error: 'boom' }, headers: { 'x-injected': 'yes' }, count: 1 })
  const faulted = await client.token()
  assert.deepEqual([faulted.status, faulted.body], [500, { error: 'boom' }])
  assert.equal(faulted.headers.get('x-injected'), 'yes')
  assert.equal((await client.token()).status, 200, 'the fault applied once only')

  await srv.fault({ endpoint: 'jwks', status: 200, body: 'not json', contentType: 'application/json', count: -1 })
  for (let i = 0; i < 2; i++) {
    const response = await client.request('GET', '/api/jwt/jwks')
    assert.deepEqual([response.status, response.body], [200, 'not json'])
  }
  await srv.clearFaults()
  assert.ok((await client.request('GET', '/api/jwt/jwks')).body.keys)
  assert.equal((await srv.counters()).token, 2)
  assert.equal((await srv.counters()).jwks, 3)
})

test('delay runs the real handler late; hang holds one request while others proceed', async () => {
  const client = await loggedInClient()
  await srv.fault({ endpoint: 'token', delayMs: 300 })
  const started = Date.now()
  const delayed = await client.token()
  assert.ok(Date.now() - started >= 290, `took ${Date.now() - started} ms`)
  assert.equal(delayed.status, 200)
  assert.ok(delayed.body.access_token)

  await srv.fault({ endpoint: 'token', hang: true })
  const hanging = client.token()
  const status = await client.request('GET', '/api/user/status')
  assert.equal(status.body.authenticated, true, 'the server still answers while a request hangs')
  const abandoned = await Promise.race([hanging, new Promise((resolve) => setTimeout(() => resolve('still hanging'), 300))])
  assert.equal(abandoned, 'still hanging')
  await srv.clearFaults()
  assert.equal((await hanging).status, 200, 'clearing faults releases the hung request')
})

test('expired sessions get 401 from the token endpoint; logout ends a session', async () => {
  const client = await loggedInClient()
  assert.equal((await srv.state()).live_sessions, 1)
  assert.deepEqual(await srv.expireSessions(), { expired: 1 })
  assert.equal((await client.token()).status, 401)
  assert.deepEqual((await client.request('GET', '/api/user/status')).body, { authenticated: false })
  assert.equal((await srv.state()).live_sessions, 0)

  const other = await loggedInClient()
  const cookiesBeforeLogout = new Map(other.cookies)
  assert.deepEqual((await other.request('POST', '/api/logout')).body, { meta: { code: 200 }, response: {} })
  assert.equal((await other.token()).status, 401)
  assert.equal((await srv.state()).live_sessions, 0)
  const replay = new Client()
  replay.cookies = new Map([...cookiesBeforeLogout].filter(([name]) => name === 'session'))
  assert.equal((await replay.token()).status, 401, 'a session cookie replayed after logout is refused')
})

test('with CSRF on, POSTs need the token from GET /api/login', async () => {
  await srv.config({ csrf: true })
  const client = new Client()
  const refused = await client.login()
  assert.deepEqual([refused.status, refused.body.response.errors], [400, ['The CSRF token is missing.']])

  const csrf = await client.request('GET', '/api/login')
  const csrfToken = csrf.body.response.csrf_token
  assert.ok(csrfToken.length >= 32)
  assert.equal((await client.login(srv.user, { 'x-csrf-token': 'wrong' })).status, 400)
  assert.equal((await client.login(srv.user, { 'x-csrf-token': csrfToken })).status, 200)
  assert.equal((await client.token()).status, 400)
  assert.equal((await client.token({ 'x-csrf-token': csrfToken })).status, 200)

  const otherSession = new Client()
  const otherToken = (await otherSession.request('GET', '/api/login')).body.response.csrf_token
  assert.notEqual(otherToken, csrfToken, 'the CSRF token is per session')

  await srv.reset()
  assert.equal((await new Client().login()).status, 200, 'reset turns CSRF back off')
})

test('csrf_time_limit expires CSRF tokens the way WTF_CSRF_TIME_LIMIT does', async () => {
  await srv.config({ csrf: true, csrfTimeLimit: 1 })
  const client = new Client()
  const csrfToken = (await client.request('GET', '/api/login')).body.response.csrf_token
  assert.equal((await client.login(srv.user, { 'x-csrf-token': csrfToken })).status, 200)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const expired = await client.token({ 'x-csrf-token': csrfToken })
  assert.deepEqual([expired.status, expired.body.response.errors], [400, ['The CSRF token has expired.']])
  const fresh = (await client.request('GET', '/api/login')).body.response.csrf_token
  assert.equal((await client.token({ 'x-csrf-token': fresh })).status, 200)
})

test('rotate publishes a new kid and keeps or drops the old one', async () => {
  const client = await loggedInClient()
  const { current_kids: startKids } = await srv.state()
  const keptKid = await srv.rotate({ keepOld: true })
  assert.deepEqual((await srv.state()).kids.sort(), [startKids.RS256, startKids.ES256, keptKid].sort())

  const droppedKid = await srv.rotate({ keepOld: false })
  const kids = (await fetchJwks()).keys.map((key) => key.kid)
  assert.deepEqual(kids.sort(), [startKids.ES256, droppedKid].sort(), 'older RSA keys are gone')
  const { header } = await verifyJwt((await client.token()).body.access_token)
  assert.equal(header.kid, droppedKid)

  const ecKid = await srv.rotate({ keepOld: false, algorithm: 'ES256' })
  assert.deepEqual((await srv.state()).kids.sort(), [droppedKid, ecKid].sort())

  await srv.reset()
  assert.deepEqual((await srv.state()).kids.sort(), [startKids.RS256, startKids.ES256].sort(), 'reset restores the startup keys')
})

test('sign mints alg none, HS256 with the public key, and custom claims', async () => {
  const { current_kids: kids } = await srv.state()
  const none = await srv.sign({ alg: 'none' })
  assert.match(none, /^[\w-]+\.[\w-]+\.$/)
  assert.equal(decodePart(none.split('.')[0]).alg, 'none')

  const hs = await srv.sign({ alg: 'HS256' })
  const [h, c, s] = hs.split('.')
  assert.deepEqual(decodePart(h), { alg: 'HS256', kid: kids.RS256, typ: 'JWT' })
  const rsaJwk = (await fetchJwks()).keys.find((key) => key.kid === kids.RS256)
  const publicPem = crypto.createPublicKey({ key: rsaJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
  const expected = crypto.createHmac('sha256', publicPem).update(`${h}.${c}`).digest('base64url')
  assert.equal(s, expected, 'HMAC keyed with the RSA public key PEM')
  const hsCustom = (await srv.sign({ alg: 'HS256', hsSecret: 'shared' })).split('.')
  assert.equal(hsCustom[2], crypto.createHmac('sha256', 'shared').update(`${hsCustom[0]}.${hsCustom[1]}`).digest('base64url'))

  const custom = await srv.sign({ claims: { iss: 'evil', aud: null, extra: 1 }, lifetime: -10, kid: null, header: { cty: 'x' } })
  const customHeader = decodePart(custom.split('.')[0])
  assert.deepEqual(customHeader, { alg: 'RS256', typ: 'JWT', cty: 'x' })
  const customClaims = decodePart(custom.split('.')[1])
  assert.equal(customClaims.iss, 'evil')
  assert.equal(customClaims.extra, 1)
  assert.ok(!('aud' in customClaims))
  assert.equal(customClaims.exp - customClaims.iat, -10)

  const es = await srv.sign({ alg: 'ES256' })
  assert.equal((await verifyJwt(es)).header.kid, kids.ES256)
})

test('clock_offset shifts iat and the Date header', async () => {
  const client = await loggedInClient()
  await srv.config({ clockOffset: -3600 })
  const response = await client.token()
  const { claims } = await verifyJwt(response.body.access_token)
  const expectedNow = Date.now() / 1000 - 3600
  assert.ok(Math.abs(claims.iat - expectedNow) < 5, `iat ${claims.iat} vs ${expectedNow}`)
  const dateHeader = Date.parse(response.headers.get('date')) / 1000
  assert.ok(Math.abs(dateHeader - expectedNow) < 5, `Date ${response.headers.get('date')}`)
})

test('setJwks overrides the JWKS answer until null', async () => {
  await srv.setJwks({ keys: [] })
  assert.deepEqual(await fetchJwks(), { keys: [] })
  await srv.setJwks('{"keys": [', 503)
  const broken = await fetch(`${srv.url}/api/jwt/jwks`)
  assert.deepEqual([broken.status, await broken.text()], [503, '{"keys": ['])
  await srv.setJwks(null)
  assert.equal((await fetchJwks()).keys.length, 2)
})

test('control requests with unknown fields are refused', async () => {
  await assert.rejects(srv.config({ lifetme: 5 }), /400.*unknown field/)
  await assert.rejects(srv.fault({ endpoint: 'nope', status: 500 }), /400.*endpoint/)
})

test('stop ends the server process and is idempotent', async () => {
  const second = await startReferenceServer({ csrf: true })
  assert.notEqual(second.url, srv.url)
  const refused = await fetch(`${second.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  assert.equal(refused.status, 400, 'started with --csrf')
  await Promise.all([second.stop(), second.stop()])
  await second.stop()
  assert.throws(() => process.kill(second.pid, 0), { code: 'ESRCH' })
  await assert.rejects(fetch(`${second.url}/__control/state`))
})
