#!/usr/bin/env node
'use strict'
// symbiote-auth: sign in, look at the session, and check an API's setup from a terminal.
// The password is read from the terminal without echo, or from stdin when it is not a
// terminal; it is never taken from the command line and never printed. The raw JWT is
// printed only by `token --raw`.

const crypto = require('node:crypto')
const { version } = require('./package.json')

const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_INTERRUPTED = 130

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_LEEWAY_SECONDS = 30 // the client's default `leewaySeconds`
// A password, not a file: anything longer is a mistake in the pipe.
const MAX_STDIN_CHARACTERS = 64 * 1024

const USAGE = `Usage: symbiote-auth <command> [options]

Commands:
  login     --email E         sign in; the password is asked for without echo,
                              or read from stdin when stdin is not a terminal
  status                      the stored session (exit 1 when signed out)
  token     [--raw]           claims and expiry of a fresh JWT; --raw prints the JWT itself
  logout                      sign out and wipe the stored session
  doctor    [--email E]       check the API setup step by step (with --email and the
                              password on stdin: a full sign-in and signature check)

Options:
  --base-url URL              the Flask API origin (or SYMBIOTE_AUTH_BASE_URL)
  --account NAME              session profile (default "default")
  --keyring-service NAME      credential store service name (default "symbiote")
  --storage keyring|memory    where the session lives (default keyring; memory ends
                              with the command)
  --timeout-ms N              per HTTP request (default ${DEFAULT_TIMEOUT_MS})
  --csrf-path P               fetch a CSRF token from P before signing in
  --login-path P  --logout-path P  --status-path P  --token-path P
  --refresh-path P  --jwks-path P    API paths when they differ from the defaults
  --issuer ISS  --audience AUD       claims the JWT must carry
  --json                      machine-readable output on stdout
  -h, --help                  this text
  --version                   the package version

Exit codes: 0 ok, 1 failed (or signed out, for status), 2 usage.
`

const USAGE_HINT = 'Run symbiote-auth --help for the commands and options.\n'

// name → { type, commands (when only some commands take it) }.
const OPTIONS = {
  'base-url': { type: 'string' },
  account: { type: 'string' },
  'keyring-service': { type: 'string' },
  storage: { type: 'string', choices: ['keyring', 'memory'] },
  'timeout-ms': { type: 'positive-integer' },
  'csrf-path': { type: 'string' },
  'login-path': { type: 'string' },
  'logout-path': { type: 'string' },
  'status-path': { type: 'string' },
  'token-path': { type: 'string' },
  'refresh-path': { type: 'string' },
  'jwks-path': { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  json: { type: 'flag' },
  email: { type: 'string', commands: ['login', 'doctor'] },
  raw: { type: 'flag', commands: ['token'] },
}
const PATH_OPTIONS = ['csrf', 'login', 'logout', 'status', 'token', 'refresh', 'jwks']
const COMMANDS = new Set(['login', 'status', 'token', 'logout', 'doctor'])

class UsageError extends Error {}

function camelCase(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase())
}

