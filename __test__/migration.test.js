'use strict'
// The host migration (docs/migration/symbiote-desktop/*.patch, explained in docs/MIGRATION.md)
// against this package as it is now. The host's source cannot be here (CI cannot fetch it;
// scripts/check-host-migration.sh checks the series on the host itself), so this compiles
// every file the series adds with tsc --strict, against this package's types, the host's
// pinned @modelcontextprotocol/sdk 1.11.4 and Electron 35's types (installed with
// --ignore-scripts: no Electron binary), with the few host modules they import declared as
// the host has them. A change here that would break the series fails here first.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const repoRoot = path.resolve(__dirname, '..')
const seriesDir = path.join(repoRoot, 'docs', 'migration', 'symbiote-desktop')
const guide = fs.readFileSync(path.join(repoRoot, 'docs', 'MIGRATION.md'), 'utf8')
const modules = path.join(repoRoot, 'node_modules')
const patches = fs
  .readdirSync(seriesDir)
  .filter((name) => name.endsWith('.patch'))
  .sort()

// The host modules the added files import, declared as the host has them at c0530639 (plus
// the channels patch 0002 adds to IpcChannel).
const HOST_MODULES = {
  'src/main/constant.ts': "export const isDev = process.env.NODE_ENV === 'development'\n",
  'packages/shared/IpcChannel.ts': `export enum IpcChannel {
  Symbiote_UseApiUrl = 'symbiote:use-api-url',
  Symbiote_AgentConfig = 'symbiote:agent-config',
  Symbiote_AssistantConfig = 'symbiote:assistant-config',
}
`,
  'src/renderer/src/types/index.ts': `export interface MCPServer {
  id: string
  name: string
  type?: 'stdio' | 'sse' | 'inMemory' | 'streamableHttp'
  baseUrl?: string
  command?: string
  args?: string[]
  env?: Record<string, string>
  isActive: boolean
  headers?: Record<string, string>
  provider?: string
}
`,
  'src/main/services/mcp/oauth/provider.ts': `import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformation, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
export declare class McpOAuthClientProvider implements OAuthClientProvider {
  get redirectUrl(): string
  get clientMetadata(): OAuthClientMetadata
  clientInformation(): Promise<OAuthClientInformation | undefined>
  tokens(): Promise<OAuthTokens | undefined>
  saveTokens(tokens: OAuthTokens): Promise<void>
  redirectToAuthorization(authorizationUrl: URL): Promise<void>
  saveCodeVerifier(codeVerifier: string): Promise<void>
  codeVerifier(): Promise<string>
}
`,
  'host-modules.d.ts': `declare module 'electron-log' {
  const Logger: { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void }
  export default Logger
}
`,
}

/** { path, text } of every file a patch creates (`new file mode`), from its added lines. */
function addedFiles(patch) {
  const files = []
  let current = null
  for (const line of patch.split('\n')) {
    const header = /^diff --git a\/(\S+) b\/\S+$/.exec(line)
    if (header) {
      current = { path: header[1], lines: [], created: false }
      files.push(current)
    } else if (current && line.startsWith('new file mode')) {
      current.created = true
    } else if (current?.created && line.startsWith('+') && !line.startsWith('+++ ')) {
      current.lines.push(line.slice(1))
    }
  }
  return files.filter((file) => file.created).map((file) => ({ path: file.path, text: `${file.lines.join('\n')}\n` }))
}

function link(project, name, target) {
  const at = path.join(project, 'node_modules', name)
  fs.mkdirSync(path.dirname(at), { recursive: true })
  fs.symlinkSync(target, at, 'dir')
}

test('the series is git format-patch mails, each explained in docs/MIGRATION.md', () => {
  assert.ok(patches.length >= 7, `${patches.length} patches`)
  patches.forEach((name, index) => {
    const number = String(index + 1).padStart(4, '0')
    assert.ok(name.startsWith(`${number}-`), `${name} is number ${number}`)
    const mail = fs.readFileSync(path.join(seriesDir, name), 'utf8')
    assert.match(mail, /^From [0-9a-f]{40} /)
    assert.match(mail, /^Subject: \[PATCH \d+\/\d+\] /m)
    assert.ok(guide.includes(`**${number} `), `docs/MIGRATION.md explains patch ${number}`)
  })
})

test('every file the series adds compiles with tsc --strict against this package, SDK 1.11.4 and Electron 35', () => {
  const added = patches.flatMap((name) => addedFiles(fs.readFileSync(path.join(seriesDir, name), 'utf8')))
  assert.deepEqual(added.map((file) => file.path).sort(), [
    'packages/shared/symbioteAuth.ts',
    'src/main/ipc-auth.ts',
    'src/main/services/SymbioteAuth.ts',
    'src/main/services/mcp/session.ts',
    'src/main/services/mcp/transports.ts',
    'src/preload/auth.ts',
  ])
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-auth-migration-'))
  try {
    link(project, 'symbiote-auth', repoRoot)
    link(project, '@modelcontextprotocol/sdk', fs.realpathSync(path.join(modules, 'mcp-sdk-1.11.4')))
    for (const name of ['electron', '@types/node']) link(project, name, fs.realpathSync(path.join(modules, name)))
    assert.equal(JSON.parse(fs.readFileSync(path.join(modules, 'electron', 'package.json'), 'utf8')).version.split('.')[0], '35')
    assert.equal(fs.existsSync(path.join(modules, 'electron', 'dist')), false, 'no Electron binary was downloaded')
    const files = [...Object.entries(HOST_MODULES), ...added.map((file) => [file.path, file.text])]
    for (const [file, text] of files) {
      fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true })
      fs.writeFileSync(path.join(project, file), text)
    }
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          noEmit: true,
          target: 'es2022',
          module: 'esnext',
          moduleResolution: 'bundler',
          lib: ['es2022', 'dom'],
          types: ['node'],
          skipLibCheck: true,
          // The host's aliases (tsconfig.node.json, tsconfig.web.json).
          baseUrl: '.',
          paths: { '@main/*': ['src/main/*'], '@shared/*': ['packages/shared/*'], '@types': ['src/renderer/src/types/index.ts'] },
        },
        files: files.map(([file]) => file),
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
