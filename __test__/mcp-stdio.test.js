'use strict'
// createStdioAuthTransport with the SDK's real StdioClientTransport (1.11.4, the host's pin,
// and the latest 1.x) and a real stdio MCP server (helpers/stdio-mcp-server.js) that checks
// the token it was started with against the reference API's JWKS whenever a tool runs.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useReferenceServer, newClient, captureLogs, sleep } = require('./helpers/client')
const { createStdioAuthTransport, createMcpAuthProvider } = require('../mcp')
const { waitFor } = require('./helpers/mcp-server')

const ref = useReferenceServer()
const SERVER = path.join(__dirname, 'helpers', 'stdio-mcp-server.js')
const LIFETIME_SECONDS = 4

const lines = {
  'sdk 1.11.4': {
    Client: require('mcp-sdk-1.11.4/client/index.js').Client,
    ...require('mcp-sdk-1.11.4/client/stdio.js'),
  },
  'sdk latest 1.x': {
    Client: require('@modelcontextprotocol/sdk/client/index.js').Client,
    ...require('@modelcontextprotocol/sdk/client/stdio.js'),
  },
}

async function signedIn() {
  const authClient = newClient(ref.server, { logLevel: 'trace' })
  const logs = captureLogs(authClient)
  await authClient.login(ref.server.user)
  return { authClient, logs }
}

/** An MCP client over the stdio transport, closed after the test. */
async function connect(t, sdk, authClient, options) {
  const transport = stdioTransport(sdk, authClient, options)
  const client = new sdk.Client({ name: 'mcp-stdio.test', version: '1.0.0' })
  t.after(() => client.close())
  await client.connect(transport)
  return client
}

function stdioTransport(sdk, authClient, { env = {}, ...extra } = {}) {
  return createStdioAuthTransport(authClient, sdk.StdioClientTransport, {
    ...extra,
    command: process.execPath,
    args: [SERVER],
    // SDK 1.11.4 passes `env` as the child's whole environment (later ones add the defaults).
    env: { ...sdk.getDefaultEnvironment(), STDIO_TEST_JWKS_URL: `${ref.server.url}/api/jwt/jwks`, ...env },
    serverUrl: ref.server.url,
    tokenEnv: { HTTP_HEADER_AUTHORIZATION: 'Bearer {token}' },
  })
}

const jtiOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).jti
const randomDelay = (maxMs) => sleep(Math.floor(Math.random() * (maxMs + 1)))

/** A file the test children add "<pid> token|none" to; `alive()` lists those still running. */
function pidLog(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stdio-pids-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'pids')
  const entries = () =>
    (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' '))
  const running = (pid) => {
    try {
      process.kill(Number(pid), 0)
      return true
    } catch {
      return false
    }
  }
  return {
    env: { STDIO_TEST_PID_LOG: file },
    started: (kind) => entries().filter(([, k]) => k === kind).length,
    aliveWithToken: () => entries().filter(([pid, kind]) => kind === 'token' && running(pid)),
  }
}

/** Waits up to `ms` for every process started with a token to be gone. */
async function tokenProcessesGoneWithin(pids, ms) {
  const deadline = Date.now() + ms
  while (pids.aliveWithToken().length > 0 && Date.now() < deadline) await sleep(100)
  assert.deepEqual(pids.aliveWithToken(), [], `processes started with a token still alive ${ms} ms after sign-out`)
}

async function call(client, name) {
  const result = await client.callTool({ name, arguments: {} })
  return JSON.parse(result.content[0].text)
}

/** Polls until `condition(await probe())` holds; returns every value seen. */
async function collectUntil(probe, condition, { timeoutMs = 20_000, intervalMs = 250 } = {}) {
  const seen = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    seen.push(value)
    if (condition(value, seen)) return seen
    if (Date.now() > deadline) assert.fail(`timed out; saw ${JSON.stringify(seen)}`)
    await sleep(intervalMs)
  }
}

