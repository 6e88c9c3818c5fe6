'use strict'
// doctor: each check of an API's setup in the order the client meets them. Every rule it
// applies (which URLs are allowed, the endpoints, the leeway, which keys verify, where the
// CSRF token is) is the addon's, asked through a client built from the same options.

const crypto = require('node:crypto')
const { EXIT_OK, EXIT_FAILED, UsageError } = require('./arguments')
const { Interrupted, readPassword } = require('./password')
const { describeExpiry, decodeJwtPart, printable, errorInfo, describeFailure, colours } = require('./output')
const { loadAuthClient, clientOptions } = require('./commands')
const { TransportFailure, probe, httpProblem } = require('./doctor-probe')

const pass = (detail) => ({ status: 'pass', detail })
const fail = (detail, fix) => ({ status: 'fail', detail, fix })
const skip = (detail) => ({ status: 'skip', detail })

// The addon for this platform: every other check asks it. When it is missing, the error
// (E_NATIVE_BINDING) names the platform and the package to install.
function checkNativeBinding() {
  try {
    loadAuthClient()
  } catch (error) {
    return fail(
      describeFailure(error),
      'install the platform package it names (npm install does so for a published release), or build from source with npm run build'
    )
  }
  return pass(`the addon for ${process.platform}-${process.arch} loaded`)
}

// The client itself judges the URL (and every other option): doctor builds one from them.
function checkUrl(context) {
  const AuthClient = loadAuthClient()
  let client
  try {
    client = new AuthClient(clientOptions(context.options))
  } catch (error) {
    const { code } = errorInfo(error)
    const fix =
      code === 'E_INSECURE_URL'
        ? 'serve the API over https://; http:// is accepted for loopback only'
        : 'pass the API origin, e.g. --base-url https://api.example.com, and options the client accepts'
    return fail(describeFailure(error), fix)
  }
  context.client = client
  context.config = client.configuration()
  const { baseUrl } = context.config
  // The client accepted it, so plain http here is loopback.
  if (baseUrl.startsWith('http:')) return pass(`${baseUrl} is plain http on loopback (allowed for development only)`)
  return pass(`${baseUrl} uses https`)
}

async function checkReachability(context) {
  const answer = await context.request(context.options.baseUrl)
  const tls = context.options.baseUrl.startsWith('https:') ? ', TLS certificate accepted' : ''
  return pass(`${context.options.baseUrl} answered HTTP ${answer.status}${tls}`)
}

async function checkCsrf(context) {
  if (!context.config.endpoints.csrf) {
    return skip('no --csrf-path: the client sends no CSRF token (pass it when the API wants X-CSRF-Token)')
  }
  const answer = await context.request(context.endpoint('csrf'))
  const problem = httpProblem(answer, `GET ${context.path('csrf')}`, '--csrf-path')
  if (problem) return fail(problem.detail, problem.fix)
  const { token } = context.client.inspectCsrfAnswer(answer.status, answer.text)
  if (!token) {
    return fail(
      `GET ${context.path('csrf')} answered HTTP ${answer.status} without response.csrf_token or csrf_token`,
      'answer GET with Accept: application/json as Flask-Security does: {"response": {"csrf_token": …}}'
    )
  }
  context.csrfToken = token
  context.cookies = answer.setCookies.map((cookie) => cookie.split(';', 1)[0]).join('; ')
  return pass(`GET ${context.path('csrf')} gave a CSRF token`)
}

// A refusal for want of a CSRF token (as the client reads one) while doctor sent none: the
// API has CSRF on, the setup has not.
function csrfRefusal(context, answer, where) {
  if (context.csrfToken || !context.client.inspectCsrfAnswer(answer.status, answer.text).refused) return null
  return fail(
    `${where} refused the request for a missing CSRF token`,
    'the API wants X-CSRF-Token: pass --csrf-path (and paths.csrf in the app)'
  )
}

async function checkLoginEndpoint(context) {
  const path = context.path('login')
  // A random account that cannot exist, so no real account is ever locked out.
  const random = crypto.randomBytes(12).toString('hex')
  const answer = await context.request(context.endpoint('login'), {
    method: 'POST',
    body: { email: `doctor-${random}@example.invalid`, password: crypto.randomBytes(18).toString('base64url'), remember: false },
    headers: context.csrfToken ? { 'x-csrf-token': context.csrfToken } : {},
    cookies: context.cookies,
  })
  const problem = httpProblem(answer, `POST ${path}`, '--login-path')
  if (problem) return fail(problem.detail, problem.fix)
  if (answer.status === 200) {
    return fail(`POST ${path} accepted a random email and password`, 'the endpoint must refuse bad credentials with HTTP 400 or 401')
  }
  if (answer.status !== 400 && answer.status !== 401) {
    return fail(
      `POST ${path} answered HTTP ${answer.status} to bad credentials`,
      'refuse bad credentials with HTTP 400 or 401 and a JSON body'
    )
  }
  if (answer.json === undefined) {
    return fail(
      `POST ${path} answered HTTP ${answer.status} with a body that is not JSON`,
      'answer with JSON, e.g. {"success": false, "error": "…"}'
    )
  }
  return (
    csrfRefusal(context, answer, `POST ${path}`) ?? pass(`POST ${path} refused a random account with HTTP ${answer.status} and a JSON body`)
  )
}

