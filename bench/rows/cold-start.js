'use strict'
// Row 4: cold start, from a stored session to the first token with no network, each
// sample a fresh child process (so `require` and the .node load count): ours (require +
// new AuthClient + restore() from the credential store + getJwtToken()) vs the same in JS
// with @napi-rs/keyring + jose. Needs a Secret Service (run under dbus-run-session with an
// unlocked gnome-keyring, as README says); without one the row is skipped.

const { execFile } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const common = require('../lib/common')
const { fromTask } = common

const CHILD = path.join(__dirname, 'cold-start-child.js')
const ISSUER = 'symbiote-reference'
const AUDIENCE = 'symbiote-desktop'

function spawnChild(mode, options) {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    execFile(
      process.execPath,
      [CHILD, mode, JSON.stringify(options)],
      { timeout: 60_000, env: { ...process.env, SYMBIOTE_BENCH_ADDON: common.addonEntry } },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${mode} cold start failed: ${stderr || error.message}`))
        const result = JSON.parse(stdout.trim().split('\n').pop())
        resolve({ ...result, wallMs: performance.now() - started })
      }
    )
  })
}

async function run({ addon, server, tinybench, log }) {
  const { Bench } = tinybench
  const samples = common.amount('BENCH_COLD_STARTS', 20, 2)
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'symbiote-bench-'))
  const options = {
    baseUrl: server.url,
    storage: 'keyring',
    keyringService: `symbiote-bench-${crypto.randomUUID()}`,
    account: 'bench@example.com',
    storageDir,
    issuer: ISSUER,
    audience: AUDIENCE,
  }
  const title =
    'cold start: require + new AuthClient + restore() from the credential store to the first token, no network, vs @napi-rs/keyring + jose'
  try {
    await new addon.AuthClient(options).checkStorage()
  } catch (error) {
    log(`row 4 skipped: no Secret Service (${error.message})`)
    return {
      skipped: `no Secret Service: ${error.message}`,
      notes: ['skipped: no Secret Service. Run the bench under dbus-run-session with an unlocked gnome-keyring (see docs/PERFORMANCE.md)'],
      lines: [{ id: '4', title, skipped: 'no Secret Service', target: '<= 1.0x' }],
    }
  }

  const { Entry } = require('@napi-rs/keyring')
  const baselineStore = {
    service: `symbiote-bench-js-${crypto.randomUUID()}`,
    account: 'bench@example.com',
    issuer: ISSUER,
    audience: AUDIENCE,
  }
  const client = new addon.AuthClient(options)
  await client.login({ ...server.user, remember: true })
  const jwks = await (await fetch(`${server.url}/api/jwt/jwks`)).json()
  new Entry(baselineStore.service, baselineStore.account).setPassword(JSON.stringify({ token: client.getStoredJwtToken(), jwks }))

  const wall = { ours: [], baseline: [], 'require-mcp': [], 'require-addon': [] }
  const task = (mode, opts) => async () => {
    const result = await spawnChild(mode, opts)
    if (!(result.tokenLength > 0)) throw new Error(`${mode}: no token`)
    wall[mode].push(result.wallMs)
    return { overriddenDuration: result.ms, overriddenIterationCost: result.wallMs }
  }
  const bench = new Bench({ name: 'cold start', time: 0, iterations: samples, warmupTime: 0, warmupIterations: 2 })
    .add('ours: require + new AuthClient + restore() + getJwtToken()', task('ours', options))
    .add('baseline: require @napi-rs/keyring + import jose + getPassword + jwtVerify', task('baseline', baselineStore))
    .add("ours: require('symbiote-auth/mcp')", task('require-mcp', {}))
    .add("for scale: require('symbiote-auth') (the addon)", task('require-addon', {}))
  const before = await server.counters()
  log(`row 4: ${samples} child processes per side (+2 warmup)`)
  await bench.run()
  const after = await server.counters()
  const byEndpoint = Object.fromEntries(
    Object.keys(after)
      .map((key) => [key, after[key] - before[key]])
      .filter(([, n]) => n)
  )
  const requests = Object.values(byEndpoint).reduce((sum, n) => sum + n, 0)

  await client.logout()
  new Entry(baselineStore.service, baselineStore.account).deletePassword()
  fs.rmSync(storageDir, { recursive: true, force: true })

  const [ours, baseline, requireMcp, requireAddon] = bench.tasks.map((t) => fromTask(t))
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  return {
    measures: bench.tasks.map((t) => ({ label: `${t.name} (in-process, from the script's first line)`, unit: 'ms', ...fromTask(t) })),
    requestsDuringColdStarts: requests,
    requestsByEndpoint: byEndpoint,
    notes: [
      `${requests} requests reached the API during the ${(samples + 2) * bench.tasks.length} cold starts${requests ? ` (${JSON.stringify(byEndpoint)})` : ''}`,
      `whole child process (spawn to exit, Node's own start-up included): ours ${median(wall.ours.slice(2)).toFixed(1)} ms, baseline ${median(wall.baseline.slice(2)).toFixed(1)} ms (medians)`,
    ],
    lines: [
      {
        id: '4',
        title,
        ours: ours.median,
        baseline: baseline.median,
        unit: 'ms',
        target: '<= 1.0x',
        met: ours.median <= baseline.median && requests === 0,
        miss:
          ours.median > baseline.median ? `${(ours.median / baseline.median).toFixed(2)}x` : requests ? `${requests} requests` : undefined,
      },
      {
        id: '4b',
        title: "cold start of require('symbiote-auth/mcp') vs require('symbiote-auth') (the addon), each in a fresh process",
        ours: requireMcp.median,
        baseline: requireAddon.median,
        unit: 'ms',
        target: '<= 0.5x',
        met: requireMcp.median <= 0.5 * requireAddon.median,
      },
    ],
  }
}

module.exports = { run }
