'use strict'
// One cold start, in a fresh process (row 4): from the first line of this script to the
// first verified token, with no network. Prints one JSON line: {ms, tokenLength}.
//   ours:     require the addon, new AuthClient (keyring storage), restore(), getJwtToken()
//   baseline: require @napi-rs/keyring, import jose, read the record from the credential
//             store, createLocalJWKSet + jwtVerify the stored token

const t0 = performance.now()

async function ours(options) {
  const { AuthClient } = require(process.env.SYMBIOTE_BENCH_ADDON)
  const client = new AuthClient(options)
  await client.restore()
  return client.getJwtToken()
}

async function baseline({ service, account, issuer, audience }) {
  const { Entry } = require('@napi-rs/keyring')
  const { createLocalJWKSet, jwtVerify } = await import('jose')
  const stored = new Entry(service, account).getPassword()
  if (!stored) throw new Error('nothing stored')
  const record = JSON.parse(stored)
  const { payload } = await jwtVerify(record.token, createLocalJWKSet(record.jwks), {
    issuer,
    audience,
    algorithms: ['RS256', 'ES256'],
    clockTolerance: 30,
  })
  if (!payload.sub) throw new Error('no sub')
  return record.token
}

/** `require('symbiote-auth/mcp')` alone; answers with the names it exports. */
async function requireMcp() {
  return Object.keys(require('../../mcp')).join(',')
}

/** `require('symbiote-auth')` alone (the addon's loader and the .node); the names it exports. */
async function requireAddon() {
  return Object.keys(require(process.env.SYMBIOTE_BENCH_ADDON)).join(',')
}

const [mode, json] = process.argv.slice(2)
const work = { ours, baseline, 'require-mcp': requireMcp, 'require-addon': requireAddon }[mode]
work(JSON.parse(json)).then(
  (token) => {
    const ms = performance.now() - t0
    process.stdout.write(`${JSON.stringify({ ms, tokenLength: token.length })}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${error.stack}\n`)
    process.exit(1)
  }
)
