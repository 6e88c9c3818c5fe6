'use strict'
// A real MCP server (@modelcontextprotocol/sdk 1.x) that trusts nothing but a JWT the
// Flask API signed: the SDK's requireBearerAuth middleware, with a verifier that checks
// the token against the API's JWKS with jose. It serves Streamable HTTP at /mcp and the
// older HTTP+SSE transport at /sse + /messages, and one tool, `whoami`, that answers with
// the identity it verified. The demo runs it; the tests build on `mcpRouter`.

const { randomUUID } = require('node:crypto')
const express = require('express')
const { createRemoteJWKSet, jwtVerify } = require('jose')
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js')
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js')
const { SSEServerTransport } = require('@modelcontextprotocol/sdk/server/sse.js')
const { requireBearerAuth } = require('@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js')
const { InvalidTokenError } = require('@modelcontextprotocol/sdk/server/auth/errors.js')
const { isInitializeRequest } = require('@modelcontextprotocol/sdk/types.js')

const REFERENCE_ISSUER = 'symbiote-reference'
const REFERENCE_AUDIENCE = 'symbiote-desktop'

/**
 * The `OAuthTokenVerifier` requireBearerAuth asks for: signature against the API's JWKS
 * (fetched and cached by jose; a token with an unknown kid makes it fetch again), the
 * algorithm allowlist, `exp`/`nbf`, `iss` and `aud`. `jwksCacheMaxAgeMs` is how long a
 * fetched JWKS is trusted; 0 re-reads it for every token, so a key the API dropped is
 * refused at once.
 */
function createJwtVerifier({ jwksUrl, issuer = REFERENCE_ISSUER, audience = REFERENCE_AUDIENCE, jwksCacheMaxAgeMs }) {
  const keys = createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: jwksCacheMaxAgeMs })
  return {
    async verifyAccessToken(token) {
      let payload
      try {
        ;({ payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['RS256', 'ES256'] }))
      } catch (error) {
        // InvalidTokenError is what makes the middleware answer 401 rather than 500.
        throw new InvalidTokenError(`JWT rejected: ${error.code ?? error.message}`)
      }
      return {
        token,
        clientId: String(payload.sub),
        scopes: [],
        expiresAt: payload.exp,
        extra: { sub: payload.sub, email: payload.email, jti: payload.jti },
      }
    },
  }
}

function createMcpServer() {
  const server = new McpServer({ name: 'symbiote-example', version: '1.0.0' })
  server.registerTool('whoami', { description: 'The user this server verified from the bearer JWT' }, async ({ authInfo }) => {
    const { sub, email } = authInfo.extra
    return { content: [{ type: 'text', text: JSON.stringify({ sub, email }) }] }
  })
  return server
}

/**
 * The MCP routes, every one behind requireBearerAuth. `resourceMetadataUrl` is only
 * advertised in the 401's WWW-Authenticate header, as OAuth-protected MCP servers do; this
 * server does not serve it, and a client of symbiote-auth never asks for it.
 */
function mcpRouter({ verifier, resourceMetadataUrl }) {
  const router = express.Router()
  const auth = requireBearerAuth({ verifier, resourceMetadataUrl })
  const streamable = new Map()
  const sse = new Map()

  router.post('/mcp', auth, express.json(), async (req, res) => {
    let transport = streamable.get(req.get('mcp-session-id'))
    if (!transport) {
      if (req.get('mcp-session-id') || !isInitializeRequest(req.body)) {
        res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null })
        return
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => streamable.set(id, transport),
      })
      transport.onclose = () => streamable.delete(transport.sessionId)
      await createMcpServer().connect(transport)
    }
    await transport.handleRequest(req, res, req.body)
  })

  // The standalone GET stream and DELETE (end of session) of Streamable HTTP.
  const inSession = async (req, res) => {
    const transport = streamable.get(req.get('mcp-session-id'))
    if (!transport) {
      res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null })
      return
    }
    await transport.handleRequest(req, res)
  }
  router.get('/mcp', auth, inSession)
  router.delete('/mcp', auth, inSession)

  router.get('/sse', auth, async (_req, res) => {
    const transport = new SSEServerTransport('/messages', res)
    sse.set(transport.sessionId, transport)
    res.on('close', () => sse.delete(transport.sessionId))
    await createMcpServer().connect(transport)
  })
  router.post('/messages', auth, express.json(), async (req, res) => {
    const transport = sse.get(req.query.sessionId)
    if (!transport) {
      res.status(404).send('Session not found')
      return
    }
    await transport.handlePostMessage(req, res, req.body)
  })

  return router
}

/** Serves `app` on an ephemeral loopback port; resolves to its origin and a close(). */
function listen(app, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, host, () => {
      const origin = `http://${host}:${server.address().port}`
      resolve({
        origin,
        close: () =>
          new Promise((done) => {
            // Open SSE streams would hold close() forever.
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
    server.on('error', reject)
  })
}

/** The example server on its own: `url` is the Streamable HTTP endpoint. */
async function startMcpServer({ jwksUrl, host } = {}) {
  const app = express()
  app.use(mcpRouter({ verifier: createJwtVerifier({ jwksUrl }) }))
  const { origin, close } = await listen(app, host)
  return { origin, url: `${origin}/mcp`, sseUrl: `${origin}/sse`, close }
}

module.exports = { createJwtVerifier, mcpRouter, listen, startMcpServer }
