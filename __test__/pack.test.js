'use strict'
// The packages as npm ships them: `npm pack` the repo (JS, types, no binary) and this
// platform's package under npm/ (the binary, as `napi artifacts` puts it there), install
// both into a fresh project (offline: no runtime dependencies), and load every entry point,
// the native binary (through the platform package) and the bin from there.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { name, version } = require('../package.json')

const run = promisify(execFile)
const repoRoot = path.resolve(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
// Packing a debug build (well over 100 MB) takes a while.
const NPM_TIMEOUT_MS = 120_000

let scratch
let npmCache

test.before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-pack-'))
  // A private cache, so the tarball neither comes from nor lands in the user's cache.
  npmCache = path.join(scratch, 'npm-cache')
})
test.after(() => fs.rmSync(scratch, { recursive: true, force: true }))

function npmRun(args, cwd) {
  return run(npm, [...args, '--cache', npmCache, '--no-audit', '--no-fund', '--loglevel', 'error'], {
    cwd,
    timeout: NPM_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  })
}

/** The npm/<dir> package napi-rs made for this machine (os, cpu and libc match). */
function platformPackageDir() {
  const glibc = process.platform === 'linux' && Boolean(process.report?.getReport()?.header?.glibcVersionRuntime)
  for (const dir of fs.readdirSync(path.join(repoRoot, 'npm'))) {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'npm', dir, 'package.json'), 'utf8'))
    const libcFits = !manifest.libc || manifest.libc.includes(glibc ? 'glibc' : 'musl')
    if (manifest.os.includes(process.platform) && manifest.cpu.includes(process.arch) && libcFits) return dir
  }
  throw new Error(`no package under npm/ for ${process.platform}-${process.arch}`)
}

test('every target of napi.targets has its platform package, in step with the main version', () => {
  const { napi } = require('../package.json')
  const dirs = fs.readdirSync(path.join(repoRoot, 'npm')).sort()
  assert.equal(dirs.length, napi.targets.length, `npm/ holds ${dirs}`)
  for (const dir of dirs) {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'npm', dir, 'package.json'), 'utf8'))
    assert.equal(manifest.name, `${name}-${dir}`)
    assert.equal(manifest.version, version, `${dir} is at ${manifest.version}`)
    assert.deepEqual(manifest.files, [`${napi.binaryName}.${dir}.node`])
  }
})

// The steps below share one fresh project: the main package alone first (what a git or
// local install gives), then with its platform package, then the README followed from there.
const state = {}

