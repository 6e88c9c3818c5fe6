'use strict'
// Row 7: the release .node as shipped (LTO, codegen-units 1, stripped symbols; built without
// the `bench` feature) vs @napi-rs/keyring's prebuilt binary for this platform, for scale.

const fs = require('node:fs')
const path = require('node:path')
const { buildDir, shipDir, repoRoot } = require('../lib/common')

const LIMIT = 5 * 1024 * 1024

function nodeFile(dir) {
  const name = fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.endsWith('.node'))
  return name ? path.join(dir, name) : undefined
}

function keyringBinary() {
  const scope = path.join(repoRoot, 'node_modules', '@napi-rs')
  for (const dir of fs.readdirSync(scope).filter((d) => d.startsWith('keyring-'))) {
    const file = nodeFile(path.join(scope, dir))
    if (file) return file
  }
  return undefined
}

async function run() {
  const shipped = nodeFile(shipDir)
  if (!shipped) throw new Error(`no release build in ${shipDir}: run npm run bench without BENCH_SKIP_BUILD first`)
  const bench = nodeFile(buildDir)
  const keyring = keyringBinary()
  const size = fs.statSync(shipped).size
  const keyringSize = keyring ? fs.statSync(keyring).size : undefined
  return {
    files: {
      shipped: { path: path.relative(repoRoot, shipped), bytes: size },
      benchFeature: bench && { path: path.relative(repoRoot, bench), bytes: fs.statSync(bench).size },
      keyring: keyring && { path: path.relative(repoRoot, keyring), bytes: keyringSize },
    },
    notes: [
      `${path.relative(repoRoot, shipped)}: ${size} bytes; @napi-rs/keyring: ${keyring ? `${path.relative(repoRoot, keyring)}, ${keyringSize} bytes` : 'not installed'}`,
    ],
    lines: [
      {
        id: '7',
        title: 'release .node size (LTO, stripped) vs @napi-rs/keyring binary',
        ours: size,
        baseline: keyringSize,
        unit: 'bytes',
        target: '<= 5 MB',
        met: size <= LIMIT,
        miss: size > LIMIT ? `${((size - LIMIT) / 1024 / 1024).toFixed(2)} MB over` : undefined,
      },
    ],
  }
}

module.exports = { run }
