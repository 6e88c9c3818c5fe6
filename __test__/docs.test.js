'use strict'
// docs/TROUBLESHOOTING.md quotes messages as the user sees them: each is produced here, for
// real, and compared with the page (`<…>` in a quote stands for what varies).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { AuthClient } = require('..')
const { registerAuthIpc, exposeAuthApi } = require('../electron')
const { run } = require('../cli')
const { startReferenceServer } = require('../testing/server')
const { closedPortUrl, rejection } = require('./helpers/client')
const { createFakeElectron } = require('./helpers/fake-electron')

const repoRoot = path.join(__dirname, '..')
const page = fs.readFileSync(path.join(repoRoot, 'docs', 'TROUBLESHOOTING.md'), 'utf8')
const quotes = [...page.matchAll(/```text\n([\s\S]*?)\n```/g)].map((match) => match[1])

/** The page's quote that begins with `start`, as a pattern: `<…>` matches anything. */
function quoted(start) {
  const quote = quotes.find((text) => text.startsWith(start))
  assert.ok(quote, `docs/TROUBLESHOOTING.md quotes a message beginning ${start}`)
  const pattern = quote
    .split(/<[^>]+>/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+?')
  return new RegExp(`^${pattern}$`)
}

/** `source` run by a fresh Node process in the repo; resolves to what it printed. */
async function inChild(source, env = {}) {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', source], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    timeout: 20_000,
  })
  return stdout.trim()
}

let srv
test.before(async () => {
  srv = await startReferenceServer()
})
test.after(() => srv?.stop())

test('E_NATIVE_BINDING: a missing binary', async () => {
  const message = await inChild(`try { require('.') } catch (error) { console.log(error.code + '|' + error.message) }`, {
    NAPI_RS_NATIVE_LIBRARY_PATH: path.join(__dirname, 'no-such-addon.node'),
  })
  const [code, text] = message.split('|')
  assert.equal(code, 'E_NATIVE_BINDING')
  assert.match(text, quoted('E_NATIVE_BINDING: '))
})

test('E_STORAGE: no Secret Service on Linux', { skip: process.platform !== 'linux' && 'the Linux message' }, async () => {
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-docs-'))
  try {
    const options = JSON.stringify({ baseUrl: srv.url, storageDir, account: 'docs-test' })
    const message = await inChild(
      `new (require('.').AuthClient)(${options}).login(${JSON.stringify(srv.user)}).catch((error) => console.log(error.message))`,
      { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' }
    )
    assert.match(message, quoted('E_STORAGE: '))
  } finally {
    fs.rmSync(storageDir, { recursive: true, force: true })
  }
})

test('E_FORBIDDEN_SENDER: a dev server page', async (t) => {
  t.mock.method(console, 'warn', () => {})
  const electron = createFakeElectron()
  registerAuthIpc(electron.ipcMain, new AuthClient({ baseUrl: srv.url, storage: 'memory' }))
  const window = electron.openWindow({ url: 'http://localhost:5173/', preload: exposeAuthApi })
  const error = await rejection(window.mainWorld.symbioteAuth.status())
  assert.match(error.message, quoted('E_FORBIDDEN_SENDER: '))
})

test('E_CSRF: Flask-Security with CSRF on, no paths.csrf', async () => {
  await srv.config({ csrf: true })
  try {
    const error = await rejection(new AuthClient({ baseUrl: srv.url, storage: 'memory' }).login(srv.user))
    assert.match(error.message, quoted('E_CSRF: '))
  } finally {
    await srv.config({ csrf: false })
  }
})

test('E_NETWORK: nothing listening', async () => {
  const url = await closedPortUrl()
  const error = await rejection(new AuthClient({ baseUrl: url, storage: 'memory' }).login(srv.user))
  assert.match(error.message, quoted('E_NETWORK: '))
})

test("doctor's clock skew line", async () => {
  await srv.config({ clockOffset: 3600 })
  try {
    let stdout = ''
    const sink = { write: (chunk) => (stdout += chunk) }
    await run(['doctor', '--base-url', srv.url, '--storage', 'memory'], { stdin: null, stdout: sink, stderr: sink, env: {} })
    const line = stdout.split('\n').find((text) => text.startsWith('FAIL  clock skew'))
    assert.match(line, quoted('FAIL  clock skew'))
  } finally {
    await srv.config({ clockOffset: 0 })
  }
})
