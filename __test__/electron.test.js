'use strict'
// symbiote-auth/electron through fakes of Electron's IPC (helpers/fake-electron.js) and a
// real AuthClient signed in to the reference Flask server. Runs under plain Node, or under
// Electron's Node with ELECTRON_RUN_AS_NODE=1 $ELECTRON_BIN --test (docs/ELECTRON.md).

const test = require('node:test')
const assert = require('node:assert/strict')
const { AuthClient } = require('..')
const { registerAuthIpc, exposeAuthApi, channelsFor, LIMITS } = require('../electron')
const { startReferenceServer } = require('../testing/server')
const { createFakeElectron } = require('./helpers/fake-electron')

const channels = channelsFor('symbiote-auth')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const nextTask = () => new Promise((resolve) => setImmediate(resolve))
const thrownBy = (fn) => {
  try {
    fn()
  } catch (error) {
    return error
  }
  assert.fail('expected a throw')
}

let srv
let accountSequence = 0

test.before(async () => {
  srv = await startReferenceServer()
  // Shows in the test report, to confirm an ELECTRON_BIN run really used Electron.
  if (process.versions.electron) console.log(`running under Electron ${process.versions.electron}`)
})
test.after(() => srv?.stop())
test.beforeEach(() => srv.reset({ sessions: true }))

// Each test its own account, so the process-wide memory store never mixes tests up.
function newClient() {
  return new AuthClient({ baseUrl: srv.url, storage: 'memory', account: `electron-test-${++accountSequence}` })
}

// A client double for input validation: records calls, never touches the network.
function recordingClient() {
  const calls = []
  const signedOut = { state: 'signed-out', authenticated: false, user: null, expiresAt: null, lastError: null, persistent: false }
  const record =
    (name, result) =>
    (...args) => {
      calls.push({ name, args })
      return result
    }
  return {
    calls,
    login: record('login', Promise.resolve(signedOut)),
    logout: record('logout', Promise.resolve()),
    restore: record('restore', Promise.resolve(signedOut)),
    status: record('status', signedOut),
    getJwtToken: record('getJwtToken', Promise.resolve('not.a.token')),
    refreshJwtToken: record('refreshJwtToken', Promise.resolve('not.a.token')),
    onStatusChange: () => () => {},
  }
}