// Keys whose publication is itself the problem: whoever holds them can sign for anyone.
const EXPOSED = new Set(['private', 'symmetric'])

// The JWKS as the client reads it (the addon's parser): which keys verify which of the
// client's algorithms, and why the others are skipped.
async function checkJwks(context) {
  const path = context.path('jwks')
  const answer = await context.request(context.endpoint('jwks'))
  const problem = httpProblem(answer, `GET ${path}`, '--jwks-path')
  if (problem) return fail(problem.detail, problem.fix)
  if (answer.status !== 200) return fail(`GET ${path} answered HTTP ${answer.status}`, 'serve the JWKS with HTTP 200')
  const shape = 'serve the public keys as a JWKS: {"keys": [{kty, kid, use: "sig", alg, …}]}'
  let report
  try {
    report = context.client.inspectJwks(answer.text)
  } catch (error) {
    return fail(`GET ${path}: ${describeFailure(error)}`, shape)
  }
  const kid = (key) => `kid ${key.kid ?? 'none'}`
  const skipped = report.skipped.map((key) => `${kid(key)}: ${key.reason}`)
  const exposed = report.skipped.find((key) => EXPOSED.has(key.code))
  if (exposed) {
    return fail(`the JWKS publishes ${kid(exposed)}: ${exposed.reason}`, 'publish only public signing keys, and replace the exposed key')
  }
  const algorithms = context.config.algorithms.join(', ')
  const verifying = report.keys.filter((key) => key.verifies.length > 0)
  if (verifying.length === 0) {
    const why = [...report.keys.map((key) => `${kid(key)}: verifies none of ${algorithms}`), ...skipped]
    return fail(
      `no key the client would verify with (${why.join('; ') || 'the list is empty'})`,
      `publish the signing key (use "sig"), or list its algorithm in --algorithms (now ${algorithms})`
    )
  }
  const listed = verifying.map((key) => `${key.verifies.join('/')} (${kid(key)})`).join(', ')
  const note = skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : ''
  return pass(`${verifying.length} key${verifying.length === 1 ? '' : 's'}: ${listed}${note}`)
}

async function checkTokenEndpoint(context) {
  const path = context.path('token')
  const answer = await context.request(context.endpoint('token'), {
    method: 'POST',
    body: {},
    headers: context.csrfToken ? { 'x-csrf-token': context.csrfToken } : {},
    cookies: context.cookies,
  })
  const problem = httpProblem(answer, `POST ${path}`, '--token-path')
  if (problem) return fail(problem.detail, problem.fix)
  if (answer.status === 401) return pass(`POST ${path} without a session answered HTTP 401, as expected`)
  if (answer.status === 200)
    return fail(`POST ${path} issued a token without a session`, 'require a signed-in session (session cookie) on the token endpoint')
  return (
    csrfRefusal(context, answer, `POST ${path}`) ??
    fail(
      `POST ${path} without a session answered HTTP ${answer.status}, not 401`,
      'answer 401 when the session is not recognised: the client then asks the user to sign in'
    )
  )
}

const SIGN_IN_FIXES = {
  E_INVALID_CREDENTIALS: 'check the email and the password piped on stdin',
  E_TOKEN_INVALID:
    'sign with a key the JWKS publishes (matching kid), an algorithm of --algorithms, and issue iss/aud as --issuer/--audience say',
  E_BAD_RESPONSE: 'the token endpoint must answer {"access_token": "<JWT>"}',
  E_CSRF: 'pass --csrf-path',
}

async function checkSignature(context) {
  if (!context.options.email) return skip('pass --email (and the password on stdin) to sign in and verify a real JWT')
  const password = await readPassword(context.io, `Password for ${context.options.email}: `)
  // A throwaway memory session: the user's stored session is left alone.
  const client = context.newClient({ storage: 'memory', account: `doctor-${crypto.randomBytes(6).toString('hex')}` })
  try {
    const status = await client.login({ email: context.options.email, password, remember: false })
    const token = client.getStoredJwtToken()
    const { alg, kid } = decodeJwtPart(token, 0)
    return pass(
      `signed in as ${status.user.email}; the ${alg} JWT (kid ${kid}) verifies against the JWKS, expires ${describeExpiry(status.expiresAt)}`
    )
  } catch (error) {
    return fail(`sign-in failed: ${describeFailure(error)}`, SIGN_IN_FIXES[errorInfo(error).code] ?? 'see the message')
  } finally {
    await client.logout().catch(() => {})
  }
}

