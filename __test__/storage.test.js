'use strict'
// The session in the OS credential store (real gnome-keyring in CI), memory-only sessions,
// JS backends, and what happens when the store is missing or its record is broken.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFile } = require('node:child_process')
const http = require('node:http')
const { promisify } = require('node:util')
const { Entry } = require('@napi-rs/keyring')
const { AuthClient } = require('..')
const { useReferenceServer, newClient, captureLogs, rejection, settle, sleep } = require('./helpers/client')

const run = promisify(execFile)
const ref = useReferenceServer()
const CHILD = path.join(__dirname, 'helpers', 'child-client.js')

/** Options for a keyring-backed client with its own service name and record folder. */
function keyringOptions(overrides = {}) {
  return {
    baseUrl: ref.server?.url,
    storage: 'keyring',
    keyringService: `symbiote-test-${crypto.randomUUID()}`,
    account: 'user@example.com',
    storageDir: fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-store-')),
    ...overrides,
  }
}

function recordFiles(options) {
  return fs.readdirSync(options.storageDir).filter((name) => name.endsWith('.session'))
}

function credentialOf(options) {
  return new Entry(options.keyringService, options.account).getPassword() ?? null
}

async function inChild(options, action, extra = [], env = {}) {
  const { stdout } = await run(process.execPath, [CHILD, JSON.stringify(options), action, ...extra], {
    env: { ...process.env, ...env },
    timeout: 60_000,
  })
  return JSON.parse(stdout.trim().split('\n').pop())
}

let keyringReason = null
test.before(async () => {
  try {
    await new AuthClient(keyringOptions({ baseUrl: 'https://unused.example' })).checkStorage()
  } catch (error) {
    keyringReason = error.message
    const message = `SKIPPED: no Secret Service (${error.message}); run under dbus-run-session with an unlocked gnome-keyring, as .ci/run does`
    if (process.env.SYMBIOTE_AUTH_REQUIRE_KEYRING === '1') throw new Error(message)
    console.error(`\n*** ${message} ***\n`)
  }
})

/** A test that needs the real credential store; skipped loudly where there is none. */
function keyringTest(name, body) {
  test(name, async (t) => {
    if (keyringReason) return t.skip(`SKIPPED: no Secret Service: ${keyringReason}`)
    return body(t)
  })
}

