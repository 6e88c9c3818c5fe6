'use strict'
// Servers for the MCP tests. Both record every request's method, path, Authorization
// header and x-app header (one of the caller's own), so a test can prove who received the
// token, and both have an open redirect (`/redirect?to=<url>&status=<3xx>`) and
// `/status/<code>`, so a test can send a request anywhere through them. The MCP one adds
// the routes of examples/mcp-server.js.

const assert = require('node:assert/strict')
const { before, beforeEach, after } = require('node:test')
const express = require('express')
const { InvalidTokenError } = require('@modelcontextprotocol/sdk/server/auth/errors.js')
const { createJwtVerifier, mcpRouter, listen } = require('../../examples/mcp-server')
const { startReferenceServer } = require('../../testing/server')
const { newClient } = require('./client')

function recordingApp() {
  const app = express()
  const requests = []
  app.use((req, _res, next) => {
    requests.push({ method: req.method, path: req.path, authorization: req.get('authorization'), app: req.get('x-app') })
    next()
  })
  app.all('/redirect', (req, res) => res.redirect(Number(req.query.status ?? 307), String(req.query.to)))
  app.all('/status/:code', (req, res) => res.sendStatus(Number(req.params.code)))
  return { app, requests }
}

/** A server that is not an MCP server, on another origin. */
async function startRecordingServer({ host } = {}) {
  const { app, requests } = recordingApp()
  const { origin, close } = await listen(app, host)
  return { origin, requests, close }
}

/**
 * The example MCP server, verifying against `jwksUrl`, with a revocation list on top of
 * the JWKS check. `jwksCacheMaxAgeMs: 0` makes it see a key rotation at once. Its 401s
 * advertise `${origin}/.well-known/oauth-protected-resource/mcp` as OAuth-protected MCP
 * servers do, so a client that went looking for OAuth would show up in `requests`.
 */
async function startMcpServer({ jwksUrl, jwksCacheMaxAgeMs, host } = {}) {
  const { app, requests } = recordingApp()
  const revokedJtis = new Set()
  const jwt = createJwtVerifier({ jwksUrl, jwksCacheMaxAgeMs })
  const verifier = {
    async verifyAccessToken(token) {
      const info = await jwt.verifyAccessToken(token)
      if (revokedJtis.has(info.extra.jti)) throw new InvalidTokenError('JWT revoked')
      return info
    },
  }
  // While hostile: the GET stream of /mcp alternates a 401 and an empty event stream that
  // asks for an immediate reconnect (`retry: 0`), as a broken or malicious server may.
  let hostile = false
  let refusals = 0
  app.get('/mcp', (_req, res, next) => {
    if (!hostile) return next()
    if (refusals++ % 2 === 0) {
      return res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').json({ error: 'invalid_token' })
    }
    res.status(200).set('Content-Type', 'text/event-stream').end('retry: 0\n\n')
  })
  const { origin, close } = await listen(app, host)
  app.use(mcpRouter({ verifier, resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource/mcp` }))
  return {
    origin,
    setHostileStream: (on) => {
      hostile = on
    },
    url: `${origin}/mcp`,
    sseUrl: `${origin}/sse`,
    requests,
    revoke: (jti) => revokedJtis.add(jti),
    close,
  }
}

/**
 * For one test file: the reference Flask API (`api`), the MCP server (`mcp`, re-reading the
 * JWKS for every token so a key rotation shows at once) and a recording server on another
 * origin (`other`), all reset before every test.
 */
function useMcpServers() {
  const servers = { api: null, mcp: null, other: null }
  before(async () => {
    servers.api = await startReferenceServer()
    servers.mcp = await startMcpServer({ jwksUrl: `${servers.api.url}/api/jwt/jwks`, jwksCacheMaxAgeMs: 0 })
    servers.other = await startRecordingServer()
  })
  beforeEach(async () => {
    servers.mcp.setHostileStream(false)
    await servers.api.reset({ sessions: true })
    servers.mcp.requests.length = 0
    servers.other.requests.length = 0
  })
  after(async () => {
    await servers.mcp?.close()
    await servers.other?.close()
    await servers.api?.stop()
  })
  return servers
}

/** A client that trusts the API and the MCP server, and nothing else. */
function mcpClient({ api, mcp }, options = {}) {
  return newClient(api, { trustedOrigins: [api.url, mcp.origin], ...options })
}

async function signedInMcpClient(servers, options) {
  const client = mcpClient(servers, options)
  await client.login(servers.api.user)
  return client
}

/** The token in a recorded request's Authorization header, or undefined. */
function bearerOf(request) {
  return request.authorization?.replace(/^Bearer /, '')
}

/** The API's refresh and token request counts caused by `work`. */
async function apiRequestsDuring(api, work) {
  const before = await api.counters()
  const result = await work()
  const after = await api.counters()
  return { result, refresh: after.refresh - before.refresh, token: after.token - before.token }
}

/** A refresh asks /refresh once, which falls back to /token once when the API refuses the old token. */
function assertOneRefresh({ refresh, token }) {
  assert.equal(refresh, 1, 'one refresh request')
  assert.ok(token <= 1, `at most one fallback token request, saw ${token}`)
}

/** Polls `condition` until it holds; fails after `timeoutMs` (generous: this waits, it does not measure). */
async function waitFor(condition, { timeoutMs = 20_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Requests that would mean somebody started OAuth discovery or dynamic client registration. */
function oauthDetours(requests) {
  return requests.filter(
    (r) => r.path.startsWith('/.well-known/') || r.path === '/register' || r.path === '/token' || r.path === '/authorize'
  )
}

module.exports = {
  startMcpServer,
  startRecordingServer,
  useMcpServers,
  mcpClient,
  signedInMcpClient,
  bearerOf,
  apiRequestsDuring,
  assertOneRefresh,
  waitFor,
  oauthDetours,
}