// Usage errors name an argument by its position, never by what was typed: a stray or
// mistyped argument may be a password.
function parseArguments(argv) {
  const options = {}
  const positional = []
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]
    if (argument === '-h' || argument === '--help') return { help: true }
    if (argument === '--version') return { version: true }
    if (argument.startsWith('-') && !argument.startsWith('--')) {
      throw new UsageError(`argument ${index + 1} is a short option; only the long options of --help are accepted`)
    }
    if (!argument.startsWith('--')) {
      positional.push(index + 1)
      continue
    }
    const [name, inlineValue] = argument.slice(2).split(/=(.*)/s)
    if (name === 'password') {
      throw new UsageError(
        'the password is never taken from the command line (it would stay in shell history and process lists): type it at the prompt or pipe it on stdin'
      )
    }
    const spec = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined
    if (!spec) throw new UsageError(`argument ${index + 1} is not an option of symbiote-auth (see --help)`)
    if (spec.type === 'flag') {
      if (inlineValue !== undefined) throw new UsageError(`--${name} takes no value`)
      options[camelCase(name)] = true
      continue
    }
    const value = inlineValue ?? argv[++index]
    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value`)
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}`)
    }
    if (spec.type === 'positive-integer' && !/^[1-9][0-9]{0,8}$/.test(value)) {
      throw new UsageError(`--${name} must be a positive whole number`)
    }
    options[camelCase(name)] = spec.type === 'positive-integer' ? Number(value) : value
  }
  const [commandAt, ...extra] = positional
  if (!commandAt) throw new UsageError('no command given')
  const command = argv[commandAt - 1]
  if (!COMMANDS.has(command)) {
    throw new UsageError(`unknown command (argument ${commandAt}): the command is one of ${[...COMMANDS].join(', ')}`)
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}: ${command} takes options only`)
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if (spec.commands && options[camelCase(name)] !== undefined && !spec.commands.includes(command)) {
      throw new UsageError(`--${name} is an option of ${spec.commands.join(' and ')}, not ${command}`)
    }
  }
  return { command, options }
}

// ----- the client ------------------------------------------------------------------------

// Loaded on first use, so --help and usage errors work even without the native binary.
function loadAuthClient() {
  return require('./index.js').AuthClient
}

function clientOptions(options, overrides = {}) {
  const paths = {}
  for (const name of PATH_OPTIONS) {
    const value = options[`${name}Path`]
    if (value !== undefined) paths[name] = value
  }
  const chosen = {
    baseUrl: options.baseUrl,
    paths,
    account: options.account,
    keyringService: options.keyringService,
    storage: options.storage,
    requestTimeoutMs: options.timeoutMs,
    issuer: options.issuer,
    audience: options.audience,
    ...overrides,
  }
  return Object.fromEntries(Object.entries(chosen).filter(([, value]) => value !== undefined))
}

// ----- reading the password --------------------------------------------------------------

class Interrupted extends Error {}

function readPassword(io, prompt) {
  return io.stdin.isTTY ? readHiddenFromTerminal(io, prompt) : readFirstLine(io.stdin)
}

// Raw mode turns echo off, before the prompt invites typing; the characters are collected
// here and never written back.
function readHiddenFromTerminal({ stdin, stderr }, prompt) {
  return new Promise((resolve, reject) => {
    let password = ''
    const finish = (error) => {
      stdin.removeListener('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      stderr.write('\n')
      if (error) reject(error)
      else resolve(password)
    }
    const onData = (chunk) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n' || character === '\u0004') return finish()
        if (character === '\u0003') return finish(new Interrupted('interrupted'))
        if (character === '\u007f' || character === '\b') password = [...password].slice(0, -1).join('')
        else if (character >= ' ') password += character
      }
    }
    stdin.setRawMode(true)
    stderr.write(prompt)
    stdin.setEncoding('utf8')
    stdin.on('data', onData)
    stdin.resume()
  })
}

async function readFirstLine(stream) {
  let text = ''
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    if (text.length > MAX_STDIN_CHARACTERS)
      throw new UsageError(`stdin holds more than ${MAX_STDIN_CHARACTERS} characters; pipe only the password`)
  }
  return text.split(/\r?\n/, 1)[0]
}

// ----- output ----------------------------------------------------------------------------

function describeDuration(ms) {
  const seconds = Math.round(Math.abs(ms) / 1000)
  const parts = [
    [Math.floor(seconds / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'min'],
    [seconds % 60, 's'],
  ]
  const text =
    parts
      .filter(([amount]) => amount > 0)
      .map(([amount, unit]) => `${amount} ${unit}`)
      .join(' ') || '0 s'
  return ms >= 0 ? `in ${text}` : `${text} ago`
}

function describeExpiry(expiresAtMs) {
  return `${new Date(expiresAtMs).toISOString()} (${describeDuration(expiresAtMs - Date.now())})`
}

function describeStatus(status) {
  if (!status.authenticated) {
    const why = status.lastError ? ` Last error: ${status.lastError.code}: ${status.lastError.message}` : ''
    return [`Signed out (${status.state}).${why}`]
  }
  const { user } = status
  const roles = user.roles?.length ? `; roles: ${user.roles.join(', ')}` : ''
  const name = user.displayName ? `${user.displayName} <${user.email}>` : user.email
  return [
    `Signed in as ${name} (id ${user.id}${roles})`,
    `State: ${status.state}${status.expiresAt ? `, token expires ${describeExpiry(status.expiresAt)}` : ''}`,
    status.persistent
      ? 'Session: stored, later commands and app starts reuse it'
      : 'Session: NOT stored (memory only): later commands will not see it',
  ]
}

function decodeJwtPart(token, index) {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'))
}

function describeClaims(header, claims) {
  const time = (seconds) => (typeof seconds === 'number' ? describeExpiry(seconds * 1000) : String(seconds))
  const rows = [
    ['alg', header.alg],
    ['kid', header.kid],
  ]
  for (const [name, value] of Object.entries(claims)) {
    const shown = ['exp', 'iat', 'nbf'].includes(name) ? time(value) : typeof value === 'string' ? value : JSON.stringify(value)
    rows.push([name, shown])
  }
  return rows.filter(([, value]) => value !== undefined).map(([name, value]) => `${name.padEnd(6)} ${value}`)
}

// What the API chose (claims, user fields) and what errors carry reaches the terminal only
// with C0 and C1 control characters (and DEL) escaped, so an API cannot send ANSI or OSC
// sequences: writing the clipboard, retitling the window, overwriting lines. --json output
// stays exact JSON.
function printable(text) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

// The library's messages begin with their code ("E_NETWORK: …"); the CLI prints it once.
function errorInfo(error) {
  const code = typeof error.code === 'string' ? error.code : 'E_INTERNAL'
  const message = String(error.message)
  return { code, message: message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message }
}

function describeFailure(error) {
  const { code, message } = errorInfo(error)
  return `${code}: ${message}`
}

// ----- commands --------------------------------------------------------------------------

const commands = {
  async login(client, options, io) {
    if (!options.email) throw new UsageError('login needs --email')
    const password = await readPassword(io, `Password for ${options.email}: `)
    const status = await client.login({ email: options.email, password, remember: true })
    return { ok: true, lines: describeStatus(status), json: { status } }
  },

  async status(client) {
    const status = await client.restore()
    return { ok: status.authenticated, lines: describeStatus(status), json: { status } }
  },

  async token(client, options) {
    await client.restore()
    const token = await client.getJwtToken()
    const header = decodeJwtPart(token, 0)
    const claims = decodeJwtPart(token, 1)
    const json = { header, claims, expiresAt: claims.exp * 1000, ...(options.raw && { token }) }
    return { ok: true, lines: options.raw ? [token] : describeClaims(header, claims), json }
  },

  async logout(client) {
    // A stored session that cannot be brought back must still be wiped: logout() clears
    // the store whatever restore() thought of it.
    await client.restore().catch(() => {})
    await client.logout()
    return { ok: true, lines: ['Signed out.'], json: {} }
  },
}

async function runClientCommand(command, options, io) {
  const AuthClient = loadAuthClient()
  let client
  try {
    client = new AuthClient(clientOptions(options))
  } catch (error) {
    // Options that can never work are usage errors.
    throw new UsageError(describeFailure(error))
  }
  const outcome = await commands[command](client, options, io)
  if (options.json) io.stdout.write(`${JSON.stringify({ ok: outcome.ok, ...outcome.json })}\n`)
  else io.stdout.write(outcome.lines.map((line) => `${printable(line)}\n`).join(''))
  return outcome.ok ? EXIT_OK : EXIT_FAILED
}

// ----- doctor ----------------------------------------------------------------------------

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i
// The client's default paths (docs/API.md) of the endpoints doctor calls itself.
const DEFAULT_PATHS = { login: '/api/login', token: '/api/jwt/token', jwks: '/api/jwt/jwks' }

// A request that got no HTTP answer, with what to do about it.
class TransportFailure extends Error {
  constructor(detail, fix) {
    super(detail)
    this.fix = fix
  }
}

// One HTTP exchange for a doctor check. Redirects are not followed, so a check sees them.
// The timeout covers the body too.
async function probe(url, { method = 'GET', headers = {}, body, timeoutMs, cookies = '' }) {
  const started = Date.now()
  let response
  let text
  try {
    response = await fetch(url, {
      method,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        accept: 'application/json',
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(cookies && { cookie: cookies }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    text = await response.text()
  } catch (error) {
    throw transportFailure(error, timeoutMs)
  }
  let json
  try {
    json = JSON.parse(text)
  } catch {}
  const dateHeader = response.headers.get('date')
  return {
    status: response.status,
    json,
    location: response.headers.get('location'),
    setCookies: response.headers.getSetCookie(),
    // The server's clock against ours at the middle of the exchange. Date is truncated to
    // the second, so the server's time was half a second past it on average.
    clockSkewMs: dateHeader ? Date.parse(dateHeader) + 500 - (started + Date.now()) / 2 : null,
  }
}

function transportFailure(error, timeoutMs) {
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return new TransportFailure(`no answer within ${timeoutMs} ms`, 'check that the server is up and not stuck, or raise --timeout-ms')
  }
  const code = error.cause?.code ?? error.code ?? ''
  if (code === 'ECONNREFUSED') return new TransportFailure('connection refused', 'start the API, or check the host and port in --base-url')
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportFailure(`the host name does not resolve (${code})`, 'check the host name in --base-url and DNS')
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return new TransportFailure(
      `TLS failed (${code})`,
      'serve a certificate valid for this host name from a trusted CA (a private CA: NODE_EXTRA_CA_CERTS for doctor, the OS trust store for the app)'
    )
  }
  // Only the code: the error's own text may quote the URL.
  return new TransportFailure(`request failed (${code || 'no error code'})`, 'check --base-url and the network path to the API')
}

function httpProblem(answer, where, pathOption) {
  if (answer.status >= 300 && answer.status < 400) {
    return {
      detail: `${where} redirected (HTTP ${answer.status}) to ${answer.location ?? 'nowhere'}`,
      fix: `point ${pathOption} at the JSON API route, not a page that redirects`,
    }
  }
  if (answer.status === 404 || answer.status === 405) {
    return { detail: `${where} answered HTTP ${answer.status}: no such route`, fix: `check ${pathOption} against the Flask routes` }
  }
  if (answer.status >= 500) {
    return { detail: `${where} answered HTTP ${answer.status} (server error)`, fix: 'look at the Flask server log for the exception' }
  }
  return null
}

const pass = (detail) => ({ status: 'pass', detail })
const fail = (detail, fix) => ({ status: 'fail', detail, fix })
const skip = (detail) => ({ status: 'skip', detail })

function checkUrl(context) {
  let url
  try {
    url = new URL(context.options.baseUrl)
  } catch {
    return fail('--base-url is not a URL', 'pass the API origin, e.g. --base-url https://api.example.com')
  }
  if (url.username !== '' || url.password !== '') {
    // Named, never repeated: it may be a password.
    return fail(
      '--base-url contains a user name or password (E_CONFIG)',
      'drop them from the URL; the account signs in with login, never through the URL'
    )
  }
  if (url.protocol === 'https:') return pass(`${url.origin} uses https`)
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.test(url.hostname)) {
    return pass(`${url.origin} is plain http on loopback (allowed for development only)`)
  }
  if (url.protocol === 'http:') {
    return fail(
      `${url.origin} is plain http to a non-loopback host (E_INSECURE_URL)`,
      'serve the API over https://; http:// is accepted for loopback only'
    )
  }
  return fail(`${url.protocol} is not http(s)`, 'pass an https:// URL')
}

async function checkReachability(context) {
  const answer = await context.request(context.options.baseUrl)
  const tls = context.options.baseUrl.startsWith('https:') ? ', TLS certificate accepted' : ''
  return pass(`${context.options.baseUrl} answered HTTP ${answer.status}${tls}`)
}

async function checkCsrf(context) {
  if (!context.options.csrfPath) return skip('no --csrf-path: the client sends no CSRF token (pass it when the API wants X-CSRF-Token)')
  const answer = await context.request(context.endpoint('csrf'))
  const problem = httpProblem(answer, `GET ${context.path('csrf')}`, '--csrf-path')
  if (problem) return fail(problem.detail, problem.fix)
  const token = answer.json?.response?.csrf_token ?? answer.json?.csrf_token
  if (answer.status !== 200 || typeof token !== 'string' || token === '') {
    return fail(
      `GET ${context.path('csrf')} answered HTTP ${answer.status} without response.csrf_token or csrf_token`,
      'answer GET with Accept: application/json as Flask-Security does: {"response": {"csrf_token": …}}'
    )
  }
  context.csrfToken = token
  context.cookies = answer.setCookies.map((cookie) => cookie.split(';', 1)[0]).join('; ')
  return pass(`GET ${context.path('csrf')} gave a CSRF token`)
}

// A 400 that names CSRF while doctor sent no token: the API has CSRF on, the setup has not.
function csrfRefusal(context, answer, where) {
  if (context.csrfToken || answer.status !== 400 || !/csrf/i.test(JSON.stringify(answer.json ?? ''))) return null
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

// Key types the client verifies with; anything else is unusable or dangerous.
function describeJwk(key) {
  if (key === null || typeof key !== 'object') return { problem: 'an entry that is not an object' }
  if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((field) => field in key))
    return { problem: `private or secret key material (kid ${key.kid})` }
  if (key.use !== undefined && key.use !== 'sig') return { problem: `a key with use "${key.use}" (kid ${key.kid})` }
  if (key.kty === 'RSA' && typeof key.n === 'string' && typeof key.e === 'string' && [undefined, 'RS256'].includes(key.alg)) {
    return { label: `RS256 (kid ${key.kid ?? 'none'})` }
  }
  if (
    key.kty === 'EC' &&
    key.crv === 'P-256' &&
    typeof key.x === 'string' &&
    typeof key.y === 'string' &&
    [undefined, 'ES256'].includes(key.alg)
  ) {
    return { label: `ES256 (kid ${key.kid ?? 'none'})` }
  }
  return { problem: `an unsupported key (kty ${key.kty}, alg ${key.alg}, kid ${key.kid})` }
}

async function checkJwks(context) {
  const path = context.path('jwks')
  const answer = await context.request(context.endpoint('jwks'))
  const problem = httpProblem(answer, `GET ${path}`, '--jwks-path')
  if (problem) return fail(problem.detail, problem.fix)
  if (answer.status !== 200) return fail(`GET ${path} answered HTTP ${answer.status}`, 'serve the JWKS with HTTP 200')
  if (answer.json === undefined)
    return fail(
      `GET ${path} answered a body that is not JSON`,
      'serve the public keys as a JWKS: {"keys": [{kty, kid, use: "sig", alg, …}]}'
    )
  const keys = answer.json?.keys
  if (!Array.isArray(keys) || keys.length === 0)
    return fail(`GET ${path} answered JSON without a non-empty "keys" array`, 'serve {"keys": [...]} with the key the JWTs are signed with')
  const described = keys.map(describeJwk)
  const bad = described.find((key) => key.problem)
  if (bad) return fail(`the JWKS holds ${bad.problem}`, 'publish only public signing keys: RSA (RS256) or EC P-256 (ES256), use "sig"')
  return pass(`${keys.length} key${keys.length === 1 ? '' : 's'}: ${described.map((key) => key.label).join(', ')}`)
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
  E_TOKEN_INVALID: 'sign with a key the JWKS publishes (matching kid), RS256 or ES256, and issue iss/aud as --issuer/--audience say',
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
  if (Math.abs(skewSeconds) <= DEFAULT_LEEWAY_SECONDS) return pass(`${detail} (within the ${DEFAULT_LEEWAY_SECONDS} s leeway)`)
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
      'unlock or install the OS credential store (Linux: a Secret Service such as gnome-keyring), or use storage "memory" / storageFallback "memory"'
    )
  }
}

// In the order the client meets them. `network` checks are skipped once the API is unreachable.
const DOCTOR_CHECKS = [
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

function formatCheck(check, result) {
  const line = `${result.status.toUpperCase().padEnd(4)}  ${check.label.padEnd(LABEL_WIDTH)}  ${result.detail}`
  return result.fix ? `${line}. Fix: ${result.fix}` : line
}

async function runDoctor(options, io) {
  if (!options.baseUrl) throw new UsageError('doctor needs --base-url')
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const results = new Map()
  const context = {
    options,
    io,
    csrfToken: null,
    cookies: '',
    clockSkewMs: null,
    path: (name) => options[`${name}Path`] ?? DEFAULT_PATHS[name],
    endpoint: (name) => new URL(context.path(name), options.baseUrl).href,
    async request(url, init = {}) {
      const answer = await probe(url, { ...init, timeoutMs })
      context.clockSkewMs ??= answer.clockSkewMs
      return answer
    },
    newClient(overrides) {
      const AuthClient = loadAuthClient()
      // checkStorage() needs a client; when the URL is unusable any valid one will do.
      const baseUrl = results.get('url')?.status === 'pass' ? options.baseUrl : 'https://localhost'
      return new AuthClient(clientOptions(options, { baseUrl, ...overrides }))
    },
  }
  let stoppedBy = null
  for (const check of DOCTOR_CHECKS) {
    let result
    if (stoppedBy && check.network) {
      result = skip(`skipped: ${stoppedBy} failed`)
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
    if (!options.json) io.stdout.write(`${printable(formatCheck(check, result))}\n`)
  }
  const ok = [...results.values()].every((result) => result.status !== 'fail')
  if (options.json) {
    const checks = DOCTOR_CHECKS.map(({ name, label }) => ({ name, label, ...results.get(name) }))
    io.stdout.write(`${JSON.stringify({ ok, checks })}\n`)
  }
  return ok ? EXIT_OK : EXIT_FAILED
}

// ----- entry point -----------------------------------------------------------------------

/** Runs one command; resolves to the exit code. `io`: { stdin, stdout, stderr, env }. */
async function run(argv, io) {
  let parsed
  try {
    parsed = parseArguments(argv)
  } catch (error) {
    io.stderr.write(`symbiote-auth: ${printable(error.message)}\n${argv.length === 0 ? `\n${USAGE}` : USAGE_HINT}`)
    return EXIT_USAGE
  }
  if (parsed.help) {
    io.stdout.write(USAGE)
    return EXIT_OK
  }
  if (parsed.version) {
    io.stdout.write(`${version}\n`)
    return EXIT_OK
  }
  const { command } = parsed
  const options = { ...parsed.options, baseUrl: parsed.options.baseUrl ?? io.env.SYMBIOTE_AUTH_BASE_URL }
  try {
    if (command === 'doctor') return await runDoctor(options, io)
    if (!options.baseUrl) throw new UsageError(`${command} needs --base-url (or SYMBIOTE_AUTH_BASE_URL)`)
    return await runClientCommand(command, options, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`symbiote-auth: ${printable(error.message)}\n${USAGE_HINT}`)
      return EXIT_USAGE
    }
    if (error instanceof Interrupted) return EXIT_INTERRUPTED
    const info = errorInfo(error)
    if (options.json) io.stdout.write(`${JSON.stringify({ ok: false, error: info })}\n`)
    const hint =
      info.code === 'E_LOGIN_REQUIRED'
        ? `\nSign in first: symbiote-auth login --base-url ${printable(options.baseUrl)} --email <email>`
        : ''
    io.stderr.write(`symbiote-auth: ${printable(describeFailure(error))}${hint}\n`)
    return EXIT_FAILED
  }
}

module.exports = { run }

if (require.main === module) {
  run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code
  })
}