test.describe('credential store (Secret Service)', () => {
  keyringTest('a session saved by one process is restored by another with zero requests', async () => {
    const options = keyringOptions()
    const login = await inChild(options, 'login', [ref.server.user.email, ref.server.user.password])
    assert.equal(login.status.state, 'valid')
    assert.equal(login.status.persistent, true)
    const key = credentialOf(options)
    assert.ok(key && !key.includes(login.token), 'the credential holds a key, not the token')
    const file = fs.readFileSync(path.join(options.storageDir, recordFiles(options)[0]))
    assert.equal(file.includes(login.token), false, 'the record file is encrypted')
    assert.equal(fs.statSync(path.join(options.storageDir, recordFiles(options)[0])).mode & 0o777, 0o600)

    const before = await ref.server.counters()
    const restored = await inChild(options, 'restore')
    assert.equal(restored.status.state, 'valid')
    assert.equal(restored.status.user.email, ref.server.user.email)
    assert.equal(restored.token, login.token)
    assert.deepEqual(await ref.server.counters(), before, 'restore made no request')
  })

  keyringTest('an expired stored JWT is refreshed with the stored session cookie, no password', async () => {
    await ref.server.config({ lifetime: 2 })
    const options = keyringOptions()
    const login = await inChild(options, 'login', [ref.server.user.email, ref.server.user.password])
    await sleep(2500)
    const before = await ref.server.counters()
    const client = newClient(ref.server, options)
    const status = await client.restore()
    assert.equal(status.state, 'valid')
    assert.notEqual(client.getStoredJwtToken(), login.token)
    const after = await ref.server.counters()
    assert.equal(after.login, before.login, 'no login')
    assert.equal(after.refresh + after.token - before.refresh - before.token, 1)
  })

  keyringTest('remember: false stores nothing, logout removes everything it wrote', async () => {
    const options = keyringOptions()
    const client = newClient(ref.server, options)
    await client.login({ ...ref.server.user, remember: false })
    assert.equal(client.status().persistent, false)
    assert.deepEqual(recordFiles(options), [])
    assert.equal(credentialOf(options), null)

    await client.login(ref.server.user)
    assert.equal(client.status().persistent, true)
    assert.equal(recordFiles(options).length, 1)
    assert.notEqual(credentialOf(options), null)
    await ref.server.fault({ endpoint: 'logout', status: 503 })
    await client.logout()
    assert.deepEqual(recordFiles(options), [], 'the record file is gone')
    assert.equal(credentialOf(options), null, 'the credential is gone')
    assert.equal((await newClient(ref.server, options).restore()).state, 'signed-out')
  })

  keyringTest('a record of more than 8 KB round-trips', async () => {
    const big = await ref.server.sign({ claims: { filler: 'x'.repeat(9000) } })
    await ref.server.fault({ endpoint: 'token', status: 200, body: { access_token: big, token_type: 'Bearer' } })
    const options = keyringOptions()
    await newClient(ref.server, options).login(ref.server.user)
    const restored = newClient(ref.server, options)
    assert.equal((await restored.restore()).state, 'valid')
    assert.equal(restored.getStoredJwtToken(), big)
  })

  keyringTest('a corrupted record is reported once, cleared, and means signed out', async () => {
    const options = keyringOptions({ logLevel: 'warn' })
    await newClient(ref.server, options).login(ref.server.user)
    const file = path.join(options.storageDir, recordFiles(options)[0])
    const bytes = fs.readFileSync(file)
    bytes[bytes.length - 5] ^= 0xff
    fs.writeFileSync(file, bytes)
    const client = newClient(ref.server, options)
    const records = captureLogs(client)
    assert.equal((await client.restore()).state, 'signed-out')
    await settle()
    assert.equal(records.filter((r) => r.level === 'warn').length, 1)
    assert.deepEqual(recordFiles(options), [])
    assert.equal((await newClient(ref.server, options).restore()).state, 'signed-out')
  })

  keyringTest('a record for another account is not used', async () => {
    const options = keyringOptions()
    await newClient(ref.server, options).login(ref.server.user)
    const other = newClient(ref.server, { ...options, account: 'someone-else' })
    assert.equal((await other.restore()).state, 'signed-out')
    assert.equal((await newClient(ref.server, options).restore()).state, 'valid')
  })

  keyringTest('two processes writing the same account never tear the record', async () => {
    const options = keyringOptions()
    const args = [ref.server.user.email, ref.server.user.password, '15']
    const results = await Promise.all([inChild(options, 'refresh-loop', args), inChild(options, 'refresh-loop', args)])
    for (const result of results) assert.equal(result.status.state, 'valid')
    const restored = newClient(ref.server, options)
    assert.equal((await restored.restore()).state, 'valid')
    assert.ok(
      results.some((r) => r.token === restored.getStoredJwtToken()),
      'the last complete write wins'
    )
  })
})

