'use strict'
// The symbiote-auth CLI against the reference Flask server: usage errors, every command,
// and doctor with a healthy server and with each fault the server can inject. Most runs
// call run() in this process (fast, and the memory store is shared between them); some
// spawn the bin, on a pipe or on a pseudo-terminal, to check what a shell sees.
//
// The login → status → token → logout sequence across separate processes needs a
// persistent credential store (a Secret Service on Linux). It runs wherever a login with
// the default keyring storage is stored persistently, and is skipped with the reason
// elsewhere, unless SYMBIOTE_AUTH_REQUIRE_KEYRING=1 (as in CI, and as for every other
// credential-store test) makes a missing store a failure.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Readable, Writable } = require('node:stream')
const { run } = require('../cli')
const { version } = require('../package.json')
const { startReferenceServer } = require('../testing/server')
const { closedPortUrl } = require('./helpers/client')

const CLI = path.join(__dirname, '..', 'cli.js')
const KEYRING_SERVICE = `symbiote-auth-cli-test-${process.pid}`
// Either variable makes the cross-process test fail instead of skip without a persistent store.
const KEYRING_REQUIRED = process.env.SYMBIOTE_AUTH_REQUIRE_KEYRING === '1'
const CHECK_ORDER = [
  'native addon',
  'URL scheme',
  'reachability and TLS',
  'CSRF endpoint',
  'login endpoint',
  'JWKS',
  'token endpoint',
  'signature verification',
  'clock skew',
  'credential store',
]

let srv
let accountSequence = 0

test.before(async () => {
  srv = await startReferenceServer()
})
test.after(() => srv?.stop())
test.beforeEach(() => srv.reset({ sessions: true }))

function collector() {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk
      done()
    },
  })
  return { stream, text: () => text }
}

/** run() in this process, with `input` as a piped (non-terminal) stdin. */
async function cli(args, { input = '' } = {}) {
  const stdout = collector()
  const stderr = collector()
  const code = await run(args, { stdin: Readable.from([input]), stdout: stdout.stream, stderr: stderr.stream, env: {} })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

/** The bin in a child process, with `input` piped to stdin. */
function spawnCli(args, { input = '', env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 20_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end(input)
  })
}

// Drives the bin on a pseudo-terminal (Python's pty): waits for the prompt, types the
// password, and returns everything the terminal showed.
const PTY_DRIVER = `
import json, os, pty, sys
argv, secret = json.loads(sys.argv[1]), sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
shown, typed = b"", False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    shown += chunk
    if not typed and b"Password for" in shown:
        os.write(fd, secret.encode() + b"\\r")
        typed = True
_, status = os.waitpid(pid, 0)
print(json.dumps({"shown": shown.decode("utf8", "replace"), "code": os.waitstatus_to_exitcode(status)}))
`

