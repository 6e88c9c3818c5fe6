'use strict'
// The example app's settings page (examples/electron-app) in a real headless Chromium, with
// its real preload code (preload-api.js and symbiote-auth/electron, loaded into the page)
// and its real main-process code (main-process.js: an AuthClient against the reference
// server, the MCP service, the example MCP server). Electron itself cannot be installed
// here: only its IPC is replaced, by a bridge through Playwright (page → exposeFunction →
// the fake ipcRenderer of helpers/fake-electron.js → ipcMain → handlers; pushes back via
// page.evaluate). Chromium is Debian's (`apt install chromium`), never a download.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { chromium } = require('playwright-core')
const { startReferenceServer } = require('../testing/server')
const { startMcpServer } = require('./helpers/mcp-server')
const { createFakeElectron } = require('./helpers/fake-electron')

const appDir = path.join(__dirname, '..', 'examples', 'electron-app')
// What `npm install` in the example makes of its "symbiote-auth": "file:../.." dependency.
const linked = path.join(appDir, 'node_modules', 'symbiote-auth')
if (!fs.existsSync(linked)) {
  fs.mkdirSync(path.dirname(linked), { recursive: true })
  fs.symlinkSync(path.join(appDir, '..', '..'), linked, 'dir')
}
const { startMainProcess } = require('../examples/electron-app/main-process')
const PAGE_URL = pathToFileURL(path.join(appDir, 'index.html')).href
const SCREENSHOT = path.join(__dirname, '..', 'docs', 'example-settings.png')
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => fs.existsSync(file))
// CI installs Chromium and sets this, so a missing browser fails there instead of skipping.
const REQUIRED = process.env.SYMBIOTE_AUTH_REQUIRE_CHROMIUM === '1'

/**
 * The preload as the page's init script: the example's preload-api.js and every file it
 * requires, each wrapped in a function at build time (the page's CSP allows no eval), with
 * its require() names resolved here as Node resolves them, and Electron's ipcRenderer and
 * contextBridge as thin bridges to the test process.
 */
function preloadScript() {
  const packages = { 'symbiote-auth/electron': path.join(__dirname, '..', 'electron.js') }
  const resolve = (name, from) => {
    if (packages[name]) return packages[name]
    const file = path.resolve(path.dirname(from), name)
    return file.endsWith('.js') ? file : `${file}.js`
  }
  const entry = path.join(appDir, 'preload-api.js')
  const factories = []
  const ids = new Map()
  const add = (file) => {
    if (ids.has(file)) return ids.get(file)
    const id = ids.size
    ids.set(file, id)
    const source = fs.readFileSync(file, 'utf8')
    const names = {}
    for (const [, name] of source.matchAll(/require\('([^']+)'\)/g)) names[name] = add(resolve(name, file))
    factories[id] = `${id}: { names: ${JSON.stringify(names)}, run: function (module, exports, require) {\n${source}\n} }`
    return id
  }
  add(entry)
  return `(() => {
    const factories = {${factories.join(',\n')}}
    const cache = {}
    const load = (id) => {
      if (!cache[id]) {
        const module = { exports: {} }
        cache[id] = module
        factories[id].run(module, module.exports, (name) => load(factories[id].names[name]))
      }
      return cache[id].exports
    }
    const listeners = new Map()
    window.__bridgeDeliver = (channel, args) => {
      for (const listener of [...(listeners.get(channel) ?? [])]) listener({}, ...args)
    }
    const ipcRenderer = {
      invoke: (channel, ...args) => window.__bridgeInvoke(channel, args),
      send: (channel, ...args) => { window.__bridgeSend(channel, args) },
      on(channel, listener) {
        if (!listeners.has(channel)) { listeners.set(channel, new Set()); window.__bridgeListen(channel) }
        listeners.get(channel).add(listener)
      },
      removeListener: (channel, listener) => { listeners.get(channel)?.delete(listener) },
    }
    const contextBridge = {
      exposeInMainWorld: (key, api) => Object.defineProperty(window, key, { value: Object.freeze(api), enumerable: true }),
    }
    load(0).exposeExampleApi(contextBridge, ipcRenderer)
  })()`
}

let api
let mcpServer
let browser

before(async () => {
  api = await startReferenceServer()
  mcpServer = await startMcpServer({ jwksUrl: `${api.url}/api/jwt/jwks` })
  if (CHROMIUM) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--no-first-run',
      ],
    })
  }
})
after(async () => {
  await browser?.close()
  await mcpServer?.close()
  await api?.stop()
})

