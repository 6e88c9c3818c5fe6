'use strict'
// Starts, controls and stops the reference Flask server (testing/flask_api) for tests
// and the demo. Node built-ins only; talks to the server's /__control/ endpoints.

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const repoRoot = path.resolve(__dirname, '..')
const pythonPath = path.join(repoRoot, '.venv', 'bin', 'python')
const setupScript = path.join(repoRoot, 'scripts', 'setup-python.sh')

const DEMO_USER = Object.freeze({ email: 'demo@example.com', password: 'demo-password' })
const ADMIN_USER = Object.freeze({ email: 'admin@example.com', password: 'admin-password' })

const START_TIMEOUT_MS = 20_000
const STOP_GRACE_MS = 3_000
const STDERR_KEPT_BYTES = 64 * 1024

// Every server this process started, killed on exit so none outlives a failed test run.
const runningChildren = new Set()
process.on('exit', () => {
  for (const child of runningChildren) child.kill('SIGKILL')
})

let pythonEnvReady = false

// The setup script is cheap when nothing changed and takes a lock, so running it once
// per process (rather than only when .venv/bin/python is missing) also picks up changed
// requirements and never races a parallel test file that is still installing them.
function ensurePythonEnv() {
  if (pythonEnvReady) return
  try {
    execFileSync('bash', [setupScript], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  } catch (error) {
    throw new Error(`scripts/setup-python.sh failed (exit ${error.status}):\n${error.stderr || error.message}`)
  }
  if (!fs.existsSync(pythonPath)) {
    throw new Error(`scripts/setup-python.sh succeeded but ${pythonPath} is missing`)
  }
  pythonEnvReady = true
}

// Top-level camelCase keys become the server's snake_case; nested objects (claims,
// headers) are passed through untouched.
function snakeKeys(object = {}) {
  return Object.fromEntries(
    Object.entries(object)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value])
  )
}

function spawnServer({ csrf, host }) {
  const args = ['-m', 'testing.flask_api', '--port', '0', '--host', host, '--exit-on-stdin-eof']
  if (csrf) args.push('--csrf')
  return spawn(pythonPath, args, {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    // No __pycache__ inside the repo; output reaches the harness as soon as it is printed.
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
  })
}

function waitForListening(child, timeoutMs) {
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT_BYTES)
  })
  const describeStderr = () => (stderr.trim() ? `\nserver stderr:\n${stderr.trim()}` : ' (no stderr output)')

  return new Promise((resolve, reject) => {
    let stdout = ''
    const settle = (fn, value) => {
      clearTimeout(timer)
      child.stdout.removeListener('data', onStdout)
      child.removeListener('exit', onExit)
      child.removeListener('error', onError)
      // Keep draining stdout so the child never blocks on a full pipe.
      child.stdout.resume()
      fn(value)
    }
    const onStdout = (chunk) => {
      stdout += chunk
      const match = /^LISTENING (http:\/\/\S+)$/m.exec(stdout)
      if (match) settle(resolve, match[1])
    }
    const onExit = (code, signal) =>
      settle(reject, new Error(`reference server exited (${signal || `code ${code}`}) before listening${describeStderr()}`))
    const onError = (error) => settle(reject, new Error(`could not start reference server ${pythonPath}: ${error.message}`))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      settle(reject, new Error(`reference server did not print LISTENING within ${timeoutMs} ms${describeStderr()}`))
    }, timeoutMs)

    child.stdout.setEncoding('utf8')
    child.stdout.on('data', onStdout)
    child.once('exit', onExit)
    child.once('error', onError)
  })
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    runningChildren.delete(child)
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
    child.once('exit', () => {
      clearTimeout(killTimer)
      runningChildren.delete(child)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

async function startReferenceServer({ csrf = false, host = '127.0.0.1', startTimeoutMs = START_TIMEOUT_MS } = {}) {
  ensurePythonEnv()
  const child = spawnServer({ csrf, host })
  runningChildren.add(child)
  let url
  try {
    url = await waitForListening(child, startTimeoutMs)
  } catch (error) {
    await stopChild(child)
    throw error
  }
  // A forgotten stop() must not keep the test process alive; the 'exit' hook (and the
  // server's own stdin-EOF watch) still take the server down with it.
  for (const handle of [child, child.stdin, child.stdout, child.stderr]) handle.unref()

  async function control(method, name, body) {
    const response = await fetch(`${url}/__control/${name}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`/__control/${name} answered ${response.status}: ${text}`)
    return JSON.parse(text)
  }

  let stopping = null
  return {
    url,
    user: DEMO_USER,
    users: { demo: DEMO_USER, admin: ADMIN_USER },
    pid: child.pid,
    counters: () => control('GET', 'counters'),
    reset: (options = {}) => control('POST', 'reset', snakeKeys(options)),
    config: (settings) => control('POST', 'config', snakeKeys(settings)),
    rotate: async (options = {}) => (await control('POST', 'rotate', snakeKeys(options))).kid,
    expireSessions: () => control('POST', 'expire_sessions', {}),
    fault: (fault) => control('POST', 'fault', snakeKeys(fault)),
    clearFaults: () => control('POST', 'clear_faults', {}),
    sign: async (options = {}) => (await control('POST', 'sign', snakeKeys(options))).token,
    setJwks: (body, status) => control('POST', 'jwks', snakeKeys({ body: body ?? null, status })),
    state: () => control('GET', 'state'),
    stop: () => {
      stopping ??= stopChild(child)
      return stopping
    },
  }
}

module.exports = { startReferenceServer, repoRoot, pythonPath, DEMO_USER, ADMIN_USER }
