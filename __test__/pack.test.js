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

test('npm pack gives the main and the platform package; a fresh project installs both offline and loads', {
  timeout: 4 * NPM_TIMEOUT_MS,
}, async () => {
  const { stdout } = await npmRun(['pack', '--json', '--pack-destination', scratch], repoRoot)
  const [packed] = JSON.parse(stdout)
  const files = packed.files.map((file) => file.path).sort()
  assert.deepEqual(
    files.filter((file) => file.endsWith('.node')),
    [],
    'the binary ships in the platform package only'
  )
  for (const entry of ['index.js', 'index.d.ts', 'mcp.js', 'mcp.d.ts', 'electron.js', 'electron.d.ts', 'cli.js', 'package.json']) {
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

  const project = path.join(scratch, 'fresh-project')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', private: true }))
  await npmRun(['install', '--offline', path.join(scratch, packed.filename), path.join(scratch, platformPacked.filename)], project)
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