async function rejection(promise) {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

// A main process with the glue registered and `openWindow()` giving windows whose preload
// exposed window.symbioteAuth. `pushToAllWindows` passes getWindows: BrowserWindow.getAllWindows.
function setUp({ client = newClient(), pushToAllWindows = false, ...options } = {}) {
  const electron = createFakeElectron()
  const getWindows = pushToAllWindows ? () => electron.BrowserWindow.getAllWindows() : undefined
  // The fake windows load app://renderer/… unless a test says otherwise: the app's origin.
  const policy = options.allowSender ? {} : { allowedOrigins: [APP_ORIGIN] }
  const dispose = registerAuthIpc(electron.ipcMain, client, { ...policy, ...options, getWindows })
  const preload = (contextBridge, ipcRenderer) => exposeAuthApi(contextBridge, ipcRenderer, { exposeToken: options.exposeToken })
  const openWindow = (url) => {
    const window = electron.openWindow({ url, preload })
    return Object.assign(window, { api: window.mainWorld.symbioteAuth })
  }
  return { electron, client, dispose, openWindow }
}

const APP_ORIGIN = 'app://renderer'

async function until(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

test.describe('fake Electron follows Electron semantics', () => {
  test('one handler per channel; a second handle() throws as Electron does', () => {
    const { ipcMain } = createFakeElectron()
    ipcMain.handle('c', () => 1)
    assert.throws(() => ipcMain.handle('c', () => 2), { message: "Attempted to register a second handler for 'c'" })
    ipcMain.removeHandler('c')
    ipcMain.handle('c', () => 3)
  })

  test('arguments and results are structured clones; handler errors keep only the message', async () => {
    const electron = createFakeElectron()
    const { ipcRenderer } = electron.openWindow()
    let received
    electron.ipcMain.handle('echo', (_event, value) => {
      received = value
      return value
    })
    const sent = { nested: { list: [1, 2] } }
    const reply = await ipcRenderer.invoke('echo', sent)
    assert.deepEqual(reply, sent)
    assert.notEqual(received, sent)
    assert.notEqual(reply, sent)
    assert.equal((await rejection(ipcRenderer.invoke('echo', { f() {} }))).message, 'An object could not be cloned.')

    electron.ipcMain.handle('fail', () => {
      throw Object.assign(new Error('boom'), { code: 'E_SOMETHING' })
    })
    const error = await rejection(ipcRenderer.invoke('fail'))
    assert.equal(error.message, "Error invoking remote method 'fail': Error: boom")
    assert.equal(error.code, undefined)
    assert.match((await rejection(ipcRenderer.invoke('nobody'))).message, /No handler registered for 'nobody'/)
  })

  test('contextBridge copies errors without their properties and refuses an existing key', async () => {
    const electron = createFakeElectron()
    const window = electron.openWindow()
    window.contextBridge.exposeInMainWorld('api', {
      fail: async () => {
        throw Object.assign(new Error('E_X: no'), { code: 'E_X' })
      },
    })
    const error = await rejection(window.mainWorld.api.fail())
    assert.equal(error.message, 'E_X: no')
    assert.equal(error.code, undefined)
    assert.throws(() => window.contextBridge.exposeInMainWorld('api', {}), /existing property/)
  })
})

test.describe('login, status, restore, logout through IPC', () => {
  test('a renderer signs in, reads the status, and signs out', async () => {
    const { client, openWindow } = setUp()
    const { api } = openWindow()
    assert.equal((await api.status()).state, 'signed-out')

    const status = await api.login({ email: srv.user.email, password: srv.user.password })
    assert.equal(status.state, 'valid')
    assert.equal(status.user.email, srv.user.email)
    assert.ok(status.expiresAt > Date.now())
    // Every field the native status has (its type, AuthStatus), clockSkewMs included.
    assert.deepEqual(Object.keys(status).sort(), Object.keys(client.status()).sort())
    assert.ok(Object.keys(status).includes('clockSkewMs'))
    assert.deepEqual(await api.status(), client.status())
    assert.equal(client.isAuthenticated(), true)

    assert.equal(await api.logout(), undefined)
    assert.equal((await api.status()).state, 'signed-out')
    assert.equal(client.isAuthenticated(), false)
  })

  test('restore brings back the stored session without signing in again', async () => {
    const account = `electron-restore-${++accountSequence}`
    const first = new AuthClient({ baseUrl: srv.url, storage: 'memory', account })
    await first.login({ email: srv.user.email, password: srv.user.password })
    const logins = (await srv.counters()).login

    const { api } = setUp({ client: new AuthClient({ baseUrl: srv.url, storage: 'memory', account }) }).openWindow()
    const restored = await api.restore()
    assert.equal(restored.state, 'valid')
    assert.equal(restored.user.email, srv.user.email)
    assert.equal((await srv.counters()).login, logins)
    await first.logout()
  })

  test('a refused login rejects with its code: .code in the preload, the message prefix in the page', async () => {
    const { openWindow } = setUp()
    const window = openWindow()
    const credentials = { email: srv.user.email, password: 'wrong-password-81b2' }

    const inPage = await rejection(window.api.login(credentials))
    assert.match(inPage.message, /^E_INVALID_CREDENTIALS: /)
    assert.doesNotMatch(inPage.message, /wrong-password-81b2/)

    // What the preload sees before contextBridge copies the error: the code survives.
    const reply = await window.ipcRenderer.invoke(channels.login, credentials)
    assert.equal(reply.ok, false)
    assert.equal(reply.error.code, 'E_INVALID_CREDENTIALS')
    assert.doesNotMatch(JSON.stringify(reply), /wrong-password-81b2/)
  })

  test('refresh() replaces the token in the main process and resolves to the status, never the token', async () => {
    const { client, openWindow } = setUp()
    const { api } = openWindow()
    await api.login({ email: srv.user.email, password: srv.user.password })
    const before = client.getStoredJwtToken()
    const refreshes = (await srv.counters()).refresh
    await sleep(1100) // a new iat, so the new token's expiry is later
    const status = await api.refresh()
    const after = client.getStoredJwtToken()
    assert.notEqual(after, before)
    assert.equal((await srv.counters()).refresh, refreshes + 1)
    assert.equal(status.state, 'valid')
    assert.deepEqual(status, client.status())
    assert.ok(!JSON.stringify(status).includes(after))
    assert.ok(!JSON.stringify(status).includes(before))

    await api.logout()
    assert.match((await rejection(api.refresh())).message, /^E_LOGIN_REQUIRED: /)
  })

  test('refresh() called in a loop for 2 s costs a handful of refreshes, each answer a valid status', async (t) => {
    const { openWindow } = setUp()
    const { api } = openWindow()
    await api.login({ email: srv.user.email, password: srv.user.password })
    const before = await srv.counters()
    const deadline = Date.now() + 2000
    let calls = 0
    while (Date.now() < deadline) {
      assert.equal((await api.refresh()).state, 'valid')
      calls++
    }
    const after = await srv.counters()
    const refreshes = after.refresh + after.token - before.refresh - before.token
    t.diagnostic(`${refreshes} refreshes for ${calls} calls`)
    assert.ok(calls > 50, `${calls} calls`)
    assert.ok(refreshes >= 1 && refreshes <= 10, `${refreshes} refreshes for ${calls} calls`)
  })

  test('preload errors carry .code when contextBridge is not in the way', async () => {
    const electron = createFakeElectron()
    registerAuthIpc(electron.ipcMain, newClient(), { allowedOrigins: [APP_ORIGIN] })
    const page = {}
    const sameWorld = { exposeInMainWorld: (key, api) => (page[key] = api) }
    exposeAuthApi(sameWorld, electron.openWindow().ipcRenderer)
    const error = await rejection(page.symbioteAuth.login({ email: srv.user.email, password: 'nope' }))
    assert.equal(error.code, 'E_INVALID_CREDENTIALS')
  })
})

test.describe('input from the renderer is validated before the client sees it', () => {
  const valid = { email: 'demo@example.com', password: 'pw' }
  const cases = [
    ['a number', [42]],
    ['a string', ['demo@example.com']],
    ['null', [null]],
    ['nothing', []],
    ['undefined', [undefined]],
    ['an array', [['demo@example.com', 'pw']]],
    ['a numeric email', [{ email: 1, password: 'pw' }]],
    ['an object password', [{ email: 'demo@example.com', password: { toString: 'pw' } }]],
    ['a missing password', [{ email: 'demo@example.com' }]],
    ['a missing email', [{ password: 'pw' }]],
    ['a string remember', [{ ...valid, remember: 'yes' }]],
    ['an unknown field', [{ ...valid, admin: true }]],
    ['a __proto__ field', [JSON.parse('{"email":"demo@example.com","password":"pw","__proto__":{"admin":true}}')]],
    ['an email over the limit', [{ email: `${'a'.repeat(LIMITS.MAX_EMAIL_LENGTH)}@x`, password: 'pw' }]],
    ['a password over the limit', [{ email: 'demo@example.com', password: 'p'.repeat(LIMITS.MAX_PASSWORD_LENGTH + 1) }]],
    ['a 10 MB password', [{ email: 'demo@example.com', password: 'p'.repeat(10 * 1024 * 1024) }]],
    ['an extra argument', [valid, 'extra']],
    [
      'a getter that answers a number',
      [
        {
          get email() {
            return 7
          },
          password: 'pw',
        },
      ],
    ],
  ]

  for (const [name, args] of cases) {
    test(`login with ${name} → E_INVALID_ARGUMENT, no client call`, async () => {
      const client = recordingClient()
      const { openWindow } = setUp({ client })
      const reply = await openWindow().ipcRenderer.invoke(channels.login, ...args)
      assert.equal(reply.ok, false)
      assert.equal(reply.error.code, 'E_INVALID_ARGUMENT')
      assert.ok(reply.error.message.length < 200, 'the message does not echo the input')
      assert.deepEqual(client.calls, [])
    })
  }

  test('valid credentials reach the client as a fresh object with only the known fields', async () => {
    const client = recordingClient()
    const { openWindow } = setUp({ client })
    const { api } = openWindow()
    await api.login({ ...valid, remember: false })
    await api.login(valid)
    assert.deepEqual(client.calls, [
      { name: 'login', args: [{ ...valid, remember: false }] },
      { name: 'login', args: [valid] },
    ])
  })

  test('the rejection never contains the password', async () => {
    const client = recordingClient()
    const { openWindow } = setUp({ client })
    const { api } = openWindow()
    const error = await rejection(api.login({ email: 12, password: 'hunter2-secret' }))
    assert.match(error.message, /^E_INVALID_ARGUMENT: /)
    assert.doesNotMatch(error.message, /hunter2/)
  })

  test('a getter that throws fails in the renderer, before anything is sent', async () => {
    const client = recordingClient()
    const { openWindow } = setUp({ client })
    const credentials = {
      get email() {
        throw new Error('gotcha')
      },
      password: 'pw',
    }
    assert.equal((await rejection(openWindow().ipcRenderer.invoke(channels.login, credentials))).message, 'gotcha')
    assert.deepEqual(client.calls, [])
  })

  test('a handler called directly never runs a getter', async () => {
    const client = recordingClient()
    const { electron } = setUp({ client })
    let getterRuns = 0
    const credentials = {
      get email() {
        getterRuns++
        return 'demo@example.com'
      },
      password: 'pw',
    }
    const event = electron.openWindow().webContents.createEvent()
    const reply = await electron.ipcMain.handlerFor(channels.login)(event, credentials)
    assert.equal(reply.error.code, 'E_INVALID_ARGUMENT')
    assert.equal(getterRuns, 0)
    assert.deepEqual(client.calls, [])
  })

  test('status, restore, refresh and logout refuse arguments', async () => {
    const client = recordingClient()
    const { openWindow } = setUp({ client })
    const { ipcRenderer } = openWindow()
    for (const channel of [channels.status, channels.restore, channels.logout, channels.refresh]) {
      const reply = await ipcRenderer.invoke(channel, { sneaky: true })
      assert.equal(reply.error.code, 'E_INVALID_ARGUMENT', channel)
    }
    assert.deepEqual(client.calls, [])
  })

  test('allowSender can refuse a renderer: E_FORBIDDEN_SENDER, no client call, no pushes', async () => {
    const client = recordingClient()
    const { openWindow } = setUp({ client, allowSender: (event) => event.senderFrame.url.startsWith('app://trusted/') })
    const trusted = openWindow('app://trusted/index.html')
    const stranger = openWindow('https://evil.example/')
    const error = await rejection(stranger.api.login(valid))
    assert.match(error.message, /^E_FORBIDDEN_SENDER: /)
    assert.deepEqual(client.calls, [])
    stranger.api.onStatusChange(() => {})
    trusted.api.onStatusChange(() => {})
    await until(() => trusted.webContents.listenerCount('destroyed') === 1, 'the trusted subscription')
    assert.equal(stranger.webContents.listenerCount('destroyed'), 0)
    assert.equal((await trusted.api.status()).state, 'signed-out')
  })
})

test.describe('the sender policy applies to every call and every push', () => {
  const signedIn = {
    state: 'valid',
    authenticated: true,
    user: { id: '1', email: 'demo@example.com', displayName: null, roles: ['user'] },
    expiresAt: null,
    lastError: null,
    persistent: false,
  }
  function pushingClient() {
    const client = recordingClient()
    const listeners = new Set()
    client.onStatusChange = (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
    client.push = (status) => {
      for (const listener of listeners) listener(status)
    }
    return client
  }
  const pushesTo = (window) => window.webContents.sent.filter(({ channel }) => channel === channels.statusChanged)

  test('a window allowSender refuses gets no push, even when getWindows lists it', async () => {
    const client = pushingClient()
    const { openWindow } = setUp({
      client,
      pushToAllWindows: true,
      allowSender: (event) => event.senderFrame.url.startsWith('app://trusted/'),
    })
    const trusted = openWindow('app://trusted/index.html')
    const refused = openWindow('app://other/index.html')
    client.push(signedIn)
    await until(() => pushesTo(trusted).length === 1, 'the push to the trusted window')
    await sleep(20)
    assert.deepEqual(pushesTo(refused), [], 'the user, email and roles never reach the refused window')
  })

  test('after a trusted page navigates to another origin, it gets no more pushes', async () => {
    for (const pushToAllWindows of [false, true]) {
      const client = pushingClient()
      const { openWindow } = setUp({ client, pushToAllWindows })
      const window = openWindow(`${APP_ORIGIN}/index.html`)
      window.api.onStatusChange(() => {})
      await until(() => window.webContents.listenerCount('did-navigate') === 1, 'the subscription')
      client.push(signedIn)
      await until(() => pushesTo(window).length === 1, 'the first push')
      window.webContents.navigate('https://evil.example/')
      assert.equal(window.webContents.listenerCount('did-navigate'), 0, 'the subscription ended with the page')
      client.push({ ...signedIn, state: 'refreshing' })
      await sleep(20)
      assert.equal(pushesTo(window).length, 1, `no push after the navigation (getWindows: ${pushToAllWindows})`)
    }
  })

  test('by default only the main frame of a file:// page may call: other origins and iframes are refused', async () => {
    const electron = createFakeElectron()
    const client = recordingClient()
    registerAuthIpc(electron.ipcMain, client)
    const preload = (contextBridge, ipcRenderer) => exposeAuthApi(contextBridge, ipcRenderer)
    const local = electron.openWindow({ url: 'file:///opt/app/index.html', preload })
    const evil = electron.openWindow({ url: 'https://evil.example/', preload })
    assert.equal((await local.mainWorld.symbioteAuth.status()).state, 'signed-out')
    assert.match((await rejection(evil.mainWorld.symbioteAuth.status())).message, /^E_FORBIDDEN_SENDER: /)
    const iframe = local.webContents.openSubframe('file:///opt/app/embedded.html')
    const reply = await iframe.invoke(channels.status)
    assert.equal(reply.ok, false)
    assert.equal(reply.error.code, 'E_FORBIDDEN_SENDER', 'an iframe is refused even on an allowed origin')
    assert.deepEqual(
      client.calls.map(({ name }) => name),
      ['status']
    )
  })

  test('a dev server page is refused by default with its origin named and logged once in the main process; listed, it may call', async (t) => {
    const warnings = []
    t.mock.method(console, 'warn', (...args) => warnings.push(args.join(' ')))
    const preload = (contextBridge, ipcRenderer) => exposeAuthApi(contextBridge, ipcRenderer)
    const electron = createFakeElectron()
    registerAuthIpc(electron.ipcMain, recordingClient())
    const devPage = electron.openWindow({ url: 'http://localhost:5173/', preload })
    for (let call = 0; call < 3; call++) {
      const error = await rejection(devPage.mainWorld.symbioteAuth.status())
      assert.match(
        error.message,
        /^E_FORBIDDEN_SENDER: a page on http:\/\/localhost:5173 may not use the auth API: allowedOrigins admits file:\/\/; add http:\/\/localhost:5173 to allowedOrigins/
      )
      assert.equal(devPage.mainWorld.symbioteAuth.errorCode(error), 'E_FORBIDDEN_SENDER')
      assert.equal(devPage.mainWorld.symbioteAuth.userMessage(error), 'This window is not allowed to use sign-in.')
    }
    assert.equal(warnings.length, 1, `logged once: ${JSON.stringify(warnings)}`)
    assert.match(warnings[0], /^symbiote-auth\/electron: E_FORBIDDEN_SENDER: a page on http:\/\/localhost:5173 /)

    // What the README wires for development: file:// and the dev server's URL.
    const dev = createFakeElectron()
    registerAuthIpc(dev.ipcMain, recordingClient(), { allowedOrigins: ['file://', 'http://localhost:5173/'] })
    const listed = dev.openWindow({ url: 'http://localhost:5173/settings', preload })
    assert.equal((await listed.mainWorld.symbioteAuth.status()).state, 'signed-out')
  })

  test('replies carry retryAfterMs; the preload rejects with an AuthError, its code once in the message', async () => {
    const { AuthError } = require('..')
    const electron = createFakeElectron()
    const busy = new AuthError('E_SERVER', 'the API answered 429', { retryAfterMs: 30_000 })
    registerAuthIpc(electron.ipcMain, { ...recordingClient(), restore: () => Promise.reject(busy) }, { allowedOrigins: ['file://'] })
    const window = electron.openWindow({ url: 'file:///opt/app/index.html', preload: exposeAuthApi })
    const reply = await window.ipcRenderer.invoke(channels.restore)
    assert.deepEqual(reply, { ok: false, error: { code: 'E_SERVER', message: 'E_SERVER: the API answered 429', retryAfterMs: 30_000 } })
    const inPage = await rejection(window.mainWorld.symbioteAuth.restore())
    assert.equal(inPage.message, 'E_SERVER: the API answered 429', 'the code once, not twice')
    assert.equal(window.mainWorld.symbioteAuth.userMessage(inPage), 'The server has a problem right now. Please try again later.')
  })

  test('exposeToken: true is refused without an explicit sender policy, and evil.example never gets the JWT', async () => {
    const electron = createFakeElectron()
    const error = thrownBy(() => registerAuthIpc(electron.ipcMain, recordingClient(), { exposeToken: true }))
    assert.equal(error.code, 'E_CONFIG')
    assert.match(error.message, /explicit sender policy/)
    const client = recordingClient()
    registerAuthIpc(electron.ipcMain, client, { exposeToken: true, allowedOrigins: [APP_ORIGIN] })
    const preload = (contextBridge, ipcRenderer) => exposeAuthApi(contextBridge, ipcRenderer, { exposeToken: true })
    const evil = electron.openWindow({ url: 'https://evil.example/', preload })
    assert.match((await rejection(evil.mainWorld.symbioteAuth.getJwtToken())).message, /^E_FORBIDDEN_SENDER: /)
    const app = electron.openWindow({ url: `${APP_ORIGIN}/index.html`, preload })
    assert.equal(await app.mainWorld.symbioteAuth.getJwtToken(), 'not.a.token')
    assert.deepEqual(
      client.calls.map(({ name }) => name),
      ['getJwtToken']
    )
  })

  test('allowedOrigins entries are checked at registration', () => {
    const { ipcMain } = createFakeElectron()
    for (const allowedOrigins of [[], 'file://', ['not an origin'], [42]]) {
      assert.equal(thrownBy(() => registerAuthIpc(ipcMain, recordingClient(), { allowedOrigins })).code, 'E_CONFIG')
    }
  })
})

test.describe('the raw JWT stays in the main process by default', () => {
  test('no token channel, no getJwtToken, and no token in any reply or push', async () => {
    const { client, electron, openWindow } = setUp()
    const window = openWindow()
    const pushed = []
    window.api.onStatusChange((status) => pushed.push(status))
    const replies = [await window.api.login({ email: srv.user.email, password: srv.user.password })]
    replies.push(await window.api.status(), await window.api.restore())
    await until(() => pushed.some((status) => status.state === 'valid'), 'the valid status push')

    const token = client.getStoredJwtToken()
    assert.ok(token)
    assert.equal(window.api.getJwtToken, undefined)
    assert.ok(!electron.ipcMain.handledChannels().includes(channels.token))
    assert.match((await rejection(window.ipcRenderer.invoke(channels.token))).message, /No handler registered/)
    for (const seen of [...replies, ...pushed, ...window.webContents.sent]) {
      assert.ok(!JSON.stringify(seen).includes(token), 'a reply or push carried the JWT')
    }
  })

  test('exposeToken: true adds the channel and getJwtToken on both sides', async () => {
    const { client, openWindow } = setUp({ exposeToken: true })
    const { api } = openWindow()
    assert.equal((await rejection(api.getJwtToken())).message.split(':')[0], 'E_LOGIN_REQUIRED')
    await api.login({ email: srv.user.email, password: srv.user.password })
    assert.equal(await api.getJwtToken(), client.getStoredJwtToken())
  })
})

test.describe('status pushes', () => {
  test('every change reaches every subscribed window and every getWindows() window', async () => {
    const { openWindow } = setUp({ pushToAllWindows: true })
    const windows = [openWindow(), openWindow(), openWindow()]
    const seen = windows.map(() => [])
    windows[0].api.onStatusChange((status) => seen[0].push(status.state))
    windows[1].api.onStatusChange((status) => seen[1].push(status.state))
    // windows[2] never subscribes: it gets pushes because getWindows lists it.
    windows[2].ipcRenderer.on(channels.statusChanged, (_event, status) => seen[2].push(status.state))

    await windows[0].api.login({ email: srv.user.email, password: srv.user.password })
    await windows[1].api.logout()
    await until(() => seen.every((states) => states.includes('signed-out')), 'pushes to all three windows')
    for (const states of seen) assert.deepEqual(states, ['valid', 'signed-out'])
  })

  test('without getWindows only subscribed windows get pushes, until they unsubscribe', async () => {
    const { openWindow } = setUp()
    const [listening, quiet] = [openWindow(), openWindow()]
    const seen = []
    const unsubscribe = listening.api.onStatusChange((status) => seen.push(status.state))
    await listening.api.login({ email: srv.user.email, password: srv.user.password })
    await until(() => seen.length === 1, 'the login push')
    assert.equal(quiet.webContents.sent.length, 0)

    unsubscribe()
    unsubscribe() // idempotent
    assert.equal(listening.ipcRenderer.listenerCount(channels.statusChanged), 0)
    await nextTask()
    await listening.api.logout()
    await sleep(20)
    assert.deepEqual(seen, ['valid'])
    assert.equal(listening.webContents.sent.length, 1)
  })

  test('one IPC listener per window whatever the number of page listeners; a throwing listener does not stop the others', async (t) => {
    const { openWindow } = setUp()
    const window = openWindow()
    const reported = []
    // The preload reports listener errors with the page's reportError().
    const originalReportError = globalThis.reportError
    globalThis.reportError = (error) => reported.push(error.message)
    t.after(() => (globalThis.reportError = originalReportError))

    const seen = []
    const offs = [
      window.api.onStatusChange(() => {
        throw new Error('listener bug')
      }),
      window.api.onStatusChange((status) => seen.push(status.state)),
      window.api.onStatusChange((status) => seen.push(status.state)),
    ]
    assert.equal(window.ipcRenderer.listenerCount(channels.statusChanged), 1)
    await window.api.login({ email: srv.user.email, password: srv.user.password })
    await until(() => seen.length === 2, 'both working listeners')
    await until(() => reported.length === 1, 'the listener error to be reported')
    assert.deepEqual(reported, ['listener bug'])
    for (const off of offs) off()
    assert.equal(window.ipcRenderer.listenerCount(channels.statusChanged), 0)
  })
})

test.describe('lifecycle', () => {
  // Everything registerAuthIpc left behind on the fake Electron and the client.
  function leftovers(electron, windows, watchers) {
    return {
      handlers: electron.ipcMain.handledChannels().length,
      listeners: electron.ipcMain.eventNames().length,
      destroyedListeners: windows.reduce((sum, window) => sum + window.webContents.listenerCount('destroyed'), 0),
      statusWatchers: watchers.size,
    }
  }

  // A real client whose status subscriptions can be counted.
  function countingClient() {
    const client = newClient()
    const watchers = new Set()
    const onStatusChange = client.onStatusChange.bind(client)
    client.onStatusChange = (callback) => {
      const off = onStatusChange(callback)
      watchers.add(off)
      return () => {
        watchers.delete(off)
        off()
      }
    }
    return { client, watchers }
  }

  test('dispose removes handlers, listeners, window hooks and the status subscription', async () => {
    const { client, watchers } = countingClient()
    const { electron, dispose, openWindow } = setUp({ client, exposeToken: true })
    const windows = [openWindow(), openWindow()]
    for (const window of windows) window.api.onStatusChange(() => {})
    await until(() => leftovers(electron, windows, watchers).destroyedListeners === 2, 'both subscriptions')

    dispose()
    dispose() // idempotent
    assert.deepEqual(leftovers(electron, windows, watchers), { handlers: 0, listeners: 0, destroyedListeners: 0, statusWatchers: 0 })
  })

  test('registering the same prefix again replaces the first registration instead of throwing', async () => {
    const { client, watchers } = countingClient()
    const electron = createFakeElectron()
    const disposeFirst = registerAuthIpc(electron.ipcMain, client, { allowedOrigins: [APP_ORIGIN] })
    const disposeSecond = registerAuthIpc(electron.ipcMain, client, { allowedOrigins: [APP_ORIGIN] })
    assert.equal(watchers.size, 1)
    // login, logout, status, restore, refresh
    assert.equal(electron.ipcMain.handledChannels().length, 5)

    disposeFirst() // already replaced: must not remove the second registration's handlers
    assert.equal(electron.ipcMain.handledChannels().length, 5)
    const window = electron.openWindow({ preload: (bridge, ipc) => exposeAuthApi(bridge, ipc) })
    assert.equal((await window.mainWorld.symbioteAuth.status()).state, 'signed-out')

    const disposeOther = registerAuthIpc(electron.ipcMain, client, { channelPrefix: 'other-app', allowedOrigins: [APP_ORIGIN] })
    assert.equal(electron.ipcMain.handledChannels().length, 10)
    disposeSecond()
    disposeOther()
    assert.deepEqual(leftovers(electron, [], watchers), { handlers: 0, listeners: 0, destroyedListeners: 0, statusWatchers: 0 })
  })

  test('a channel taken by other code fails the registration and leaves nothing registered', () => {
    const electron = createFakeElectron()
    electron.ipcMain.handle(channels.status, () => 'theirs')
    assert.throws(() => registerAuthIpc(electron.ipcMain, recordingClient()), /second handler for 'symbiote-auth:status'/)
    assert.deepEqual(electron.ipcMain.handledChannels(), [channels.status])
    assert.deepEqual(electron.ipcMain.eventNames(), [])
  })

  test('a window closed mid-login leaves nothing behind and the others still hear about it', async () => {
    const { electron, client, openWindow } = setUp()
    const [closing, staying] = [openWindow(), openWindow()]
    closing.api.onStatusChange(() => {})
    const stayingSeen = []
    staying.api.onStatusChange((status) => stayingSeen.push(status.state))
    await srv.fault({ endpoint: 'token', delayMs: 300 })

    let settled = false
    closing.api.login({ email: srv.user.email, password: srv.user.password }).finally(() => {
      settled = true
    })
    await until(() => closing.webContents.listenerCount('destroyed') === 1, 'the closing window to subscribe')
    await sleep(50)
    closing.close()
    assert.equal(closing.webContents.listenerCount('destroyed'), 0)

    await until(() => stayingSeen.includes('valid'), 'the login to finish and be pushed')
    assert.equal(client.isAuthenticated(), true)
    assert.equal(settled, false, 'a closed window never hears back')
    assert.deepEqual(closing.webContents.sent, [])
    assert.equal(electron.BrowserWindow.getAllWindows().length, 1)
  })

  test('a second exposeAuthApi on the same key throws and adds no listener', () => {
    const electron = createFakeElectron()
    const window = electron.openWindow({ preload: (bridge, ipc) => exposeAuthApi(bridge, ipc) })
    assert.throws(() => exposeAuthApi(window.contextBridge, window.ipcRenderer), /existing property/)
    assert.equal(window.ipcRenderer.eventNames().length, 0)
  })

  test('unusable arguments throw E_CONFIG at registration', () => {
    const { ipcMain } = createFakeElectron()
    const client = recordingClient()
    const code = (fn) => {
      try {
        fn()
      } catch (error) {
        return error.code
      }
    }
    assert.equal(
      code(() => registerAuthIpc({}, client)),
      'E_CONFIG'
    )
    assert.equal(
      code(() => registerAuthIpc(ipcMain, {})),
      'E_CONFIG'
    )
    assert.equal(
      code(() => registerAuthIpc(ipcMain, client, { channelPrefix: '' })),
      'E_CONFIG'
    )
    assert.equal(
      code(() => registerAuthIpc(ipcMain, client, { exposeToken: 'yes' })),
      'E_CONFIG'
    )
    assert.equal(
      code(() => registerAuthIpc(ipcMain, client, { getWindows: [] })),
      'E_CONFIG'
    )
    assert.equal(
      code(() => exposeAuthApi({}, {})),
      'E_CONFIG'
    )
    assert.deepEqual(ipcMain.handledChannels(), [])
  })
})