/** A plain HTTP server that records every request's headers and answers 401 JSON. */
async function recordingApi() {
  const requests = []
  const server = http.createServer((request, response) => {
    requests.push({ method: request.method, url: request.url, headers: request.headers })
    request.resume()
    response.writeHead(401, { 'content-type': 'application/json' }).end('{"error": "recording"}')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/** A JS backend with one slot, as a host's own store has. */
function oneSlotBackend() {
  return {
    stored: null,
    load() {
      return this.stored
    },
    save(data) {
      this.stored = data
    },
    clear() {
      this.stored = null
    },
  }
}

test.describe('a stored session is bound to the API origin it was made for', () => {
  async function switchingEnvironments(options) {
    const production = newClient(ref.server, options)
    await production.login(ref.server.user)
    const token = production.getStoredJwtToken()
    const staging = await recordingApi()
    try {
      const other = newClient(ref.server, { ...options, baseUrl: staging.url, logLevel: 'trace' })
      const logs = captureLogs(other)
      assert.equal((await other.restore()).state, 'signed-out', "another origin's record is not restored")
      assert.equal(other.getStoredJwtToken(), null)
      assert.equal((await rejection(other.getJwtToken())).code, 'E_LOGIN_REQUIRED')
      await other.logout()
      for (const request of staging.requests) {
        assert.equal(request.headers.cookie, undefined, `${request.method} ${request.url} carried a cookie`)
        assert.equal(request.headers.authorization, undefined, `${request.method} ${request.url} carried a bearer`)
      }
      assert.equal(JSON.stringify(logs).includes(token), false)
    } finally {
      await staging.close()
    }
    const back = newClient(ref.server, options)
    assert.equal((await back.restore()).state, 'valid', "switching back restores that origin's session")
    assert.equal(back.getStoredJwtToken(), token, "the other client's logout left this record alone")
  }

  test('in the process-wide memory store', async () => {
    await switchingEnvironments({ storage: 'memory', account: `origin-${crypto.randomUUID()}` })
  })

  keyringTest('in the credential store', async () => {
    const options = keyringOptions()
    await switchingEnvironments(options)
    assert.equal(recordFiles(options).length, 1, 'one record, of the API that signed in')
  })

  test('in a JS backend, which holds one record: it is neither restored nor cleared by another origin', async () => {
    await switchingEnvironments({ storage: oneSlotBackend(), account: `origin-${crypto.randomUUID()}` })
  })

  test('a record from before the origin binding is not trusted: signed out, one warning', async () => {
    const capture = oneSlotBackend()
    await newClient(ref.server, { storage: capture, account: 'unbound' }).login(ref.server.user)
    const record = JSON.parse(capture.stored)
    record.version = 1
    delete record.origin
    capture.stored = JSON.stringify(record)
    const client = newClient(ref.server, { storage: capture, account: 'unbound', logLevel: 'warn' })
    const logs = captureLogs(client)
    assert.equal((await client.restore()).state, 'signed-out')
    await settle()
    assert.deepEqual(
      logs.map((r) => [r.level, r.fields?.reason]),
      [
        [
          'warn',
          'the stored session was saved by an older version, without the API origin it belongs to, so it is not trusted: sign in again',
        ],
      ]
    )
  })

  keyringTest('against Flask-Security with CSRF: a new process restores an expired JWT and refreshes it without a password', async () => {
    await ref.server.config({ lifetime: 2, csrf: true })
    const options = keyringOptions({ paths: { csrf: '/api/login' } })
    const login = await inChild(options, 'login', [ref.server.user.email, ref.server.user.password])
    assert.equal(login.status.state, 'valid')
    await sleep(2500)
    const before = await ref.server.counters()
    const restored = await inChild(options, 'restore-refresh')
    assert.equal(restored.error, undefined, JSON.stringify(restored.error))
    assert.equal(restored.status.state, 'valid')
    assert.notEqual(restored.token, login.token)
    const after = await ref.server.counters()
    assert.equal(after.login, before.login, 'no password')
    assert.ok(after.csrf - before.csrf >= 1, 'the new process fetched its CSRF token when it first needed one')
  })
})

test.describe('credential store unavailable', () => {
  const noBus = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' }

  test('login fails with E_STORAGE saying what to do, unless storageFallback is memory', async () => {
    const options = keyringOptions()
    const loginsBefore = (await ref.server.counters()).login
    const failed = await inChild(options, 'login', [ref.server.user.email, ref.server.user.password], noBus)
    assert.equal(failed.error.code, 'E_STORAGE')
    assert.match(failed.error.message, /gnome-keyring|KWallet|storageFallback/)
    assert.equal((await ref.server.counters()).login, loginsBefore, 'the store is asked before the password goes out')
    assert.deepEqual(recordFiles(options), [], 'never a plaintext fallback')

    const fallback = await inChild(
      { ...options, storageFallback: 'memory' },
      'login',
      [ref.server.user.email, ref.server.user.password],
      noBus
    )
    assert.equal(fallback.status.state, 'valid')
    assert.equal(fallback.status.persistent, false)
    assert.deepEqual(recordFiles(options), [])
  })

  test('restore with nothing stored needs no credential store', async () => {
    const restored = await inChild(keyringOptions(), 'restore', [], noBus)
    assert.equal(restored.status.state, 'signed-out')
  })

  keyringTest('restore of a stored session with the store unavailable is E_STORAGE, or signed out with the fallback', async () => {
    const options = keyringOptions()
    await newClient(ref.server, options).login(ref.server.user)
    assert.equal((await inChild(options, 'restore', [], noBus)).error.code, 'E_STORAGE')
    const fallback = await inChild({ ...options, storageFallback: 'memory' }, 'restore', [], noBus)
    assert.equal(fallback.status.state, 'signed-out')
    assert.equal(recordFiles(options).length, 1, 'an unavailable store is not a corrupted one: nothing is deleted')
    assert.equal((await newClient(ref.server, options).restore()).state, 'valid')
  })
})

test.describe('storage backends', () => {
  function encryptingBackend(key, { async = false } = {}) {
    const backend = {
      blob: null,
      received: [],
      seal(data) {
        this.received.push(data)
        const iv = crypto.randomBytes(12)
        const cipher = crypto.createCipheriv('aes-256-gcm', key, iv)
        const sealed = Buffer.concat([cipher.update(data, 'utf8'), cipher.final()])
        this.blob = Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64')
      },
      open() {
        if (!this.blob) return null
        const raw = Buffer.from(this.blob, 'base64')
        const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      },
      load() {
        return async ? Promise.resolve(this.open()) : this.open()
      },
      save(data) {
        this.seal(data)
        return async ? Promise.resolve() : undefined
      },
      clear() {
        this.blob = null
        return async ? Promise.resolve(true) : undefined
      },
    }
    return backend
  }

  for (const async of [false, true]) {
    test(`a JS backend (${async ? 'async' : 'sync'}) keeps the session, and what it stores is sealed`, async () => {
      const backend = encryptingBackend(crypto.randomBytes(32), { async })
      const client = newClient(ref.server, { storage: backend, account: `backend-${async}` })
      client.account = `backend-${async}`
      await client.login(ref.server.user)
      const token = client.getStoredJwtToken()
      assert.equal(client.status().persistent, true)
      assert.ok(backend.received.length >= 1)
      assert.equal(backend.blob.includes(token), false)
      assert.equal(Buffer.from(backend.blob, 'base64').includes(token), false)

      const restored = newClient(ref.server, { storage: backend, account: client.account })
      assert.equal((await restored.restore()).state, 'valid')
      assert.equal(restored.getStoredJwtToken(), token)
      await restored.logout()
      assert.equal(backend.blob, null)
    })
  }

  // docs/STORAGE.md's safeStorage backend, the block as it stands, with a stand-in for
  // Electron (which cannot run here) whose safeStorage really encrypts.
  function loadDocumentedSafeStorageBackend(selectedBackend) {
    const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'STORAGE.md'), 'utf8')
    const block = /```js\n\/\/ safe-storage-backend\.js\n([\s\S]*?)```/.exec(doc)?.[1]
    assert.ok(block, 'docs/STORAGE.md has the safe-storage-backend.js block')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-safe-storage-'))
    const userData = path.join(dir, 'user-data')
    fs.mkdirSync(userData)
    fs.mkdirSync(path.join(dir, 'node_modules', 'electron'), { recursive: true })
    const key = crypto.randomBytes(32).toString('hex')
    fs.writeFileSync(
      path.join(dir, 'node_modules', 'electron', 'index.js'),
      `'use strict'
      // A stand-in for Electron's main-process app and safeStorage (AES-256-GCM, key per run).
      const crypto = require('node:crypto')
      const key = Buffer.from('${key}', 'hex')
      exports.app = { getPath: (name) => (name === 'userData' ? ${JSON.stringify(userData)} : undefined) }
      exports.safeStorage = {
        isEncryptionAvailable: () => true,
        getSelectedStorageBackend: () => ${JSON.stringify(selectedBackend)},
        encryptString(text) {
          const iv = crypto.randomBytes(12)
          const cipher = crypto.createCipheriv('aes-256-gcm', key, iv)
          const sealed = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()])
          return Buffer.concat([iv, cipher.getAuthTag(), sealed])
        },
        decryptString(raw) {
          const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
          decipher.setAuthTag(raw.subarray(12, 28))
          return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
        },
      }
`
    )
    const file = path.join(dir, 'safe-storage-backend.js')
    fs.writeFileSync(file, block)
    return { ...require(file), userData, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
  }

  test("docs/STORAGE.md's safeStorage backend keeps the session encrypted and restores it", async (t) => {
    const { safeStorageBackend, userData, cleanup } = loadDocumentedSafeStorageBackend('gnome_libsecret')
    t.after(cleanup)
    const client = newClient(ref.server, { storage: safeStorageBackend(), account: 'safe-storage' })
    const status = await client.login(ref.server.user)
    assert.equal(status.persistent, true)
    const token = client.getStoredJwtToken()
    const sealed = fs.readFileSync(path.join(userData, 'session.bin'))
    for (const plain of [token, token.split('.')[1], ref.server.user.email, 'cookie', 'access_token']) {
      assert.equal(sealed.includes(plain), false, 'the file holds nothing of the record in plaintext')
    }
    const next = newClient(ref.server, { storage: safeStorageBackend(), account: 'safe-storage' })
    assert.equal((await next.restore()).state, 'valid')
    assert.equal(next.getStoredJwtToken(), token)
    await next.logout()
    assert.equal(fs.existsSync(path.join(userData, 'session.bin')), false)
  })

  test("docs/STORAGE.md's safeStorage backend refuses Linux's plaintext basic_text before the password goes out", {
    skip: process.platform !== 'linux' && 'basic_text is a Linux backend',
  }, async (t) => {
    const { safeStorageBackend, cleanup } = loadDocumentedSafeStorageBackend('basic_text')
    t.after(cleanup)
    const logins = (await ref.server.counters()).login
    const error = await rejection(newClient(ref.server, { storage: safeStorageBackend() }).login(ref.server.user))
    assert.equal(error.code, 'E_STORAGE')
    assert.equal((await ref.server.counters()).login, logins)
  })

  test('a JS backend that throws is E_STORAGE and the login is undone', async () => {
    const backend = {
      load: () => null,
      save: () => {
        throw new Error('disk full')
      },
      clear: () => undefined,
    }
    const client = newClient(ref.server, { storage: backend })
    const error = await rejection(client.login(ref.server.user))
    assert.equal(error.code, 'E_STORAGE')
    assert.match(error.message, /save\(\) threw or rejected/)
    assert.equal(error.message.includes('disk full'), false, "the backend's own text is not repeated")
    assert.equal(client.isAuthenticated(), false)
  })

  test('a JS backend whose load() resolves to a non-string is E_STORAGE without quoting it', async () => {
    const record = 'RECORD-eyJhbGciOiJSUzI1NiJ9'
    for (const loaded of [Buffer.from(record), { record }, 42, [record]]) {
      const client = newClient(ref.server, { storage: { load: () => loaded, save: () => {}, clear: () => {} } })
      const error = await rejection(client.restore())
      assert.equal(error.code, 'E_STORAGE')
      assert.match(error.message, /load\(\) resolved to something other than a string, null or undefined/)
      assert.equal(error.message.includes('RECORD'), false, error.message)
      assert.equal(error.message.includes('42'), false, error.message)
    }
  })

  test('a storage value that is not a backend is E_CONFIG or a clear TypeError', () => {
    assert.throws(() => newClient(ref.server, { storage: { load() {} } }))
    assert.throws(
      () => newClient(ref.server, { storage: 'disk' }),
      (e) => e.code === 'E_CONFIG'
    )
  })
})
