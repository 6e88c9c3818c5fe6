'use strict'
// For trying the example without a real backend: starts this repository's reference Flask
// API and its example MCP server (which trusts only JWTs the API signed) on loopback, and
// prints the command that starts the app against them. Run from a checkout of the repo
// (it uses the repo's dev dependencies): `npm run servers`. Ctrl-C stops both.

const { startReferenceServer } = require('../../testing/server')
const { startMcpServer } = require('../mcp-server')

async function main() {
  const api = await startReferenceServer()
  const mcp = await startMcpServer({ jwksUrl: `${api.url}/api/jwt/jwks` })
  console.log(`Reference API:  ${api.url}  (sign in as ${api.user.email} / ${api.user.password})`)
  console.log(`MCP server:     ${mcp.url}`)
  console.log(`\nIn another terminal:\n  SYMBIOTE_API_URL=${api.url} SYMBIOTE_MCP_URL=${mcp.url} npm start`)

  const stop = async () => {
    await Promise.all([mcp.close(), api.stop()])
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
