'use strict'
// The published types (index.d.ts generated from the Rust, mcp.d.ts, electron.d.ts) compile
// under `tsc --strict` as a host app uses them, AuthErrorCode and AuthError included.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const repoRoot = path.resolve(__dirname, '..')

test('the published types compile with tsc --strict in a host project', () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-types-'))
  try {
    // The package as a dependency of the project: its types, resolved through "exports".
    const linked = path.join(project, 'node_modules', 'symbiote-auth')
    fs.mkdirSync(path.dirname(linked), { recursive: true })
    fs.symlinkSync(repoRoot, linked, 'dir')
    fs.copyFileSync(path.join(__dirname, 'types', 'usage.ts'), path.join(project, 'usage.ts'))
    const tsc = require.resolve('typescript/bin/tsc')
    const args = ['--strict', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', 'usage.ts']
    let output = ''
    try {
      execFileSync(process.execPath, [tsc, ...args], { cwd: project, encoding: 'utf8' })
    } catch (error) {
      output = `${error.stdout}${error.stderr}`
    }
    assert.equal(output, '', `tsc reported:\n${output}`)
  } finally {
    fs.rmSync(project, { recursive: true, force: true })
  }
})