async function cliOnTerminal(args, password, env = {}) {
  const child = spawn('python3', ['-c', PTY_DRIVER, JSON.stringify([process.execPath, CLI, ...args]), password], {
    timeout: 20_000,
    env: { ...process.env, ...env },
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  await new Promise((resolve) => child.on('close', resolve))
  return JSON.parse(output)
}

function memoryArgs() {
  return ['--base-url', srv.url, '--storage', 'memory', '--account', `cli-${++accountSequence}`]
}

test.describe('usage', () => {
  const usageErrors = [
    ['no command', [], /no command given/],
    ['an unknown command', ['frobnicate'], /unknown command \(argument 1\): the command is one of login, status, token, logout, doctor/],
    ['a mistyped command', ['logn'], /unknown command \(argument 1\): did you mean login\? The command is one of login, status/],
    ['a mistyped option', ['login', '--emial', 'a@b.c'], /argument 2 is not an option of symbiote-auth: did you mean --email\?/],
    ['an unknown option', ['status', '--base-url', 'http://127.0.0.1:1', '--verbose'], /argument 4 is not an option of symbiote-auth/],
    ['a short option', ['status', '-v'], /argument 2 is a short option/],
    [
      'a password on the command line',
      ['login', '--base-url', 'http://127.0.0.1:1', '--email', 'a@b.c', '--password', 'x'],
      /never taken from the command line/,
    ],
    ['an option of another command', ['status', '--base-url', 'http://127.0.0.1:1', '--raw'], /--raw is an option of token/],
    ['an option without its value', ['status', '--base-url'], /--base-url needs a value/],
    ['a bad --timeout-ms', ['doctor', '--base-url', 'http://127.0.0.1:1', '--timeout-ms', 'soon'], /positive whole number/],
    ['a bad --storage', ['status', '--base-url', 'http://127.0.0.1:1', '--storage', 'disk'], /--storage must be one of keyring, memory/],
    ['a second positional argument', ['status', 'now'], /unexpected argument 2: status takes options only/],
    ['login without --email', ['login', '--base-url', 'http://127.0.0.1:1'], /login needs --email/],
    ['status without --base-url', ['status'], /needs --base-url/],
    ['doctor without --base-url', ['doctor'], /doctor needs --base-url/],
    ['an insecure --base-url', ['status', '--base-url', 'http://api.example.com'], /E_INSECURE_URL/],
  ]
  for (const [name, args, message] of usageErrors) {
    test(`${name} → exit 2`, async () => {
      const { code, stderr, stdout } = await cli(args)
      assert.equal(code, 2)
      assert.match(stderr, message)
      assert.equal(stdout, '')
    })
  }

  test('with --json a usage error is JSON on stdout too', async () => {
    const { code, stdout, stderr } = await cli(['logn', '--json'])
    assert.equal(code, 2)
    assert.deepEqual(JSON.parse(stdout), {
      ok: false,
      error: {
        code: 'E_INVALID_ARGUMENT',
        message: 'unknown command (argument 1): did you mean login? The command is one of login, status, token, logout, doctor',
      },
    })
    assert.match(stderr, /did you mean login/)
  })

  test('a usage error never repeats what was typed: it may be a password', async () => {
    const secret = 'hunter2-typed-in-the-wrong-place'
    for (const args of [
      [secret],
      ['status', secret],
      ['login', '--base-url', 'http://127.0.0.1:1', '--email', 'a@b.c', secret],
      ['status', `-${secret}`],
      ['status', `--${secret}`],
      ['status', `--${secret}=x`],
    ]) {
      const { code, stderr, stdout } = await cli(args)
      assert.equal(code, 2, args.join(' '))
      assert.equal(stderr.includes('hunter2') || stdout.includes('hunter2'), false, `${args.join(' ')}: ${stderr}`)
    }
  })

  test('--help and --version exit 0', async () => {
    const help = await cli(['--help'])
    assert.equal(help.code, 0)
    for (const command of ['login', 'status', 'token', 'logout', 'doctor']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'))
    assert.deepEqual(await cli(['--version']), { code: 0, stdout: `${version}\n`, stderr: '' })
  })

  test('the bin exits 2 on a usage error', async () => {
    const { code, stderr } = await spawnCli(['frobnicate'])
    assert.equal(code, 2)
    assert.match(stderr, /unknown command/)
  })
})

test.describe('commands', () => {
  test('login, status, token, token --raw, logout in one process (memory storage)', async () => {
    const args = memoryArgs()
    const login = await cli(['login', ...args, '--email', srv.user.email], { input: `${srv.user.password}\n` })
    assert.equal(login.code, 0, login.stderr)
    assert.match(login.stdout, /^Signed in as Demo User <demo@example.com> \(id 1; roles: user\)$/m)
    assert.match(login.stdout, /NOT stored/)

    const status = await cli(['status', ...args])
    assert.equal(status.code, 0)
    assert.match(status.stdout, /^State: valid, token expires \d{4}-.*\(in 1[45] min/m)

    const raw = await cli(['token', ...args, '--raw'])
    assert.equal(raw.code, 0)
    const token = raw.stdout.trim()
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/)

    const described = await cli(['token', ...args])
    assert.equal(described.code, 0)
    assert.match(described.stdout, /^alg {4}RS256$/m)
    assert.match(described.stdout, /^sub {4}1$/m)
    assert.match(described.stdout, /^email {2}demo@example.com$/m)
    assert.match(described.stdout, /^exp {4}\d{4}-\d\d-\d\dT.*\(in /m)
    for (const output of [login, status, described]) {
      assert.ok(!`${output.stdout}${output.stderr}`.includes(token.split('.')[2]), 'the JWT was printed without --raw')
      assert.ok(!`${output.stdout}${output.stderr}`.includes(srv.user.password), 'the password was printed')
    }

    const logout = await cli(['logout', ...args])
    assert.deepEqual(logout, { code: 0, stdout: 'Signed out.\n', stderr: '' })
    assert.equal((await cli(['status', ...args])).code, 1)
    const afterLogout = await cli(['token', ...args])
    assert.equal(afterLogout.code, 1)
    assert.match(afterLogout.stderr, /E_LOGIN_REQUIRED/)
  })

  test('control characters the API sends are escaped on the terminal and exact in --json', async () => {
    // OSC 52 (write the clipboard), a C1 CSI, a carriage return that would overwrite the line.
    const hostile = 'iss\u001b]52;c;aGk=\u0007\u009b2J\rSigned in as admin\nforged line'
    await srv.config({ issuer: hostile })
    const args = [...memoryArgs(), '--issuer', hostile]
    const login = await cli(['login', ...args, '--email', srv.user.email], { input: srv.user.password })
    assert.equal(login.code, 0, login.stderr)
    const described = await cli(['token', ...args])
    assert.equal(described.code, 0, described.stderr)
    const iss = described.stdout.split('\n').find((line) => line.startsWith('iss '))
    assert.equal(iss, 'iss    iss\\u001b]52;c;aGk=\\u0007\\u009b2J\\u000dSigned in as admin\\u000aforged line')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may be printed
    assert.doesNotMatch(described.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line ends')
    const json = JSON.parse((await cli(['token', ...args, '--json'])).stdout)
    assert.equal(json.claims.iss, hostile, '--json is exact')
  })

  test('--json output', async () => {
    const args = [...memoryArgs(), '--json']
    const login = JSON.parse((await cli(['login', ...args, '--email', srv.user.email], { input: srv.user.password })).stdout)
    assert.equal(login.ok, true)
    assert.equal(login.status.state, 'valid')

    const token = JSON.parse((await cli(['token', ...args])).stdout)
    assert.deepEqual(Object.keys(token).sort(), ['claims', 'expiresAt', 'header', 'ok'])
    assert.equal(token.claims.email, srv.user.email)
    assert.equal(token.expiresAt, token.claims.exp * 1000)
    assert.match(JSON.parse((await cli(['token', ...args, '--raw'])).stdout).token, /^ey/)

    await cli(['logout', ...args])
    const signedOut = await cli(['token', ...args])
    assert.equal(signedOut.code, 1)
    assert.deepEqual(JSON.parse(signedOut.stdout).error.code, 'E_LOGIN_REQUIRED')
  })

  test('a refused login exits 1 with the code and never shows the password', async () => {
    const password = 'wrong-horse-battery-7c1d'
    const result = await cli(['login', ...memoryArgs(), '--email', srv.user.email], { input: `${password}\n` })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^symbiote-auth: E_INVALID_CREDENTIALS: /)
    assert.ok(!`${result.stdout}${result.stderr}`.includes(password))
  })

  test('an unreachable API fails with E_NETWORK', async () => {
    const result = await cli(['login', '--base-url', await closedPortUrl(), '--storage', 'memory', '--email', 'a@b.c'], { input: 'pw' })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /E_NETWORK/)
  })

  test('the bin reads the password from piped stdin', async () => {
    const result = await spawnCli(['login', ...memoryArgs(), '--email', srv.user.email], { input: `${srv.user.password}\n` })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Signed in as Demo User/)
    assert.ok(!`${result.stdout}${result.stderr}`.includes(srv.user.password))
  })

  test('on a terminal the password is asked for and never echoed', async () => {
    const wrong = await cliOnTerminal(['login', ...memoryArgs(), '--email', srv.user.email], 'typed-secret-3f9a')
    assert.match(wrong.shown, /Password for demo@example.com: /)
    assert.ok(!wrong.shown.includes('typed-secret-3f9a'), `the terminal showed the password:\n${wrong.shown}`)
    assert.equal(wrong.code, 1)

    const right = await cliOnTerminal(['login', ...memoryArgs(), '--email', srv.user.email], srv.user.password)
    assert.equal(right.code, 0, right.shown)
    assert.ok(!right.shown.includes(srv.user.password))
    assert.match(right.shown, /Signed in as Demo User/)
  })

  test('status, token and logout in a fresh process without a session', async () => {
    const args = memoryArgs()
    const status = await spawnCli(['status', ...args])
    assert.equal(status.code, 1)
    assert.match(status.stdout, /^Signed out/)
    assert.match(
      status.stdout,
      new RegExp(`^Sign in first: symbiote-auth login --base-url ${srv.url} --email <email>$`, 'm'),
      'the next step'
    )
    assert.equal(
      JSON.parse((await spawnCli(['status', ...args, '--json'])).stdout).next,
      `Sign in first: symbiote-auth login --base-url ${srv.url} --email <email>`
    )
    const token = await spawnCli(['token', ...args])
    assert.equal(token.code, 1)
    assert.match(token.stderr, /E_LOGIN_REQUIRED/)
    assert.equal((await spawnCli(['logout', ...args])).code, 0)
  })

  test('the session persists across processes in the credential store', async (t) => {
    const args = ['--base-url', srv.url, '--keyring-service', KEYRING_SERVICE, '--account', 'cross-process']
    const login = await spawnCli(['login', ...args, '--email', srv.user.email, '--json'], { input: srv.user.password })
    t.after(() => spawnCli(['logout', ...args]))
    const { ok, status: signedIn, error } = JSON.parse(login.stdout)
    if (!KEYRING_REQUIRED && (error?.code === 'E_STORAGE' || (ok && !signedIn.persistent))) {
      t.skip(
        `no persistent credential store here (${error ? error.message : 'the login was kept in memory only'}); SYMBIOTE_AUTH_REQUIRE_KEYRING=1 makes this a failure`
      )
      return
    }
    assert.equal(login.code, 0, login.stderr)
    assert.equal(signedIn.persistent, true, 'the login was not stored persistently')

    const status = await spawnCli(['status', ...args])
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /Signed in as Demo User/)
    assert.match(status.stdout, /Session: stored/)
    const token = await spawnCli(['token', ...args])
    assert.equal(token.code, 0, token.stderr)
    assert.match(token.stdout, /^email {2}demo@example.com$/m)
    const raw = await spawnCli(['token', ...args, '--raw'])
    assert.match(raw.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/)
    assert.ok(!token.stdout.includes(raw.stdout.trim()))

    assert.equal((await spawnCli(['logout', ...args])).code, 0)
    const after = await spawnCli(['status', ...args])
    assert.equal(after.code, 1)
    assert.match(after.stdout, /^Signed out/)
  })
})

test.describe('hints, colour and a missing addon', () => {
  test('a failure names what to do in flags, not API options: --storage memory, --csrf-path', async () => {
    const noStore = await spawnCli(['login', '--base-url', srv.url, '--account', `cli-${++accountSequence}`, '--email', srv.user.email], {
      input: srv.user.password,
      env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
    })
    assert.equal(noStore.code, 1)
    assert.match(noStore.stderr, /E_STORAGE: /)
    assert.match(noStore.stderr, /^No usable credential store: add --storage memory/m)

    await srv.config({ csrf: true })
    try {
      const csrf = await cli(['login', ...memoryArgs(), '--email', srv.user.email, '--json'], { input: srv.user.password })
      assert.equal(csrf.code, 1)
      const answer = JSON.parse(csrf.stdout)
      assert.equal(answer.error.code, 'E_CSRF')
      assert.equal(answer.next, 'The API wants a CSRF token: add --csrf-path /api/login (Flask-Security).')
      assert.match(csrf.stderr, /add --csrf-path \/api\/login/)
    } finally {
      await srv.config({ csrf: false })
    }
  })

  test('colour on a terminal only, and never with NO_COLOR', async () => {
    const args = ['doctor', '--base-url', srv.url, '--storage', 'memory']
    const ansi = '\u001b['
    const onTerminal = await cliOnTerminal(args, '')
    assert.ok(onTerminal.shown.includes(`${ansi}32mPASS`), onTerminal.shown)
    const noColor = await cliOnTerminal(args, '', { NO_COLOR: '1' })
    assert.equal(noColor.shown.includes(ansi), false, noColor.shown)
    const piped = await spawnCli(args)
    assert.equal(piped.stdout.includes(ansi), false, piped.stdout)
  })

  const linuxX64 = process.platform === 'linux' && process.arch === 'x64'
  test('a missing addon is E_NATIVE_BINDING naming the platform package, for a command and as the first doctor check', {
    skip: !linuxX64 && 'the message names linux-x64-gnu',
  }, async () => {
    // The generated loader tries this path first and then finds nothing else to load.
    const env = { NAPI_RS_NATIVE_LIBRARY_PATH: path.join(__dirname, 'no-such-addon.node') }
    const status = await spawnCli(['status', '--base-url', srv.url, '--storage', 'memory'], { env })
    assert.equal(status.code, 1)
    assert.match(
      status.stderr,
      /E_NATIVE_BINDING: the native part of symbiote-auth did not load on linux-x64-gnu, Node \d+\.\d+\.\d+: install symbiote-auth-linux-x64-gnu@/
    )
    assert.doesNotMatch(status.stderr, /E_INTERNAL|a bug/)
    const doctor = await spawnCli(['doctor', '--base-url', srv.url, '--storage', 'memory'], { env })
    assert.equal(doctor.code, 1)
    const lines = doctor.stdout.trim().split('\n')
    assert.match(lines[0], /^FAIL {2}native addon +E_NATIVE_BINDING: .*symbiote-auth-linux-x64-gnu.*\. Fix: install the platform package/)
    assert.ok(
      lines.slice(1).every((line) => /^SKIP .*skipped: native addon failed/.test(line)),
      doctor.stdout
    )
  })
})

test.describe('doctor', () => {
  // Runs doctor and returns its lines keyed by check label, with the exit code.
  async function doctor(extraArgs = [], { input } = {}) {
    const result = await cli(['doctor', '--base-url', srv.url, '--storage', 'memory', ...extraArgs], { input })
    const lines = result.stdout.trim().split('\n')
    const byLabel = new Map()
    for (const line of lines) {
      const label = CHECK_ORDER.find((candidate) => line.slice(6).startsWith(candidate))
      byLabel.set(label, line)
    }
    return { ...result, lines, byLabel, line: (label) => byLabel.get(label) }
  }

  // Exactly the checks named in `labels` fail, each line matching `detail` and giving a fix.
  function assertFailures(report, labels, detail) {
    assert.equal(report.code, 1, report.stdout)
    const failing = report.lines.filter((line) => line.startsWith('FAIL'))
    assert.deepEqual(
      failing.map((line) => CHECK_ORDER.find((candidate) => line.slice(6).startsWith(candidate))),
      labels,
      report.stdout
    )
    for (const label of labels) {
      assert.match(report.line(label), detail)
      assert.match(report.line(label), /\. Fix: \S/)
    }
  }
  const assertOnlyFailure = (report, label, detail) => assertFailures(report, [label], detail)

  test('a --base-url with a user name and password is refused, and neither is repeated', async () => {
    for (const command of [['doctor'], ['doctor', '--json'], ['status']]) {
      const result = await cli([...command, '--base-url', 'http://someone:hunter2@127.0.0.1:9', '--storage', 'memory'])
      assert.notEqual(result.code, 0)
      const output = result.stdout + result.stderr
      assert.match(output, /contains a user name or password/)
      assert.equal(/hunter2|someone/.test(output), false, output)
    }
  })

  test('a healthy server passes every check, in order', async () => {
    const report = await doctor()
    assert.equal(report.code, 0, report.stdout)
    assert.deepEqual([...report.byLabel.keys()], CHECK_ORDER)
    assert.match(report.line('URL scheme'), /^PASS/)
    assert.match(report.line('CSRF endpoint'), /^SKIP .*--csrf-path/)
    // Flask-Security refuses bad credentials with HTTP 400.
    assert.match(report.line('login endpoint'), /^PASS .*HTTP 400 and a JSON body/)
    assert.match(report.line('JWKS'), /^PASS .*2 keys: RS256 \(kid rsa-[^)]+\), ES256 \(kid ec-/)
    assert.match(report.line('token endpoint'), /^PASS .*HTTP 401/)
    assert.match(report.line('signature verification'), /^SKIP .*--email/)
    assert.match(report.line('clock skew'), /^PASS/)
    assert.match(report.line('credential store'), /^PASS/)
    assert.equal((await srv.state()).live_sessions, 0, 'doctor must not leave a session behind')
  })

  test('with --email and the password on stdin it signs in and verifies the signature', async () => {
    const report = await doctor(['--email', srv.user.email], { input: `${srv.user.password}\n` })
    assert.equal(report.code, 0, report.stdout)
    assert.match(report.line('signature verification'), /^PASS .*demo@example.com; the RS256 JWT \(kid rsa-.*verifies against the JWKS/)
    assert.ok(!report.stdout.includes(srv.user.password))
    assert.equal((await srv.state()).live_sessions, 0, 'the doctor sign-in is signed out again')
  })

  test('--json gives every check with its status', async () => {
    const report = await doctor(['--json'])
    const { ok, checks } = JSON.parse(report.stdout)
    assert.equal(ok, true)
    assert.deepEqual(
      checks.map((check) => check.label),
      CHECK_ORDER
    )
    assert.deepEqual(
      checks.map((check) => check.name),
      [
        'native-binding',
        'url',
        'reachability',
        'csrf',
        'login-endpoint',
        'jwks',
        'token-endpoint',
        'signature',
        'clock',
        'credential-store',
      ]
    )
    for (const check of checks) assert.ok(['pass', 'skip'].includes(check.status), JSON.stringify(check))
  })

  test('the bin exits 0 for a healthy server and 1 when a check fails', async () => {
    const healthy = await spawnCli(['doctor', '--base-url', srv.url, '--storage', 'memory'])
    assert.equal(healthy.code, 0, healthy.stdout)
    await srv.fault({ endpoint: 'jwks', status: 500 })
    const failing = await spawnCli(['doctor', '--base-url', srv.url, '--storage', 'memory'])
    assert.equal(failing.code, 1, failing.stdout)
    assert.match(failing.stdout, /^FAIL {2}JWKS /m)
  })

  test('JWKS answering 500', async () => {
    await srv.fault({ endpoint: 'jwks', status: 500 })
    assertOnlyFailure(await doctor(), 'JWKS', /HTTP 500 \(server error\)/)
  })

  test('JWKS that is not JSON', async () => {
    await srv.setJwks('not json')
    assertOnlyFailure(await doctor(), 'JWKS', /E_BAD_RESPONSE: the JWKS endpoint did not return JSON/)
  })

  test('JWKS with a symmetric key', async () => {
    await srv.setJwks({ keys: [{ kty: 'oct', kid: 'shared', k: 'c2VjcmV0' }] })
    assertOnlyFailure(await doctor(), 'JWKS', /kid shared: a symmetric \(oct or HS\*\) key: never trusted/)
  })

  // The client and doctor read a JWKS with the same parser: they agree on what verifies.
  test('an EdDSA key passes the client and doctor with --algorithms EdDSA; a 1024-bit RSA key fails both, for the same reason', async () => {
    const { AuthClient } = require('../index.js')
    const signWith = (alg, privateKey, kid, claims) => {
      const input = `${Buffer.from(JSON.stringify({ alg, kid, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
      const hash = alg === 'EdDSA' ? null : 'sha256'
      return `${input}.${crypto.sign(hash, Buffer.from(input), privateKey).toString('base64url')}`
    }
    const claims = JSON.parse(Buffer.from((await srv.sign()).split('.')[1], 'base64url'))
    const cases = [
      { alg: 'EdDSA', pair: crypto.generateKeyPairSync('ed25519'), algorithms: 'EdDSA' },
      { alg: 'RS256', pair: crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }), algorithms: 'RS256' },
    ]
    for (const { alg, pair, algorithms } of cases) {
      const kid = `cli-${alg}`
      await srv.setJwks({ keys: [{ ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg }] })
      await srv.fault({
        endpoint: 'token',
        status: 200,
        body: { access_token: signWith(alg, pair.privateKey, kid, claims), token_type: 'Bearer' },
      })
      const client = new AuthClient({ baseUrl: srv.url, storage: 'memory', account: `cli-jwks-${alg}`, algorithms: [algorithms] })
      const signIn = await client.login(srv.user).then(
        (status) => status,
        (error) => error
      )
      const report = await doctor(['--algorithms', algorithms])
      if (alg === 'EdDSA') {
        assert.equal(signIn.authenticated, true, String(signIn))
        assert.match(report.line('JWKS'), /^PASS .*1 key: EdDSA \(kid cli-EdDSA\)/)
        await client.logout()
      } else {
        const reason = 'an RSA key under 2048 bits or with a bad exponent'
        assert.equal(signIn.code, 'E_BAD_RESPONSE')
        assert.ok(signIn.message.includes(reason), signIn.message)
        assertOnlyFailure(report, 'JWKS', new RegExp(`kid cli-RS256: ${reason}`))
      }
      await srv.clearFaults()
    }
  })

  test('JWKS that hangs past --timeout-ms', async () => {
    await srv.fault({ endpoint: 'jwks', hang: true })
    const started = Date.now()
    const report = await doctor(['--timeout-ms', '300'])
    await srv.clearFaults()
    assertOnlyFailure(report, 'JWKS', /no answer within 300 ms/)
    assert.ok(Date.now() - started < 5000)
  })

  test('a server clock an hour ahead', async () => {
    await srv.config({ clockOffset: 3600 })
    assertOnlyFailure(await doctor(), 'clock skew', /server clock is (3599|3600|3601) s ahead of this machine/)
  })

  test('login endpoint answering 500', async () => {
    await srv.fault({ endpoint: 'login', status: 500 })
    assertOnlyFailure(await doctor(), 'login endpoint', /POST \/api\/login answered HTTP 500/)
  })

  test('login endpoint accepting any password', async () => {
    await srv.fault({ endpoint: 'login', status: 200, body: { success: true } })
    assertOnlyFailure(await doctor(), 'login endpoint', /accepted a random email and password/)
  })

  test('login endpoint answering HTML', async () => {
    await srv.fault({ endpoint: 'login', status: 401, body: '<html>nope</html>', contentType: 'text/html' })
    assertOnlyFailure(await doctor(), 'login endpoint', /not JSON/)
  })

  test('token endpoint answering 500, or issuing a token without a session', async () => {
    await srv.fault({ endpoint: 'token', status: 500 })
    assertOnlyFailure(await doctor(), 'token endpoint', /HTTP 500/)
    await srv.fault({ endpoint: 'token', status: 200, body: { access_token: 'a.b.c' } })
    assertOnlyFailure(await doctor(), 'token endpoint', /issued a token without a session/)
  })

  test('a wrong --login-path', async () => {
    assertOnlyFailure(await doctor(['--login-path', '/api/signin']), 'login endpoint', /HTTP 404: no such route/)
  })

  test('CSRF on: failing without --csrf-path, passing with it, and the CSRF endpoint answering 500', async () => {
    await srv.config({ csrf: true })
    // Flask-Security checks the session before CSRF: without one, the token endpoint is 401 as it should be.
    assertOnlyFailure(await doctor(), 'login endpoint', /missing CSRF token.*Fix: .*--csrf-path/)

    const withCsrf = await doctor(['--csrf-path', '/api/login'])
    assert.equal(withCsrf.code, 0, withCsrf.stdout)
    assert.match(withCsrf.line('CSRF endpoint'), /^PASS /)

    await srv.fault({ endpoint: 'csrf', status: 500 })
    const broken = await doctor(['--csrf-path', '/api/login'])
    assert.equal(broken.code, 1)
    assert.match(broken.line('CSRF endpoint'), /^FAIL .*HTTP 500/)
  })

  test('a JWT signed with a key the JWKS does not publish fails signature verification', async () => {
    const published = await (await fetch(`${srv.url}/api/jwt/jwks`)).json()
    await srv.setJwks({ keys: published.keys.map((key) => ({ ...key, kid: `other-${key.kid}` })) })
    const report = await doctor(['--email', srv.user.email], { input: srv.user.password })
    assertOnlyFailure(report, 'signature verification', /E_TOKEN_INVALID/)
  })

  test('a wrong password fails the sign-in check without showing it', async () => {
    const report = await doctor(['--email', srv.user.email], { input: 'not-the-password-5e2b' })
    assertOnlyFailure(report, 'signature verification', /E_INVALID_CREDENTIALS/)
    assert.ok(!report.stdout.includes('not-the-password-5e2b'))
  })

  test('the credential store check reports what checkStorage() says', async () => {
    const { AuthClient } = require('..')
    const storeError = await new AuthClient({ baseUrl: srv.url, keyringService: KEYRING_SERVICE }).checkStorage().then(
      () => null,
      (error) => error
    )
    const result = await cli(['doctor', '--base-url', srv.url, '--keyring-service', KEYRING_SERVICE])
    const line = result.stdout.trim().split('\n').at(-1)
    if (storeError) {
      assert.equal(result.code, 1)
      assert.match(line, /^FAIL {2}credential store +E_STORAGE: .*\. Fix: /)
    } else {
      assert.equal(result.code, 0, result.stdout)
      assert.match(line, new RegExp(`^PASS {2}credential store .*service ${KEYRING_SERVICE}`))
    }
  })

  test('an unreachable server: reachability fails, later network checks are skipped', async () => {
    const result = await cli(['doctor', '--base-url', await closedPortUrl(), '--storage', 'memory'])
    assert.equal(result.code, 1)
    const lines = result.stdout.trim().split('\n')
    assert.match(lines[2], /^FAIL {2}reachability and TLS +connection refused\. Fix: /)
    for (const line of lines.slice(3, -1)) assert.match(line, /^SKIP .*skipped: reachability and TLS failed/)
    assert.match(lines.at(-1), /^PASS {2}credential store/)
  })

  test('an insecure URL fails the first check', async () => {
    const result = await cli(['doctor', '--base-url', 'http://api.example.com', '--storage', 'memory'])
    assert.equal(result.code, 1)
    assert.match(result.stdout, /^FAIL {2}URL scheme +E_INSECURE_URL: baseUrl uses http:\/\/ to api\.example\.com.*Fix: /m)
    assert.doesNotMatch(result.stdout, /^(PASS|FAIL) {2}reachability/m)
  })
})
