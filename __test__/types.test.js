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

test("index.d.ts declares AuthErrorCode's run-time object as the addon has it, and every code has words", () => {
  const { AuthErrorCode, USER_MESSAGES } = require('..')
  const declared = fs.readFileSync(path.join(repoRoot, 'index.d.ts'), 'utf8')
  const block = /export declare const AuthErrorCode: \{([^}]*)\}/.exec(declared)[1]
  const typed = Object.fromEntries([...block.matchAll(/readonly (\w+): '([A-Z_]+)'/g)].map(([, name, code]) => [name, code]))
  assert.deepEqual(typed, { ...AuthErrorCode })
  assert.deepEqual(Object.keys(USER_MESSAGES).sort(), Object.values(AuthErrorCode).sort())
  const union = /export type AuthErrorCode = (.*)/.exec(fs.readFileSync(path.join(repoRoot, 'native.d.ts'), 'utf8'))[1]
  assert.deepEqual(union.match(/E_[A-Z_]+/g).sort(), Object.values(AuthErrorCode).sort())
})

test('AuthError: a class whose instanceof also holds for native rejections and IPC replies are guarded', async () => {
  const { AuthClient, AuthError, isAuthError, authErrorCode, userMessage } = require('..')
  const native = await new AuthClient({ baseUrl: 'https://api.example.com', storage: 'memory' }).getJwtToken().catch((error) => error)
  assert.equal(native.code, 'E_LOGIN_REQUIRED')
  assert.ok(native instanceof AuthError)
  assert.ok(isAuthError(native))
  const made = new AuthError('E_SERVER', 'E_SERVER: busy', { retryAfterMs: 90_000, cause: native })
  assert.equal(made.message, 'E_SERVER: busy', 'the code once')
  assert.equal(made.name, 'AuthError')
  assert.equal(made.cause, native)
  assert.equal(userMessage(made), 'The server is busy. Please try again in 90 seconds.')
  assert.equal(isAuthError({ code: 'E_NETWORK', message: 'E_NETWORK: down' }), true, 'a reply after IPC')
  assert.equal({ code: 'E_NETWORK', message: 'x' } instanceof AuthError, false, 'instanceof needs an Error')
  for (const other of [new Error('plain'), { code: 'ENOENT', message: 'x' }, null, 'E_NETWORK', { code: 'E_NETWORK' }]) {
    assert.equal(isAuthError(other), false, JSON.stringify(other))
  }
  assert.equal(authErrorCode(new Error('E_TIMEOUT: copied by contextBridge')), 'E_TIMEOUT')
  assert.equal(userMessage(new Error('no code')), 'Something went wrong. Please try again.')
})

test('every option, path and method of the client has its JSDoc in the published types', () => {
  const declared = fs.readFileSync(path.join(repoRoot, 'native.d.ts'), 'utf8')
  const undocumented = []
  for (const [, name, body] of declared.matchAll(
    /export (?:interface|declare class) (AuthClientOptions|PathOptions|AuthClient) \{([\s\S]*?)\n\}/g
  )) {
    const lines = body.split('\n')
    lines.forEach((line, index) => {
      const member = /^ {2}(?:static )?(\w+)[?(:]/.exec(line)?.[1]
      if (!member || member === 'constructor') return
      if (!/\*\/\s*$/.test(lines[index - 1] ?? '')) undocumented.push(`${name}.${member}`)
    })
  }
  assert.deepEqual(undocumented, [])
})