test('the settings page signs in, shows the status, refreshes, calls MCP and the API, signs out: no JWT in the page', async (t) => {
  if (!CHROMIUM) {
    if (REQUIRED) assert.fail('no Chromium found (apt install chromium, or set CHROMIUM_PATH)')
    t.skip('no Chromium here (apt install chromium)')
    return
  }
  const electron = createFakeElectron()
  const mcpLog = []
  const main = startMainProcess({
    ipcMain: electron.ipcMain,
    getWindows: () => electron.BrowserWindow.getAllWindows(),
    pageUrl: PAGE_URL,
    apiUrl: api.url,
    mcpServers: [{ name: 'symbiote-mcp', type: 'streamableHttp', baseUrl: mcpServer.url }],
    clientOptions: { storage: 'memory', account: `example-page-${process.pid}` },
    log: (line) => mcpLog.push(line),
  })
  t.after(() => main.dispose())
  const { authClient } = main
  // Every JWT the client held during the test, to look for in everything the page got.
  const tokens = new Set()
  authClient.onStatusChange(() => {
    const token = authClient.getStoredJwtToken()
    if (token) tokens.add(token)
  })

  const window = electron.openWindow({ url: PAGE_URL })
  const context = await browser.newContext({ viewport: { width: 560, height: 640 } })
  t.after(() => context.close())
  const page = await context.newPage()
  const crossed = [] // everything that went through the bridge, both ways
  const pageErrors = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  const pageWarnings = []
  page.on('console', (message) => message.type() === 'warning' && pageWarnings.push(message.text()))
  await page.exposeFunction('__bridgeInvoke', async (channel, args) => {
    const reply = await window.ipcRenderer.invoke(channel, ...args)
    crossed.push({ channel, args, reply })
    return reply
  })
  await page.exposeFunction('__bridgeSend', (channel, args) => window.ipcRenderer.send(channel, ...args))
  await page.exposeFunction('__bridgeListen', (channel) => {
    window.ipcRenderer.on(channel, (_event, ...args) => {
      crossed.push({ channel, args })
      page.evaluate(([name, values]) => window.__bridgeDeliver(name, values), [channel, args]).catch(() => {})
    })
  })
  await page.addInitScript(preloadScript())
  await page.goto(PAGE_URL)
  const badge = page.locator('#badge')
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'signed-out')

  // Sign in.
  await page.fill('#email', api.user.email)
  await page.fill('#password', api.user.password)
  await page.click('#sign-in button[type=submit]')
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'valid')
  assert.equal(await page.textContent('#user'), `Demo User <${api.user.email}>`)
  assert.equal(await page.inputValue('#password'), '', 'the password field is cleared')
  const firstExpiry = Number(await page.getAttribute('#expires', 'data-expires-at'))
  assert.equal(firstExpiry, authClient.status().expiresAt)
  assert.equal(await page.textContent('#last-error'), 'none')

  // "Refresh now": a new token in the main process, the card shows its expiry.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await page.click('#refresh')
  await page.waitForFunction((before) => Number(document.getElementById('expires').dataset.expiresAt) > before, firstExpiry)
  assert.equal(Number(await page.getAttribute('#expires', 'data-expires-at')), authClient.status().expiresAt)

  // The MCP server verified the JWT; the API call went with the session cookie.
  await page.click('#whoami')
  await page.waitForFunction(() => document.getElementById('output').textContent.startsWith('MCP whoami'))
  assert.match(await page.textContent('#output'), /"email":"demo@example\.com"/)
  assert.ok(mcpLog.some((line) => /symbiote-mcp tools\/call with the user's JWT/.test(line)))
  await page.click('#agent')
  await page.waitForFunction(() => document.getElementById('output').textContent.startsWith('Agent:'))
  assert.match(await page.textContent('#output'), /cherry-studio-agent/)

  // An error shows on the card: the API ends the session, the page's next call says so.
  await fs.promises.mkdir(path.dirname(SCREENSHOT), { recursive: true })
  const shot = process.env.SYMBIOTE_UPDATE_SCREENSHOT === '1' ? SCREENSHOT : path.join(os.tmpdir(), `example-settings-${process.pid}.png`)
  await page.screenshot({ path: shot, fullPage: true })

  await api.expireSessions()
  await page.click('#agent')
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'login-required')
  // The user reads words, the developer text (its code once) is in the title and the console.
  assert.equal(await page.textContent('#last-error'), 'Please sign in.')
  assert.equal(await page.textContent('#output'), 'Please sign in.')
  assert.match(await page.getAttribute('#last-error', 'title'), /^E_LOGIN_REQUIRED: (?!E_LOGIN_REQUIRED)/)
  assert.ok(
    pageWarnings.some((text) => /^E_LOGIN_REQUIRED: (?!E_LOGIN_REQUIRED)/.test(text)),
    `the page logged the failure with its code once: ${JSON.stringify(pageWarnings)}`
  )

  // Sign in again, then sign out: the card follows.
  await page.fill('#email', api.user.email)
  await page.fill('#password', api.user.password)
  await page.click('#sign-in button[type=submit]')
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'valid')
  await page.click('#sign-out')
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'signed-out')
  assert.equal(await page.textContent('#user'), '—')
  assert.equal(await badge.textContent(), 'signed out')

  // No JWT anywhere the page could reach: its DOM, storage, cookies, globals, and every
  // message that crossed the bridge.
  assert.ok(tokens.size >= 3, 'three tokens: the login, the refresh, the second login')
  const pageState = await page.evaluate(() =>
    JSON.stringify({
      html: document.documentElement.outerHTML,
      local: { ...localStorage },
      session: { ...sessionStorage },
      cookie: document.cookie,
      globals: Object.keys(window),
    })
  )
  const everything = `${pageState}${JSON.stringify(crossed)}${(await context.cookies()).map((c) => c.value).join()}`
  for (const token of tokens) assert.equal(everything.includes(token), false, 'a JWT reached the page')
  assert.equal(everything.includes(api.user.password), true, 'the typed password crossed once, as it must (sanity of the search)')
  assert.equal(JSON.stringify(mcpLog).includes([...tokens][0]), false, 'the MCP log names no token')
  assert.deepEqual(pageErrors, [])
})
