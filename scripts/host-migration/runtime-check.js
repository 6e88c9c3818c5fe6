'use strict'
// The migrated host's main-process code, run: SymbioteAuth.ts, ipc-auth.ts and MCPService.ts
// bundled with esbuild as they are in the host (its tsconfig paths, its node_modules: SDK
// 1.11.4, the installed symbiote-auth), driven through the host's own built preload in a
// window, against the reference Flask-Security API, an MCP server of ours (trusted) and a
// third-party MCP server that signs in with OAuth. Prints one line per check and exits 1 if
// any failed.
//
// FAKES, named: Electron (it cannot run here; its IPC is __test__/helpers/fake-electron.js,
// everything else a no-op) and the `open` package (records the URL the host's OAuth
// provider would open in a browser).
//
//   node scripts/host-migration/runtime-check.js HOST_DIR   (HOST_DIR built: out/preload)

const assert = require('node:assert/strict')
const { EventEmitter } = require('node:events')
const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const express = require('express')
const { createFakeElectron } = require('../../__test__/helpers/fake-electron')
const { createJwtVerifier, mcpRouter, listen } = require('../../examples/mcp-server')
const { startReferenceServer } = require('../../testing/server')

const host = path.resolve(process.argv[2] ?? '')
// The host's OAuth callback server listens here (mcp/auth/factory.ts).
const OAUTH_CALLBACK = 'http://127.0.0.1:12346/oauth/callback'
const RENDERER_URL = 'file:///app/out/renderer/index.html'

/** The host's main-process modules, bundled as electron-vite resolves them. */
async function bundleHostMain(dir, hostRequire) {
  const entry = path.join(dir, 'entry.ts')
  fs.writeFileSync(
    entry,
    [
      "export { authClient, useApiUrl } from '@main/services/SymbioteAuth'",
      "export { registerApiHandlers, registerAuthHandlers } from '@main/ipc-auth'",
      "export { default as mcpService } from '@main/services/MCPService'",
    ].join('\n')
  )
  const outfile = path.join(dir, 'main.cjs')
  await hostRequire('esbuild').build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // As electron-vite bundles the main process (the host imports SDK paths without
    // extensions, which only a bundler resolves): `dependencies` stay require()s
    // (externalizeDepsPlugin), with the host's own externals and what this check FAKES.
    external: [
      ...Object.keys(hostRequire('./package.json').dependencies).flatMap((name) => [name, `${name}/*`]),
      'electron',
      'open',
      '@libsql/client',
      'bufferutil',
      'utf-8-validate',
    ],
    tsconfig: path.join(host, 'tsconfig.node.json'),
    define: { 'import.meta.env': '{}' },
    logLevel: 'error',
    outfile,
    plugins: [
      {
        // The host imports SDK paths without `.js`, which vite's resolver completes.
        name: 'sdk-extensions',
        setup(build) {
          build.onResolve({ filter: /^@modelcontextprotocol\/sdk\/.*[^.][^j][^s]$/ }, (args) =>
            build.resolve(`${args.path}.js`, { kind: args.kind, resolveDir: args.resolveDir })
          )
        },
      },
      {
        // electron-vite's `?asset` imports (icons): their file path.
        name: 'asset-paths',
        setup(build) {
          build.onResolve({ filter: /\?asset$/ }, (args) => ({
            path: path.resolve(args.resolveDir, args.path.replace(/\?asset$/, '')),
            namespace: 'asset',
          }))
          build.onLoad({ filter: /.*/, namespace: 'asset' }, (args) => ({ contents: `export default ${JSON.stringify(args.path)}` }))
        },
      },
    ],
  })
  return outfile
}

/** Any property, any call: itself. */
function inert() {
  const proxy = new Proxy(() => {}, {
    get: (_target, key) => (key === Symbol.toPrimitive ? () => '' : key === 'then' ? undefined : proxy),
    apply: () => proxy,
  })
  return proxy
}