for (const [line, sdk] of Object.entries(lines)) {
  test(`${line}: with stderr 'pipe', one stream from construction carries every child's stderr and ends with the transport`, async () => {
    const { authClient } = await signedIn()
    const transport = stdioTransport(sdk, authClient, { stderr: 'pipe', env: { STDIO_TEST_STDERR: '1' } })
    // Attached before start(), as hosts do (MCPService logs it right after construction).
    let text = ''
    transport.stderr.on('data', (chunk) => {
      text += chunk
    })
    const ended = new Promise((resolve) => transport.stderr.on('end', resolve))
    const client = new sdk.Client({ name: 'mcp-stdio.test', version: '1.0.0' })
    await client.connect(transport)
    const first = await call(client, 'whoami')
    await authClient.refreshJwtToken()
    const second = await collectUntil(
      () => call(client, 'whoami'),
      (answer) => answer.pid !== first.pid
    ).then((seen) => seen.at(-1))
    await waitFor(() => text.includes(`started ${second.pid}`), { what: "the replacement's stderr" })
    assert.match(text, new RegExp(`started ${first.pid}\\n`))
    await client.close()
    await ended
  })

  test(`${line}: every token lifetime gets a new child with a valid token, across three tokens`, async (t) => {
    await ref.server.config({ lifetime: LIFETIME_SECONDS })
    const { authClient, logs } = await signedIn()
    const client = await connect(t, sdk, authClient)
    const distinct = (seen) => new Set(seen.map((answer) => answer.jti)).size
    const seen = await collectUntil(
      () => call(client, 'whoami'),
      (_value, all) => distinct(all) >= 3
    )
    // Every answer came from a child whose token the server verified at that moment: each
    // child was replaced before its token expired.
    assert.deepEqual(
      seen.filter((answer) => answer.token !== 'verified'),
      []
    )
    const pidsByJti = new Map(seen.map((answer) => [answer.jti, answer.pid]))
    assert.equal(new Set(pidsByJti.values()).size, pidsByJti.size, 'one child per token')
    assert.ok(pidsByJti.size >= 3)
    const tokens = [authClient.getStoredJwtToken()]
    assert.equal(JSON.stringify(logs).includes(tokens[0]), false, 'no token in the log')
  })
}

const sdk = lines['sdk 1.11.4']

test('only the child environment holds the token: not its command line, and a hard-coded one is dropped', async (t) => {
  const { authClient } = await signedIn()
  const client = await connect(t, sdk, authClient, { env: { HTTP_HEADER_Authorization: 'Bearer hard-coded' } })
  const { pid, token } = await call(client, 'whoami')
  assert.equal(token, 'verified')
  const jwt = authClient.getStoredJwtToken()
  const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  assert.ok(environ.includes(`HTTP_HEADER_AUTHORIZATION=Bearer ${jwt}`))
  assert.equal(
    environ.some((entry) => entry.includes('hard-coded')),
    false
  )
  assert.equal(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(jwt), false)
})

test('a request in flight finishes on the old child; one sent during the replacement waits for the new child', async (t) => {
  const { authClient } = await signedIn()
  const client = await connect(t, sdk, authClient)
  const before = await call(client, 'whoami')
  const order = []
  const slow = call(client, 'slow').then((answer) => {
    order.push('slow')
    return answer
  })
  await sleep(300)
  await authClient.refreshJwtToken()
  const queued = call(client, 'whoami').then((answer) => {
    order.push('queued')
    return answer
  })
  const [slowAnswer, queuedAnswer] = await Promise.all([slow, queued])
  assert.deepEqual(order, ['slow', 'queued'])
  assert.equal(slowAnswer.pid, before.pid, 'the slow call was answered by the child it was sent to')
  assert.equal(slowAnswer.token, 'verified')
  assert.notEqual(queuedAnswer.pid, before.pid)
  assert.equal(queuedAnswer.token, 'verified')
  assert.notEqual(queuedAnswer.jti, before.jti)
})

test('sign-out restarts the child without a token; signing in again gives it one', async (t) => {
  const { authClient } = await signedIn()
  const client = await connect(t, sdk, authClient)
  const signedInAnswer = await call(client, 'whoami')
  assert.equal(signedInAnswer.token, 'verified')

  await authClient.logout()
  const [out] = (
    await collectUntil(
      () => call(client, 'whoami'),
      (answer) => answer.pid !== signedInAnswer.pid
    )
  ).slice(-1)
  assert.deepEqual([out.token, out.header], [null, null])

  await authClient.login(ref.server.user)
  const [back] = (
    await collectUntil(
      () => call(client, 'whoami'),
      (answer) => answer.pid !== out.pid
    )
  ).slice(-1)
  assert.equal(back.token, 'verified')
})

test('a remote that is not trusted, or a tokenEnv without {token}, is refused before any child starts', async () => {
  const { authClient } = await signedIn()
  const options = { command: process.execPath, args: [SERVER], tokenEnv: { HTTP_HEADER_AUTHORIZATION: 'Bearer {token}' } }
  assert.throws(
    () => createStdioAuthTransport(authClient, sdk.StdioClientTransport, { ...options, serverUrl: 'https://remote.example.com' }),
    {
      code: 'E_UNTRUSTED_ORIGIN',
    }
  )
  for (const tokenEnv of [undefined, {}, { HTTP_HEADER_AUTHORIZATION: 'Bearer' }, { 'BAD NAME': '{token}' }]) {
    assert.throws(
      () => createStdioAuthTransport(authClient, sdk.StdioClientTransport, { ...options, serverUrl: ref.server.url, tokenEnv }),
      {
        code: 'E_CONFIG',
      }
    )
  }
})

