'use strict'
// The main job, end to end with real parts: start the reference Flask API on loopback,
// sign in as the demo user, get and verify a JWT, force a refresh, sign out.
// Prints claims and expiry, never the raw token.

const { performance } = require('node:perf_hooks')
const { AuthClient } = require('..')
const { startReferenceServer } = require('../testing/server')

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

function describe(token) {
  const { sub, email, iss, aud, exp, jti } = claimsOf(token)
  return `sub=${sub} email=${email} iss=${iss} aud=${aud} jti=${jti} expires ${new Date(exp * 1000).toISOString()}`
}

async function step(name, work) {
  const started = performance.now()
  try {
    const detail = await work()
    console.log(`ok   ${name.padEnd(32)} ${(performance.now() - started).toFixed(1).padStart(7)} ms  ${detail ?? ''}`)
  } catch (error) {
    console.log(`FAIL ${name.padEnd(32)} ${(performance.now() - started).toFixed(1).padStart(7)} ms  ${error.code ?? ''} ${error.message}`)
    throw error
  }
}

async function main() {
  let server
  await step('start reference Flask API', async () => {
    server = await startReferenceServer()
    return server.url
  })
  try {
    const client = new AuthClient({ baseUrl: server.url, storage: 'memory' })
    await step('sign in', async () => {
      const status = await client.login({ email: server.user.email, password: server.user.password })
      return `${status.state} as ${status.user.displayName} <${status.user.email}> roles=${status.user.roles}`
    })
    let first
    await step('get verified JWT', async () => {
      first = await client.getJwtToken()
      return describe(first)
    })
    await step('verify signature (cached JWKS)', async () => `valid=${client.isJwtTokenValid()}`)
    await step('force refresh', async () => {
      const next = await client.refreshJwtToken()
      return `new token=${next !== first} ${describe(next)}`
    })
    await step('sign out', async () => {
      await client.logout()
      return `state=${client.status().state} token kept=${client.getStoredJwtToken() !== null}`
    })
  } finally {
    await server.stop()
  }
}

main().catch(() => {
  process.exitCode = 1
})
