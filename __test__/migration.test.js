'use strict'
// docs/MIGRATION.md's code compiles: every ```ts / ```tsx block whose first line is
// `// file: <path>` is written to that path of a project shaped like the host's, which has
// this package, the host's pinned @modelcontextprotocol/sdk 1.11.4 and Electron 35's types
// (installed with --ignore-scripts: no Electron binary), and `tsc --strict` checks it all.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const repoRoot = path.resolve(__dirname, '..')
const guide = fs.readFileSync(path.join(repoRoot, 'docs', 'MIGRATION.md'), 'utf8')
const modules = path.join(repoRoot, 'node_modules')

// What the snippets import from the host itself, declared as the host has it.
const HOST_STUBS = `
declare module 'electron-log' {
  const Logger: { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void }
  export default Logger
}
`

function snippets() {
  const blocks = [...guide.matchAll(/```(ts|tsx)\n([\s\S]*?)```/g)].map(([, lang, body]) => ({ lang, body }))
  return blocks.map(({ lang, body }) => {
    const file = /^\/\/ file: (\S+)\n/.exec(body)?.[1]
    return { lang, file, body }
  })
}

function link(project, name, target) {
  const at = path.join(project, 'node_modules', name)
  fs.mkdirSync(path.dirname(at), { recursive: true })
  fs.symlinkSync(target, at, 'dir')
}

test('every TypeScript block of the guide names its file', () => {
  const blocks = snippets()
  assert.ok(blocks.length >= 10, `only ${blocks.length} blocks`)
  assert.deepEqual(
    blocks.filter((block) => !block.file).map((block) => block.body.split('\n')[0]),
    []
  )
  assert.ok(fs.existsSync(path.join(modules, 'electron', 'electron.d.ts')), 'Electron types are installed')
  assert.equal(fs.existsSync(path.join(modules, 'electron', 'dist')), false, 'no Electron binary was downloaded')
})

test("the guide's snippets compile with tsc --strict against SDK 1.11.4 and Electron 35", () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-migration-'))
  try {
    link(project, 'symbiote-auth', repoRoot)
    link(project, '@modelcontextprotocol/sdk', fs.realpathSync(path.join(modules, 'mcp-sdk-1.11.4')))
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(project, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8')).version,
      '1.11.4'
    )
    for (const name of ['electron', '@types/node', '@types/react']) link(project, name, fs.realpathSync(path.join(modules, name)))
    assert.equal(JSON.parse(fs.readFileSync(path.join(modules, 'electron', 'package.json'), 'utf8')).version.split('.')[0], '35')
    const files = []
    for (const { file, body } of snippets()) {
      fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true })
      fs.writeFileSync(path.join(project, file), body)
      files.push(file)
    }
    fs.writeFileSync(path.join(project, 'host-stubs.d.ts'), HOST_STUBS)
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          noEmit: true,
          target: 'es2022',
          module: 'node16',
          moduleResolution: 'node16',
          lib: ['es2022', 'dom', 'dom.iterable'],
          jsx: 'react-jsx',
          types: ['node'],
          skipLibCheck: true,
        },
        files: ['host-stubs.d.ts', ...files],
      })
    )
    let output = ''
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' })
    } catch (error) {
      output = `${error.stdout}${error.stderr}`
    }
    assert.equal(output, '', `tsc reported:\n${output}`)
  } finally {
    fs.rmSync(project, { recursive: true, force: true })
  }
})