test('npm pack gives the main and the platform package; the main one alone fails E_NATIVE_BINDING naming the platform package', {
  timeout: 4 * NPM_TIMEOUT_MS,
}, async () => {
  const { stdout } = await npmRun(['pack', '--json', '--pack-destination', scratch], repoRoot)
  const [packed] = JSON.parse(stdout)
  state.packed = path.join(scratch, packed.filename)
  const files = packed.files.map((file) => file.path).sort()
  assert.deepEqual(
    files.filter((file) => file.endsWith('.node')),
    [],
    'the binary ships in the platform package only'
  )
  for (const entry of [
    'index.js',
    'index.d.ts',
    'native.js',
    'native.d.ts',
    'errors.js',
    'errors.d.ts',
    'mcp.js',
    'mcp.d.ts',
    'mcp/token-cache.js',
    'mcp/auth-fetch.js',
    'mcp/legacy-sdk.js',
    'mcp/stdio.js',
    'electron.js',
    'electron.d.ts',
    'electron/sender-policy.js',
    'electron/renderer-input.js',
    'cli.js',
    'package.json',
    'README.md',
    'LICENSE',
    'CONTRIBUTING.md',
    'docs/API.md',
    'docs/TROUBLESHOOTING.md',
  ]) {
    assert.ok(files.includes(entry), `${entry} is missing from the tarball`)
  }
  const leaked = files.filter((file) => /^(src|target|__test__|testing|examples|scripts|node_modules|npm|\.venv)\//.test(file))
  assert.deepEqual(leaked, [], 'development files in the tarball')

  // The platform package as the release workflow makes it: npm/<platform> plus the binary.
  const platform = platformPackageDir()
  const binary = `${name}.${platform}.node`
  const platformDir = path.join(scratch, platform)
  fs.cpSync(path.join(repoRoot, 'npm', platform), platformDir, { recursive: true })
  fs.copyFileSync(path.join(repoRoot, binary), path.join(platformDir, binary))
  const platformPacked = JSON.parse((await npmRun(['pack', '--json', '--pack-destination', scratch], platformDir)).stdout)[0]
  assert.deepEqual(platformPacked.files.map((file) => file.path).sort(), [binary, 'README.md', 'package.json'].sort())
  state.platformPacked = path.join(scratch, platformPacked.filename)
  state.platform = platform
  state.binary = binary

  const project = path.join(scratch, 'fresh-project')
  state.project = project
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', private: true }))
  await npmRun(['install', '--offline', state.packed], project)
  const missing = `
    try { require('symbiote-auth') } catch (error) {
      const { isAuthError } = require('symbiote-auth/errors')
      console.log(JSON.stringify({ code: error.code, message: error.message, guard: isAuthError(error), cause: error.cause instanceof Error }))
    }
  `
  const failed = JSON.parse((await run(process.execPath, ['-e', missing], { cwd: project, timeout: NPM_TIMEOUT_MS })).stdout)
  assert.equal(failed.code, 'E_NATIVE_BINDING')
  assert.ok(
    failed.message.startsWith(
      `E_NATIVE_BINDING: the native part of symbiote-auth did not load on ${platform}, Node ${process.versions.node}: install ${name}-${platform}@${version}`
    ),
    failed.message
  )
  assert.equal(failed.guard, true)
  assert.equal(failed.cause, true, "the loader's own errors are the cause")
  const bin = path.join(project, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name)
  await assert.rejects(run(bin, ['status', '--base-url', 'https://api.example.com'], { cwd: project }), (error) => {
    assert.equal(error.code, 1)
    assert.match(error.stderr, new RegExp(`E_NATIVE_BINDING: .*install ${name}-${platform}@`))
    return true
  })
})

test('with its platform package the fresh project loads every entry point and the bin', { timeout: 2 * NPM_TIMEOUT_MS }, async () => {
  const { project, platform, binary } = state
  await npmRun(['install', '--offline', state.packed, state.platformPacked], project)
  assert.equal(fs.existsSync(path.join(project, 'node_modules', name, binary)), false)
  assert.ok(fs.existsSync(path.join(project, 'node_modules', `${name}-${platform}`, binary)))

  const probe = `
    const { AuthClient } = require('symbiote-auth')
    const mcp = require('symbiote-auth/mcp')
    const electron = require('symbiote-auth/electron')
    const client = new AuthClient({ baseUrl: 'https://api.example.com', storage: 'memory' })
    let unexported
    try { require('symbiote-auth/cli.js') } catch (error) { unexported = error.code }
    console.log(JSON.stringify({
      state: client.status().state,
      mcp: typeof mcp.createAuthFetch,
      electron: [typeof electron.registerAuthIpc, typeof electron.exposeAuthApi],
      version: require('symbiote-auth/package.json').version,
      unexported
    }))
  `
  const loaded = await run(process.execPath, ['-e', probe], { cwd: project, timeout: NPM_TIMEOUT_MS })
  assert.deepEqual(JSON.parse(loaded.stdout), {
    state: 'signed-out',
    mcp: 'function',
    electron: ['function', 'function'],
    version,
    unexported: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
  })

  const bin = path.join(project, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name)
  assert.equal((await run(bin, ['--version'], { cwd: project })).stdout, `${version}\n`)
})

test('every relative link in the shipped Markdown resolves inside the package, anchors included', () => {
  const root = path.join(state.project, 'node_modules', name)
  const markdown = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(root, 'docs')).map((file) => `docs/${file}`)].filter(
    (file) => file.endsWith('.md')
  )
  // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
  const anchorsOf = (file) =>
    new Set(
      [...fs.readFileSync(file, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((heading) =>
        heading[1]
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, '')
          .replace(/ /g, '-')
      )
    )
  const broken = []
  let checked = 0
  for (const file of markdown) {
    const text = fs.readFileSync(path.join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue
      checked++
      const [where, anchor] = target.split('#')
      const resolved = where ? path.join(root, path.dirname(file), where) : path.join(root, file)
      if (!resolved.startsWith(root) || !fs.existsSync(resolved)) broken.push(`${file}: ${target}`)
      else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${file}: ${target} (no such heading)`)
    }
  }
  assert.deepEqual(broken, [])
  assert.ok(checked >= 20, `${checked} links checked`)
})

test('@arethetypeswrong/cli finds no problem in the tarball', { timeout: NPM_TIMEOUT_MS }, async () => {
  const attw = path.join(repoRoot, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js')
  const { stdout } = await run(process.execPath, [attw, state.packed, '--format', 'json'], {
    timeout: NPM_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  })
  const report = JSON.parse(stdout)
  assert.deepEqual(report.analysis.problems, [])
  assert.deepEqual(report.problems, {})
})

test('following only the shipped README: the quick start verbatim, then ESM and TypeScript sign in', {
  timeout: 4 * NPM_TIMEOUT_MS,
}, async () => {
  const { project } = state
  const readme = fs.readFileSync(path.join(project, 'node_modules', name, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start'))
  const quickStart = /```js\n([\s\S]*?)```/.exec(section)[1]
  fs.writeFileSync(path.join(project, 'quickstart.js'), quickStart)

  const { startReferenceServer } = require('../testing/server')
  const server = await startReferenceServer()
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-consumer-home-'))
  try {
    const env = {
      ...process.env,
      HOME: home,
      XDG_DATA_HOME: path.join(home, 'data'),
      API_URL: server.url,
      API_EMAIL: server.user.email,
      API_PASSWORD: server.user.password,
    }
    const node = (args) => run(process.execPath, args, { cwd: project, env, timeout: NPM_TIMEOUT_MS })
    const first = await node(['quickstart.js'])
    assert.match(first.stdout, /^status: valid$/m)
    const summary = /^signed in as demo@example\.com; a \d+-character JWT, stored: (true|false)$/m.exec(first.stdout)
    assert.ok(summary, first.stdout)
    const logins = (await server.counters()).login
    const second = await node(['quickstart.js'])
    assert.match(second.stdout, /^signed in as demo@example\.com;/m)
    if (summary[1] === 'true') assert.equal((await server.counters()).login, logins, 'the second run restored the stored session')

    // A wrong password: words for the user, then the details, exit 1.
    await assert.rejects(
      node(['-e', `process.env.API_PASSWORD = 'wrong'; ${quickStart.replace('auth.restore()', '({ authenticated: false })')}`]),
      (error) => {
        assert.match(error.stderr, /^The email or password is not correct\. \(E_INVALID_CREDENTIALS: /)
        return true
      }
    )

    const signIn = (imports) => `${imports}
const auth = new AuthClient({ baseUrl: process.env.API_URL, storage: 'memory' })
const status = await auth.login({ email: process.env.API_EMAIL, password: process.env.API_PASSWORD })
const ok = typeof createAuthFetch === 'function' && LIMITS.MAX_EMAIL_LENGTH > 0 && isAuthError({ code: 'E_NETWORK', message: 'x' })
console.log(status.user.email, (await auth.getJwtToken()).split('.').length, ok)
`
    fs.writeFileSync(
      path.join(project, 'esm.mjs'),
      signIn(`import { AuthClient, isAuthError } from 'symbiote-auth'
import { createAuthFetch } from 'symbiote-auth/mcp'
import { LIMITS } from 'symbiote-auth/electron'`)
    )
    assert.equal((await node(['esm.mjs'])).stdout, 'demo@example.com 3 true\n')

    // TypeScript, strict: node16 compiled and run; bundler type-checked (a bundler would run it).
    const ts = `import { AuthClient, AuthError, AuthErrorCode, isAuthError, userMessage, type AuthStatus } from 'symbiote-auth'
import { createAuthFetch } from 'symbiote-auth/mcp'
import { LIMITS } from 'symbiote-auth/electron'
declare const process: { env: Record<string, string | undefined> }

async function main(): Promise<void> {
  const auth = new AuthClient({ baseUrl: process.env.API_URL ?? '', storage: 'memory' })
  const status: AuthStatus = await auth.login({ email: process.env.API_EMAIL ?? '', password: process.env.API_PASSWORD ?? '' })
  try {
    await auth.apiFetch('/api/nothing-here', { signal: AbortSignal.abort() })
  } catch (error) {
    if (!(error instanceof AuthError) || error.code !== AuthErrorCode.Aborted) throw error
  }
  const ok = typeof createAuthFetch === 'function' && LIMITS.MAX_EMAIL_LENGTH > 0 && isAuthError({ code: 'E_NETWORK', message: 'x' })
  console.log(status.user?.email, (await auth.getJwtToken()).split('.').length, ok, userMessage('E_LOGIN_REQUIRED'))
}
main()
`
    fs.writeFileSync(path.join(project, 'signin.mts'), ts)
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    const compile = (compilerOptions) => {
      const config = {
        compilerOptions: { strict: true, target: 'es2022', lib: ['es2022', 'dom'], types: [], ...compilerOptions },
        files: ['signin.mts'],
      }
      fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(config))
      return run(process.execPath, [tsc, '-p', '.'], { cwd: project, timeout: NPM_TIMEOUT_MS }).catch((error) => assert.fail(error.stdout))
    }
    await compile({ module: 'node16', outDir: 'out' })
    assert.equal((await node(['out/signin.mjs'])).stdout, 'demo@example.com 3 true Please sign in.\n')
    await compile({ module: 'esnext', moduleResolution: 'bundler', noEmit: true })
  } finally {
    await server.stop()
    fs.rmSync(home, { recursive: true, force: true })
  }
})
