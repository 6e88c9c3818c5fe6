'use strict'
// The main job, end to end with real parts: start the reference Flask API on loopback,
// sign in as the demo user, get and verify a JWT, force a refresh, call a tool on a real
// MCP server that verifies the JWT against the API's JWKS, sign out.
// Prints claims and expiry, never the raw token.

const { performance } = require('node:perf_hooks')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { AuthClient } = require('..')
const { createAuthFetch } = require('../mcp')
const { startReferenceServer } = require('../testing/server')
const { startMcpServer } = require('./mcp-server')

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
  let mcpServer
  await step('start reference Flask API', async () => {
    server = await startReferenceServer()
    return server.url
  })
  try {
    await step('start MCP server (JWKS-verified)', async () => {
      mcpServer = await startMcpServer({ jwksUrl: `${server.url}/api/jwt/jwks` })
      return mcpServer.url
    })
    // The MCP server's origin is the only place besides the API that may see the JWT.
    const client = new AuthClient({ baseUrl: server.url, storage: 'memory', trustedOrigins: [server.url, mcpServer.origin] })
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
    await step('MCP tool call with the JWT', async () => {
      const mcp = new Client({ name: 'symbiote-demo', version: '1.0.0' })
      const authFetch = createAuthFetch(client, { serverUrl: mcpServer.url })
      await mcp.connect(new StreamableHTTPClientTransport(new URL(mcpServer.url), { fetch: authFetch }))
      try {
        const result = await mcp.callTool({ name: 'whoami', arguments: {} })
        const { sub, email } = JSON.parse(result.content[0].text)
        return `whoami: the MCP server verified sub=${sub} email=${email}`
      } finally {
        await mcp.close()
      }
    })
    await step('sign out', async () => {
      await client.logout()
      return `state=${client.status().state} token kept=${client.getStoredJwtToken() !== null}`
    })
  } finally {
    await mcpServer?.close()
    await server.stop()
  }
}

main().catch(() => {
  process.exitCode = 1
})
