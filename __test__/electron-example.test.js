'use strict'
// examples/electron-app needs Electron, which cannot be installed here: check that its
// scripts parse and that the files its package and page name exist. Its page and its
// main-process code run for real in example-page.test.js (headless Chromium).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const appDir = path.join(__dirname, '..', 'examples', 'electron-app')
const scripts = fs.readdirSync(appDir).filter((file) => file.endsWith('.js'))

test('every script of the example parses', () => {
  assert.deepEqual(scripts.sort(), [
    'dev-servers.js',
    'main-process.js',
    'main.js',
    'mcp-service.js',
    'preload-api.js',
    'preload.js',
    'renderer.js',
  ])
  for (const script of scripts) execFileSync(process.execPath, ['--check', path.join(appDir, script)])
})

test('npm start runs electron on main.js, and the page loads files that exist', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8'))
  assert.equal(pkg.scripts.start, 'electron .')
  assert.ok(fs.existsSync(path.join(appDir, pkg.main)))
  assert.equal(pkg.dependencies['symbiote-auth'], 'file:../..')
  const html = fs.readFileSync(path.join(appDir, 'index.html'), 'utf8')
  for (const [, file] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    assert.ok(fs.existsSync(path.join(appDir, file)), `index.html names ${file}, which is missing`)
  }
})