function fakeElectronModule(fake, userData) {
  const app = withInertRest({
    getPath: () => userData,
    getVersion: () => '1.0.0',
    getAppPath: () => host,
    getLocale: () => 'en',
    isPackaged: false,
  })
  return withInertRest({
    ipcMain: fake.ipcMain,
    BrowserWindow: fake.BrowserWindow,
    powerMonitor: new EventEmitter(),
    app,
    // Absent in the main process (libraries test it to tell where they run).
    ipcRenderer: undefined,
  })
}

const withInertRest = (known) => new Proxy(known, { get: (target, key) => (key in target ? target[key] : inert()) })

/** An MCP server (the example's routes) that records every request; `issuer` as the API signs. */
async function startMcpServer(api, issuer, { oauthRegistration = false } = {}) {
  const app = express()
  const requests = []
  app.use((req, _res, next) => {
    requests.push({ method: req.method, path: req.path, authorization: req.get('authorization') })
    next()
  })
  // A third party's OAuth server registers the host as a client (dynamic registration),
  // so the host's flow goes on to the authorization page.
  if (oauthRegistration) {
    app.post('/register', express.json(), (req, res) => res.status(201).json({ ...req.body, client_id: 'symbiote-desktop' }))
  }
  const listening = await listen(app)
  app.use(
    mcpRouter({
      verifier: createJwtVerifier({ jwksUrl: `${api.url}/api/jwt/jwks`, issuer }),
      resourceMetadataUrl: `${listening.origin}/.well-known/oauth-protected-resource/mcp`,
    })
  )
  return { ...listening, url: `${listening.origin}/mcp`, sseUrl: `${listening.origin}/sse`, requests }
}

const oauthDetours = (requests) =>
  requests.filter((r) => r.path.startsWith('/.well-known/') || ['/register', '/token', '/authorize'].includes(r.path))