function checkClock(context) {
  if (context.clockSkewMs === null) return skip('the server sent no Date header')
  // The Date header has a resolution of one second.
  const skewSeconds = Math.round(context.clockSkewMs / 1000)
  const direction = skewSeconds > 0 ? 'ahead of' : 'behind'
  if (Math.abs(skewSeconds) <= 1) return pass('the server clock agrees with this machine')
  const detail = `the server clock is ${Math.abs(skewSeconds)} s ${direction} this machine`
  const { leewaySeconds } = context.config
  if (Math.abs(skewSeconds) <= leewaySeconds) return pass(`${detail} (within the ${leewaySeconds} s leeway)`)
  return fail(
    detail,
    'synchronise both clocks with NTP; the client follows the server clock, but other verifiers (MCP servers) on this machine will see the JWTs as not yet valid or expired'
  )
}

async function checkCredentialStore(context) {
  const storage = context.options.storage ?? 'keyring'
  if (storage === 'memory') return pass('--storage memory: nothing is kept between runs, nothing to check')
  const client = context.newClient({})
  try {
    await client.checkStorage()
    return pass(
      `the OS credential store answers (service ${context.options.keyringService ?? 'symbiote'}, account ${context.options.account ?? 'default'})`
    )
  } catch (error) {
    return fail(
      describeFailure(error),
      'unlock or install the OS credential store (Linux: a Secret Service such as gnome-keyring or KWallet); --storage memory runs the CLI without one, storageFallback: "memory" the app'
    )
  }
}

// In the order the client meets them. `network` checks are skipped once the API is unreachable.
// `stopsAll`: every later check needs what it checks.
const DOCTOR_CHECKS = [
  { name: 'native-binding', label: 'native addon', run: checkNativeBinding, stopsAll: true },
  { name: 'url', label: 'URL scheme', run: checkUrl, stopsOnFailure: true },
  { name: 'reachability', label: 'reachability and TLS', run: checkReachability, network: true, stopsOnFailure: true },
  { name: 'csrf', label: 'CSRF endpoint', run: checkCsrf, network: true },
  { name: 'login-endpoint', label: 'login endpoint', run: checkLoginEndpoint, network: true },
  { name: 'jwks', label: 'JWKS', run: checkJwks, network: true },
  { name: 'token-endpoint', label: 'token endpoint', run: checkTokenEndpoint, network: true },
  { name: 'signature', label: 'signature verification', run: checkSignature, network: true },
  { name: 'clock', label: 'clock skew', run: checkClock, network: true },
  { name: 'credential-store', label: 'credential store', run: checkCredentialStore },
]
const LABEL_WIDTH = Math.max(...DOCTOR_CHECKS.map((check) => check.label.length))

const STATUS_COLOUR = { pass: 'green', fail: 'red', skip: 'yellow' }

function formatCheck(check, result, paint) {
  const status = paint[STATUS_COLOUR[result.status]](result.status.toUpperCase().padEnd(4))
  const line = `${check.label.padEnd(LABEL_WIDTH)}  ${result.detail}`
  return `${status}  ${printable(result.fix ? `${line}. Fix: ${result.fix}` : line)}`
}

async function runDoctor(options, io) {
  if (!options.baseUrl) throw new UsageError('doctor needs --base-url')
  const paint = colours(io.stdout, io.env)
  const context = {
    options,
    io,
    // Set by the URL check, which every network check follows: the client built from the
    // options, and its resolved configuration.
    client: null,
    config: null,
    csrfToken: null,
    cookies: '',
    clockSkewMs: null,
    endpoint: (name) => context.config.endpoints[name],
    path: (name) => new URL(context.endpoint(name)).pathname,
    async request(url, init = {}) {
      const answer = await probe(url, { ...init, timeoutMs: context.config.requestTimeoutMs })
      context.clockSkewMs ??= answer.clockSkewMs
      return answer
    },
    newClient(overrides) {
      const AuthClient = loadAuthClient()
      // checkStorage() needs a client; when the options are unusable any valid one will do.
      const baseUrl = context.config ? options.baseUrl : 'https://localhost'
      return new AuthClient(clientOptions(options, { baseUrl, ...overrides }))
    },
  }
  const results = new Map()
  let stoppedBy = null
  let stoppedAllBy = null
  for (const check of DOCTOR_CHECKS) {
    let result
    if (stoppedAllBy || (stoppedBy && check.network)) {
      result = skip(`skipped: ${stoppedAllBy ?? stoppedBy} failed`)
    } else {
      try {
        result = await check.run(context)
      } catch (error) {
        if (error instanceof UsageError || error instanceof Interrupted) throw error
        result =
          error instanceof TransportFailure
            ? fail(error.message, error.fix)
            : fail(`unexpected failure: ${describeFailure(error)}`, 'run again; if it persists, report this line')
      }
    }
    results.set(check.name, result)
    if (result.status === 'fail' && check.stopsOnFailure) stoppedBy ??= check.label
    if (result.status === 'fail' && check.stopsAll) stoppedAllBy ??= check.label
    if (!options.json) io.stdout.write(`${formatCheck(check, result, paint)}\n`)
  }
  const ok = [...results.values()].every((result) => result.status !== 'fail')
  if (options.json) {
    const checks = DOCTOR_CHECKS.map(({ name, label }) => ({ name, label, ...results.get(name) }))
    io.stdout.write(`${JSON.stringify({ ok, checks })}\n`)
  }
  return ok ? EXIT_OK : EXIT_FAILED
}

module.exports = { runDoctor }
