'use strict'
// The package as npm ships it: `npm pack` the repo, install the tarball into a fresh
// project (offline: the package has no runtime dependencies), and load every entry point,
// the native binary for this platform and the bin from there.

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
    maxBuffer: 16 * 1024 * 1024
  })
}

test('npm pack gives a tarball a fresh project installs offline and loads', { timeout: 4 * NPM_TIMEOUT_MS }, async () => {
  const { stdout } = await npmRun(['pack', '--json', '--pack-destination', scratch], repoRoot)
  const [packed] = JSON.parse(stdout)
  const files = packed.files.map((file) => file.path).sort()

  // napi-rs names it <binaryName>.<platform>-<arch>[-abi].node, e.g. linux-x64-gnu.
  const binaries = files.filter((file) => file.endsWith('.node'))
  assert.equal(binaries.length, 1, `expected the binary of this platform only, got ${binaries}`)
  assert.ok(binaries[0].startsWith(`${name}.${process.platform}-${process.arch}`), binaries[0])
  for (const entry of ['index.js', 'index.d.ts', 'mcp.js', 'mcp.d.ts', 'electron.js', 'electron.d.ts', 'cli.js', 'package.json']) {
    assert.ok(files.includes(entry), `${entry} is missing from the tarball`)
  }
  const leaked = files.filter((file) => /^(src|target|__test__|testing|examples|scripts|node_modules|\.venv)\//.test(file))
  assert.deepEqual(leaked, [], 'development files in the tarball')

  const project = path.join(scratch, 'fresh-project')
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', private: true }))
  await npmRun(['install', '--offline', path.join(scratch, packed.filename)], project)

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
    unexported: 'ERR_PACKAGE_PATH_NOT_EXPORTED'
  })

  const bin = path.join(project, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name)
  assert.equal((await run(bin, ['--version'], { cwd: project })).stdout, `${version}\n`)
})
