'use strict'
// Runs a built Electron preload as a sandboxed renderer runs it, and prints what it put on
// `window`, as JSON: { exposed: { <key>: [<its members>] }, error? }.
//
// A sandboxed preload (`sandbox: true`, as the host's selection action window) gets a
// `require` that knows only `electron` and a few Node built-ins (events, timers, url):
// anything else throws, as it does there, and the preload exposes nothing after that point.
// `electron` here is a FAKE (Electron cannot run on this machine): contextBridge records
// what is exposed; every other export answers any call with nothing.
//
//   node scripts/host-migration/sandboxed-preload.js out/preload/index.js

const fs = require('node:fs')
const vm = require('node:vm')

const SANDBOX_MODULES = new Set(['events', 'timers', 'url'])

/** Any property, any call: itself. Stands in for the parts of Electron a preload only wires up. */
function inert() {
  const target = () => {}
  const proxy = new Proxy(target, {
    get: (_target, key) => (key === Symbol.toPrimitive ? () => '' : key === 'then' ? undefined : proxy),
    apply: () => proxy,
  })
  return proxy
}

function fakeElectron(exposed) {
  const contextBridge = {
    exposeInMainWorld(key, api) {
      if (Object.hasOwn(exposed, key)) throw new Error(`Cannot bind an API on top of an existing property on the window object: ${key}`)
      exposed[key] = api
    },
  }
  return new Proxy({ contextBridge }, { get: (target, key) => (key in target ? target[key] : inert()) })
}

function run(file) {
  const exposed = {}
  const electron = fakeElectron(exposed)
  const sandboxRequire = (name) => {
    if (name === 'electron') return electron
    if (SANDBOX_MODULES.has(name)) return require(name)
    throw new Error(`module not found: ${name}`)
  }
  const module = { exports: {} }
  const context = vm.createContext({
    require: sandboxRequire,
    module,
    exports: module.exports,
    process: { contextIsolated: true, platform: process.platform, env: {}, versions: process.versions },
    console,
    setTimeout,
    clearTimeout,
    URL,
    Buffer,
  })
  let error
  try {
    vm.runInContext(fs.readFileSync(file, 'utf8'), context, { filename: file })
  } catch (thrown) {
    error = String(thrown?.message ?? thrown)
  }
  const members = (value) => (value !== null && typeof value === 'object' ? Object.keys(value).sort() : [])
  return { exposed: Object.fromEntries(Object.entries(exposed).map(([key, api]) => [key, members(api)])), error }
}

/**
 * What the migrated preload lost or gained against the unmodified one. `removed` lists the
 * members it may drop on purpose (api.auth: it read the JWT out of localStorage).
 */
function compare(before, after, { removed = [], added = [] }) {
  const problems = []
  if (after.error) problems.push(`the preload threw: ${after.error}`)
  for (const [key, members] of Object.entries(before.exposed)) {
    if (!after.exposed[key]) {
      problems.push(`window.${key} is gone`)
      continue
    }
    const lost = members.filter((member) => !after.exposed[key].includes(member) && !removed.includes(`${key}.${member}`))
    if (lost.length > 0) problems.push(`window.${key} lost ${lost.join(', ')}`)
  }
  for (const key of added) if (!after.exposed[key]) problems.push(`window.${key} is missing`)
  return problems
}

const USAGE =
  'usage: node sandboxed-preload.js PRELOAD_JS | --compare BEFORE_JS AFTER_JS --removed api.auth --added symbioteAuth,symbioteApp'

if (require.main === module) {
  const { values, positionals } = require('node:util').parseArgs({
    allowPositionals: true,
    options: { compare: { type: 'boolean' }, removed: { type: 'string', default: '' }, added: { type: 'string', default: '' } },
  })
  const list = (text) => text.split(',').filter(Boolean)
  if (values.compare && positionals.length === 2) {
    const [before, after] = positionals.map(run)
    const problems = compare(before, after, { removed: list(values.removed), added: list(values.added) })
    const summary = Object.keys(after.exposed).join(', ')
    process.stdout.write(problems.length === 0 ? `exposes ${summary}\n` : `${problems.join('; ')}\n`)
    process.exit(problems.length === 0 ? 0 : 1)
  } else if (!values.compare && positionals.length === 1) {
    process.stdout.write(`${JSON.stringify(run(positionals[0]))}\n`)
  } else {
    console.error(USAGE)
    process.exit(2)
  }
}

module.exports = { run, compare }
