'use strict'
// `npm run bench`: builds the addon in release mode (with the bench-only `bench` feature, into
// bench/build, so the debug build the tests use is left alone; and once more exactly as
// shipped, for the size row), starts the reference Flask server on loopback, runs the seven
// benchmarks of issue 7 in one process run, prints medians, spread and ratios against their
// baselines with each target, and writes bench/results.json.
//
// Environment:
//   BENCH_SKIP_BUILD=1        use the builds already in bench/build
//   BENCH_ROWS=1,5            run only these rows
//   BENCH_SOAK_SECONDS=120    soak duration (row 3)
//   BENCH_STORM_ROUNDS=5      refresh storms (row 2)
//   BENCH_COLD_STARTS=15      child processes per side (row 4)
//   BENCH_TOKENS_CALLS=1000000, BENCH_LOGIN_CYCLES=10000   row 6
//   BENCH_SMOKE=1             every row once in its smallest size, on a debug build (npm test)

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startReferenceServer } = require('../testing/server')
const common = require('./lib/common')
const { printTable } = require('./lib/table')

const ROWS = {
  1: ['tokens() hot path', require('./rows/tokens')],
  2: ['refresh storm', require('./rows/storm')],
  3: ['soak', require('./rows/soak')],
  4: ['cold start', require('./rows/cold-start')],
  5: ['JWT verification', require('./rows/verify')],
  6: ['memory', require('./rows/memory')],
  7: ['binary size', require('./rows/size')],
}

function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

function napiBuild(args) {
  const manifest = require.resolve('@napi-rs/cli/package.json', { paths: [common.repoRoot] })
  const cli = path.join(path.dirname(manifest), require(manifest).bin.napi)
  log(`napi build ${args.join(' ')}`)
  execFileSync(process.execPath, [cli, 'build', ...args], { cwd: common.repoRoot, stdio: ['ignore', 'inherit', 'inherit'] })
}

// The generated loader's names, as package.json's build scripts give them (index.js is ours).
const LOADER = ['--js', 'native.js', '--dts', 'native.d.ts']

function build() {
  if (common.smoke) {
    napiBuild(['--platform', ...LOADER, '--features', 'bench', '--output-dir', 'bench/build-smoke', '--target-dir', 'target/bench-smoke'])
    return
  }
  // Separate target dirs: the two feature sets would otherwise overwrite each other's cdylib
  // and relink on every run; target/debug (the tests' build) is never touched.
  napiBuild(['--platform', ...LOADER, '--release', '--features', 'bench', '--output-dir', 'bench/build', '--target-dir', 'target/bench'])
  napiBuild(['--platform', ...LOADER, '--release', '--output-dir', 'bench/build/ship', '--target-dir', 'target/bench-ship'])
}

function machine() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : ''
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown'
  const version = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  }
  return {
    nproc: Number(version('nproc', [])) || os.availableParallelism?.() || os.cpus().length,
    cpuModel,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    node: process.version,
    rustc: version('rustc', ['--version']),
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
    clocksource: fs.existsSync('/sys/devices/system/clocksource/clocksource0/current_clocksource')
      ? fs.readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim()
      : undefined,
  }
}

async function main() {
  const selected = (process.env.BENCH_ROWS ?? '1,2,3,4,5,6,7')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (process.env.BENCH_SKIP_BUILD !== '1') build()
  else log('BENCH_SKIP_BUILD=1: using the existing bench/build')

  const tinybench = await import('tinybench')
  const addon = common.loadAddon()
  log('starting the reference Flask server')
  const server = await startReferenceServer()
  const started = Date.now()
  const results = { date: new Date().toISOString(), machine: machine(), rows: {} }
  try {
    for (const id of selected) {
      const [name, row] = ROWS[id] ?? []
      if (!row) throw new Error(`BENCH_ROWS: no row ${id}`)
      await server.reset({ sessions: true })
      log(`row ${id}: ${name}`)
      const rowStarted = Date.now()
      try {
        results.rows[id] = await row.run({ addon, server, tinybench, log, common })
      } catch (error) {
        log(`row ${id} failed: ${error.stack}`)
        results.rows[id] = { error: String(error.stack ?? error), lines: [{ id, title: name, error: error.message }] }
      }
      results.rows[id].seconds = +((Date.now() - rowStarted) / 1000).toFixed(1)
    }
  } finally {
    await server.stop()
  }
  results.seconds = Math.round((Date.now() - started) / 1000)
  results.machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2))
  const file = path.join(common.smoke ? common.buildDir : common.benchDir, 'results.json')
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  printTable(results)
  log(`wrote ${path.relative(common.repoRoot, file)} (${results.seconds} s of benchmarks)`)
  if (Object.values(results.rows).some((r) => r.error)) process.exitCode = 1
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
