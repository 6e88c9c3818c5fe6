'use strict'
// Shared pieces of `npm run bench`: the release addon, statistics, formatting.

const path = require('node:path')
const fs = require('node:fs')

const benchDir = path.resolve(__dirname, '..')
const repoRoot = path.resolve(benchDir, '..')
/**
 * `BENCH_SMOKE=1`, the check `npm test` runs: every row once in its smallest size, on a
 * debug build with the `bench` feature of its own; the figures mean nothing, an error fails.
 */
const smoke = process.env.BENCH_SMOKE === '1'
/** The release build with the `bench` feature (`npm run bench` builds it). */
const buildDir = path.join(benchDir, smoke ? 'build-smoke' : 'build')
/** The release build exactly as shipped (no `bench` feature), for the size row. */
const shipDir = smoke ? buildDir : path.join(buildDir, 'ship')

/** How much of something a row does: `name` from the environment, else `full` (`small` in a smoke run). */
function amount(name, full, small) {
  return Number(process.env[name] ?? (smoke ? small : full))
}

/** tinybench options as given, or a couple of quick iterations in a smoke run. */
function benchOptions(options) {
  return smoke ? { ...options, time: 0, iterations: 2, warmupTime: 0, warmupIterations: 1 } : options
}

/** The bench build's entry point; child processes get it in `SYMBIOTE_BENCH_ADDON`. */
const addonEntry = path.join(buildDir, 'native.js')

function loadAddon() {
  const entry = addonEntry
  if (!fs.existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run bench\` (it builds the release addon), not this file alone`)
  }
  const addon = require(entry)
  if (typeof addon.benchNoop !== 'function') {
    throw new Error(`${entry} was built without the \`bench\` feature`)
  }
  return addon
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Linear-interpolated quantile of sorted numbers. */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo)
}

/** Median, p75, p99, MAD, min, max of raw samples (any unit). */
function summarize(samples) {
  const sorted = Float64Array.from(samples).sort()
  const median = quantile(sorted, 0.5)
  const deviations = Float64Array.from(sorted, (x) => Math.abs(x - median)).sort()
  return {
    n: sorted.length,
    median,
    p75: quantile(sorted, 0.75),
    p99: quantile(sorted, 0.99),
    mad: quantile(deviations, 0.5),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  }
}

/** The same summary from a finished tinybench task (latency in ms), scaled by `scale`. */
function fromTask(task, scale = 1) {
  const result = task.result
  if (result.state !== 'completed') {
    throw new Error(`benchmark task "${task.name}" did not complete: ${result.state}${result.error ? `: ${result.error.stack}` : ''}`)
  }
  const l = result.latency
  return {
    n: l.samplesCount,
    median: l.p50 * scale,
    p75: l.p75 * scale,
    p99: l.p99 * scale,
    mad: l.mad * scale,
    min: l.min * scale,
    max: l.max * scale,
    rme: l.rme,
  }
}

/** A duration in ms as a short human string (ns, µs, ms or s). */
function formatMs(ms) {
  if (!Number.isFinite(ms)) return String(ms)
  const abs = Math.abs(ms)
  if (abs < 0.001) return `${(ms * 1e6).toFixed(abs < 0.0001 ? 1 : 0)} ns`
  if (abs < 1) return `${(ms * 1e3).toFixed(abs < 0.01 ? 2 : 1)} µs`
  if (abs < 1000) return `${ms.toFixed(abs < 10 ? 2 : 1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

function formatBytes(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(2)} MB`
}

/** "a ± spread" for a summary whose values are in ms. */
function formatSummary(s) {
  return `${formatMs(s.median)} (p75 ${formatMs(s.p75)}, p99 ${formatMs(s.p99)}, MAD ${formatMs(s.mad)}, n=${s.n})`
}

module.exports = {
  benchDir,
  smoke,
  addonEntry,
  amount,
  benchOptions,
  repoRoot,
  buildDir,
  shipDir,
  loadAddon,
  sleep,
  quantile,
  summarize,
  fromTask,
  formatMs,
  formatBytes,
  formatSummary,
}