async function waitFor(condition, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Runs the host's built preload in a window of the fake, as Electron runs a preload. */
function openWindowWithHostPreload(fake) {
  const preload = fs.readFileSync(path.join(host, 'out', 'preload', 'index.js'), 'utf8')
  return fake.openWindow({
    url: RENDERER_URL,
    preload: (contextBridge, ipcRenderer) => {
      const electron = withInertRest({ contextBridge, ipcRenderer })
      const module = { exports: {} }
      const require = (name) => {
        if (name === 'electron') return electron
        throw new Error(`module not found: ${name}`)
      }
      // In this realm, not a vm context: the fake contextBridge copies what the preload's
      // promises resolve to only when they are this realm's Promise.
      new Function('require', 'module', 'exports', 'process', preload)(require, module, module.exports, {
        contextIsolated: true,
        env: {},
      })
    },
  }).mainWorld
}

const say = (line) => process.stdout.write(`${line}\n`)

async function main() {
  const results = []
  const check = async (name, body) => {
    try {
      const detail = await body()
      results.push(true)
      say(`ok   ${name}${detail ? `: ${detail}` : ''}`)
    } catch (error) {
      results.push(false)
      say(`FAIL ${name}: ${error.message.split('\n')[0]}`)
    }
  }

  // Inside the host, so the bundle's require()s resolve in its node_modules.
  const scratch = fs.mkdtempSync(path.join(host, '.migration-check-'))
  const api = await startReferenceServer()
  const apiOrigin = new URL(api.url).origin
  // The host's client expects iss = the API's origin and aud = symbiote-desktop.
  await api.config({ issuer: apiOrigin, audience: 'symbiote-desktop' })
  const ours = await startMcpServer(api, apiOrigin)
  const theirs = await startMcpServer(api, apiOrigin, { oauthRegistration: true })
  const opened = []
  const fake = createFakeElectron()
  const electron = fakeElectronModule(fake, scratch)
  const fakeOpen = { __esModule: true, default: async (url) => opened.push(new URL(url)) }
  const load = Module._load
  Module._load = function (request, ...rest) {
    if (request === 'electron') return electron
    if (request === 'open') return fakeOpen
    return load.call(this, request, ...rest)
  }
  // A development build, which may trust a local MCP server (SymbioteAuth.ts).
  process.env.NODE_ENV = 'development'
  process.env.SYMBIOTE_DEV_MCP_ORIGINS = ours.origin
  const hostRequire = Module.createRequire(path.join(host, 'package.json'))
  // The host's own logging (electron-log writes to the console here) goes to a file.
  const hostLog = path.join(host, 'migration-check.log')
  fs.writeFileSync(hostLog, '')
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = (...args) => fs.appendFileSync(hostLog, `${args.map(String).join(' ')}\n`)
  }
  const sdkManifest = path.join(host, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json')
  const sdkVersion = JSON.parse(fs.readFileSync(sdkManifest, 'utf8')).version

  try {
    const main = require(await bundleHostMain(scratch, hostRequire))
    main.registerAuthHandlers()
    main.registerApiHandlers()
    const page = openWindowWithHostPreload(fake)
    const seenTokens = new Set()
    const token = () => {
      const current = main.authClient()?.getStoredJwtToken()
      if (current) seenTokens.add(current)
      return current
    }

    await check('a bad saved API URL is answered, not thrown', async () => {
      const reply = await page.symbioteApp.useApiUrl('use.symbiotelabs.ai')
      assert.equal(reply.ok, false)
      assert.equal(reply.code, 'E_CONFIG')
      return `${reply.code}: "${reply.message}"`
    })

    await check('sign-in through the preload, the session in the main process', async () => {
      const chosen = await page.symbioteApp.useApiUrl(api.url)
      assert.equal(chosen.ok, true)
      const status = await page.symbioteAuth.login(api.user)
      assert.equal(status.authenticated, true)
      assert.ok(token())
      assert.equal(JSON.stringify(status).includes(token()), false, 'no token in what the page gets')
      return `${status.user.email}, persistent: ${status.persistent}`
    })

    for (const [type, url] of [
      ['streamableHttp', ours.url],
      ['sse', ours.sseUrl],
    ]) {
      await check(`SDK ${sdkVersion} ${type}: every request to our MCP server carries the JWT, no OAuth`, async () => {
        ours.requests.length = 0
        const client = await main.mcpService.initClient({
          id: `ours-${type}`,
          name: `symbiote-${type}`,
          type,
          baseUrl: url,
          isActive: true,
        })
        const result = await client.callTool({ name: 'whoami', arguments: {} })
        assert.equal(JSON.parse(result.content[0].text).email, api.user.email)
        const bearers = ours.requests.map((r) => r.authorization)
        assert.deepEqual(bearers, Array(bearers.length).fill(`Bearer ${token()}`))
        assert.deepEqual(oauthDetours(ours.requests), [])
        return `${ours.requests.length} requests: ${[...new Set(ours.requests.map((r) => `${r.method} ${r.path}`))].join(', ')}`
      })
    }

    await check(`SDK ${sdkVersion}: a third-party server gets the host's OAuth discovery, never the JWT`, async () => {
      const activation = main.mcpService
        .initClient({ id: 'theirs', name: 'third-party', type: 'streamableHttp', baseUrl: theirs.url, isActive: true })
        .then(
          () => null,
          (error) => error
        )
      await waitFor(() => opened.length > 0, "the host's OAuth provider opening the authorization page")
      assert.equal(opened[0].origin, theirs.origin)
      assert.ok(oauthDetours(theirs.requests).length > 0, 'discovery requests')
      assert.deepEqual(
        theirs.requests.filter((r) => r.authorization !== undefined),
        []
      )
      // The host's callback server ends its flow: this code is refused at the token endpoint.
      // (It never answers the browser's request itself, hence the abort.)
      fetch(`${OAUTH_CALLBACK}?code=not-a-real-code`, { signal: AbortSignal.timeout(2000) }).catch(() => {})
      const error = await activation
      assert.ok(error instanceof Error, 'activation fails without a real OAuth server')
      return `authorization page ${opened[0].origin}${opened[0].pathname}, discovery: ${oauthDetours(theirs.requests)
        .map((r) => `${r.method} ${r.path}`)
        .join(', ')}`
    })

    await check("the stdio JWT goes to the built-in proxy's command only", async () => {
      // A FAKE `bun` on the PATH: runs the stdio test server, which reports whether it was
      // started with HTTP_HEADER_AUTHORIZATION (as @remote-mcp/client would send it).
      const bin = fs.mkdtempSync(path.join(scratch, 'bin-'))
      const stdioServer = path.join(__dirname, '..', '..', '__test__', 'helpers', 'stdio-mcp-server.js')
      fs.writeFileSync(path.join(bin, 'bun'), `#!/bin/sh\nexec "${process.execPath}" "${stdioServer}"\n`, { mode: 0o755 })
      const env = {
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        REMOTE_MCP_URL: ours.url,
        STDIO_TEST_JWKS_URL: `${api.url}/api/jwt/jwks`,
      }
      const started = async (server) => {
        const client = await main.mcpService.initClient({ type: 'stdio', isActive: true, env, ...server })
        const answer = await client.callTool({ name: 'whoami', arguments: {} })
        return JSON.parse(answer.content[0].text).token !== null
      }
      const builtin = await started({ id: 'builtin', name: 'symbiote-mcp', command: 'bun', args: ['@remote-mcp/client'] })
      const other = await started({ id: 'other', name: 'symbiote-other', command: process.execPath, args: [stdioServer] })
      assert.equal(builtin, true, 'the built-in proxy gets the token')
      assert.equal(other, false, 'another command with the same REMOTE_MCP_URL gets none')
      return 'symbiote-mcp (bun @remote-mcp/client): HTTP_HEADER_AUTHORIZATION set; another command: not set'
    })

    await check('the API reads go through the main process (apiFetch)', async () => {
      const reply = await page.symbioteApp.agentConfig()
      assert.equal(reply.ok, true, JSON.stringify(reply.error))
    })

    await check('a token for another audience is refused, the valid one kept', async () => {
      const before = token()
      await api.config({ audience: 'another-app' })
      try {
        await assert.rejects(page.symbioteAuth.refresh(), (error) => page.symbioteAuth.errorCode(error) === 'E_TOKEN_INVALID')
      } finally {
        await api.config({ audience: 'symbiote-desktop' })
      }
      assert.equal(token(), before)
      return 'E_TOKEN_INVALID'
    })

    await check('switching API URL signs nobody out; switching back restores without a login', async () => {
      const counters = await api.counters()
      const other = await page.symbioteApp.useApiUrl(api.url.replace('127.0.0.1', 'localhost'))
      assert.equal(other.ok, true)
      assert.equal(other.status.authenticated, false)
      await waitFor(() => main.mcpService.clients.size === 0, 'the MCP clients of the old session closed')
      const back = await page.symbioteApp.useApiUrl(api.url)
      const after = await api.counters()
      assert.equal(after.logout, counters.logout, 'no logout request')
      if (!back.status.persistent) return 'no credential store here: the restore part is skipped'
      assert.equal(back.status.authenticated, true)
      assert.equal(after.login, counters.login, 'no login request')
      return 'restored from the credential store'
    })

    await check('sign-out closes the MCP clients', async () => {
      if (!main.authClient().isAuthenticated()) await page.symbioteAuth.login(api.user)
      await main.mcpService.initClient({ id: 'ours-again', name: 'symbiote', type: 'streamableHttp', baseUrl: ours.url, isActive: true })
      assert.equal(main.mcpService.clients.size, 1)
      await page.symbioteAuth.logout()
      await waitFor(() => main.mcpService.clients.size === 0, 'no MCP client left')
      assert.equal(token(), null)
    })
    await check("no JWT in the host's log", async () => {
      const log = fs.readFileSync(hostLog, 'utf8')
      assert.ok(seenTokens.size > 0)
      assert.equal([...seenTokens].filter((seen) => log.includes(seen)).length, 0)
      return `${seenTokens.size} tokens, ${log.split('\n').length} log lines`
    })
  } finally {
    Module._load = load
    await ours.close()
    await theirs.close()
    await api.stop()
    fs.rmSync(scratch, { recursive: true, force: true })
  }
  const failed = results.filter((passed) => !passed).length
  say(`${results.length - failed} passed, ${failed} failed (the host's log: ${hostLog})`)
  return failed === 0
}

main().then(
  (passed) => process.exit(passed ? 0 : 1),
  (error) => {
    say(`FAIL runtime check: ${error.stack}`)
    process.exit(1)
  }
)