for (const [line, sdk] of Object.entries(lines)) {
  test(`${line}: after refresh-then-logout and logout-then-login, the child that answers holds the newest state (20 rounds, random delays)`, {
    timeout: 120_000,
  }, async (t) => {
    // Forced refreshes unspaced here, so every round's refresh is a new token.
    const authClient = newClient(ref.server, { refreshRetryMinMs: 1, refreshRetryMaxMs: 10 })
    await authClient.login(ref.server.user)
    const client = await connect(t, sdk, authClient, { env: { STDIO_TEST_SLOW_MS: '150' } })
    for (let round = 0; round < 20; round++) {
      // A refresh while a request is in flight (its replacement waits), then a sign-out.
      const slow = call(client, 'slow').catch((error) => error)
      await randomDelay(50)
      await authClient.refreshJwtToken()
      await randomDelay(150)
      await authClient.logout()
      const out = await call(client, 'whoami')
      assert.equal(out.token, null, `round ${round}: a request after logout() was answered by a child holding a token`)
      await slow
      // A sign-out, then a sign-in 0-150 ms later.
      await authClient.login(ref.server.user)
      await authClient.logout()
      await randomDelay(150)
      await authClient.login(ref.server.user)
      const back = await call(client, 'whoami')
      assert.equal(back.token, 'verified', `round ${round}: answered without the new session's token`)
      assert.equal(back.jti, jtiOf(authClient.getStoredJwtToken()), `round ${round}: answered with an older token`)
    }
  })

  test(`${line}: a child that ignores SIGTERM is killed; none started with a token outlives the sign-out by 5 s`, {
    timeout: 120_000,
  }, async (t) => {
    const { authClient } = await signedIn()
    const pids = pidLog(t)
    const client = await connect(t, sdk, authClient, { env: { ...pids.env, STDIO_TEST_IGNORE_SIGTERM: '1' } })
    assert.equal((await call(client, 'whoami')).token, 'verified')
    await authClient.logout()
    assert.equal((await call(client, 'whoami')).token, null)
    await tokenProcessesGoneWithin(pids, 5000)
  })

  test(`${line}: a replacement that never answers the replayed initialize does not hold off the sign-out`, {
    timeout: 120_000,
  }, async (t) => {
    const authClient = newClient(ref.server)
    const pids = pidLog(t)
    // Signed out at first: the first child has no token and answers; every child started
    // with a token never answers.
    const client = await connect(t, sdk, authClient, {
      env: { ...pids.env, STDIO_TEST_MUTE_WITH_TOKEN: '1', STDIO_TEST_IGNORE_SIGTERM: '1' },
    })
    assert.equal((await call(client, 'whoami')).token, null)
    await authClient.login(ref.server.user)
    const queued = call(client, 'whoami')
    // Waits for the replacement to start (a child's start-up time varies with the machine's load).
    await waitFor(() => pids.started('token') > 0, { what: 'the replacement holding the token to start' })
    assert.equal(pids.started('token'), 1, 'one replacement holding the token started')
    await authClient.logout()
    assert.equal((await queued).token, null, 'the queued request is answered by the signed-out child')
    await tokenProcessesGoneWithin(pids, 5000)
  })

  test(`${line}: a replay unanswered within replayTimeoutMs fails the queued requests with E_TIMEOUT`, { timeout: 120_000 }, async (t) => {
    const authClient = newClient(ref.server)
    const pids = pidLog(t)
    const client = await connect(t, sdk, authClient, { replayTimeoutMs: 500, env: { ...pids.env, STDIO_TEST_MUTE_WITH_TOKEN: '1' } })
    assert.equal((await call(client, 'whoami')).token, null)
    await authClient.login(ref.server.user)
    const error = await call(client, 'whoami').then(
      () => assert.fail('answered'),
      (failure) => failure
    )
    assert.equal(error.code, 'E_TIMEOUT')
    assert.match(error.message, /^E_TIMEOUT: /)
    await tokenProcessesGoneWithin(pids, 5000)
  })
}

test('a server answering 401 to every request for 2 s: a handful of refreshes, and no more children than refreshes', async (t) => {
  const { authClient } = await signedIn()
  const pids = pidLog(t)
  const client = await connect(t, sdk, authClient, { env: pids.env })
  const provider = createMcpAuthProvider(authClient, { serverUrl: ref.server.url })
  const before = await ref.server.counters()
  const deadline = Date.now() + 2000
  let calls = 0
  while (Date.now() < deadline) {
    await provider.onUnauthorized({ response: new Response(null, { status: 401 }) })
    assert.equal((await call(client, 'whoami')).token, 'verified')
    calls++
  }
  const after = await ref.server.counters()
  const refreshes = after.refresh + after.token - before.refresh - before.token
  assert.ok(calls >= 5, `${calls} calls`)
  assert.ok(refreshes <= 10, `${refreshes} refreshes in 2 s`)
  assert.ok(pids.started('token') <= refreshes + 1, `${pids.started('token')} children for ${refreshes} refreshes`)
})
