'use strict'
// `npm run bench` in its smallest size (BENCH_SMOKE=1): every row runs once on a debug build,
// so a change that breaks a benchmark fails here instead of being found at the next full run.
// No figure is asserted: timing belongs to the bench itself.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')

const run = promisify(execFile)
const repoRoot = path.resolve(__dirname, '..')
const ALL_ROWS = ['1', '2', '3', '4', '5', '6', '7']

test('every bench row runs without an error', { timeout: 900_000 }, async () => {
  const results = path.join(repoRoot, 'bench', 'build-smoke', 'results.json')
  fs.rmSync(results, { force: true })
  const outcome = await run(process.execPath, [path.join(repoRoot, 'bench', 'run.js')], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_SMOKE: '1' },
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error) => error)
  assert.equal(outcome.code ?? 0, 0, `bench/run.js failed:\n${outcome.stderr?.slice(-4000)}`)
  const { rows } = JSON.parse(fs.readFileSync(results, 'utf8'))
  assert.deepEqual(Object.keys(rows).sort(), ALL_ROWS)
  for (const [id, row] of Object.entries(rows)) {
    assert.equal(row.error, undefined, `row ${id}: ${row.error}`)
    assert.ok(row.lines.length > 0, `row ${id} reported nothing`)
  }
})
