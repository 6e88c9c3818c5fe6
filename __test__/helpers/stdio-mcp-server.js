'use strict'
// A real stdio MCP server (@modelcontextprotocol/sdk) started by the stdio tests as a child
// process, standing in for @remote-mcp/client: like it, it reads HTTP_HEADER_AUTHORIZATION
// once, at start. Its tools verify that token against the reference API's JWKS
// (STDIO_TEST_JWKS_URL) at the moment they are called, and say which process they ran in.

const { createRemoteJWKSet, jwtVerify } = require('jose')
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js')
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js')

const header = process.env.HTTP_HEADER_AUTHORIZATION
const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined
const keys = createRemoteJWKSet(new URL(process.env.STDIO_TEST_JWKS_URL), { cacheMaxAge: 0 })

async function whoami() {
  if (token === undefined) return { pid: process.pid, token: null, header: header ?? null }
  try {
    const { payload } = await jwtVerify(token, keys, { issuer: 'symbiote-reference', audience: 'symbiote-desktop' })
    return { pid: process.pid, token: 'verified', sub: payload.sub, jti: payload.jti, exp: payload.exp }
  } catch (error) {
    return { pid: process.pid, token: 'refused', reason: error.code ?? error.message }
  }
}

const server = new McpServer({ name: 'stdio-test', version: '1.0.0' })
const answer = (value) => ({ content: [{ type: 'text', text: JSON.stringify(value) }] })
server.registerTool('whoami', { description: 'the token this process was started with, verified now' }, async () => answer(await whoami()))
server.registerTool('slow', { description: 'whoami, after a pause' }, async () => {
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.STDIO_TEST_SLOW_MS ?? 1500)))
  return answer(await whoami())
})
server.connect(new StdioServerTransport())
