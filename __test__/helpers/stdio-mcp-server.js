'use strict'
// A real stdio MCP server (@modelcontextprotocol/sdk) started by the stdio tests as a child
// process, standing in for @remote-mcp/client: like it, it reads HTTP_HEADER_AUTHORIZATION
// once, at start. Its tools verify that token against the reference API's JWKS
// (STDIO_TEST_JWKS_URL) at the moment they are called, and say which process they ran in.
// For the tests of a misbehaving child: STDIO_TEST_PID_LOG names a file each process adds
// "<pid> token|none" to at start; STDIO_TEST_IGNORE_SIGTERM=1 ignores SIGTERM;
// STDIO_TEST_MUTE_WITH_TOKEN=1 makes a process started with a token never answer;
// STDIO_TEST_STDERR=1 writes "started <pid>" to stderr at start.

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

if (process.env.STDIO_TEST_PID_LOG) {
  require('node:fs').appendFileSync(process.env.STDIO_TEST_PID_LOG, `${process.pid} ${token === undefined ? 'none' : 'token'}\n`)
}
if (process.env.STDIO_TEST_STDERR === '1') process.stderr.write(`started ${process.pid}\n`)
if (process.env.STDIO_TEST_IGNORE_SIGTERM === '1') {
  process.on('SIGTERM', () => {})
  // Stays alive with its input closed too: only SIGKILL ends it.
  setInterval(() => {}, 60_000)
}

const server = new McpServer({ name: 'stdio-test', version: '1.0.0' })
const answer = (value) => ({ content: [{ type: 'text', text: JSON.stringify(value) }] })
server.registerTool('whoami', { description: 'the token this process was started with, verified now' }, async () => answer(await whoami()))
server.registerTool('slow', { description: 'whoami, after a pause' }, async () => {
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.STDIO_TEST_SLOW_MS ?? 1500)))
  return answer(await whoami())
})
if (process.env.STDIO_TEST_MUTE_WITH_TOKEN === '1' && token !== undefined) {
  // Reads its input and never answers; stays alive until killed.
  process.stdin.resume()
} else {
  server.connect(new StdioServerTransport())
}
