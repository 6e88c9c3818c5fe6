'use strict'
// Loopback servers for answers the reference Flask server cannot give.
//
// The hostile server: raw HTTP misbehaviour (bodies and headers that never end, a reset
// mid-body, endless redirects, bodies of any size without a length) and answers made on
// the fly (a token with a fresh kid for every request). Everything not armed is proxied to
// the reference server, so a client can sign in through it normally and meet the hostile
// answer exactly where a test put it. Every request is logged (method, path, Host, Cookie)
// for checks of what the client sent where.
//
// The untrusted TLS server: what a man in the middle without the API's certificate has.

const http = require('node:http')
const https = require('node:https')
const { randomBytes, randomUUID } = require('node:crypto')

/** Hop-by-hop headers of the upstream answer that must not be passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding'])
/** How often the never-ending answers send another piece. */
const DRIP_MS = 50

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A JWT-shaped token with this header kid and a random signature (no key signed it). */
function forgedToken(kid) {
  const now = Math.floor(Date.now() / 1000)
  const claims = { sub: '1', iat: now, nbf: now, exp: now + 900, jti: randomUUID() }
  return `${b64url({ alg: 'RS256', typ: 'JWT', kid })}.${b64url(claims)}.${randomBytes(256).toString('base64url')}`
}

/** Sends a piece every DRIP_MS until the client goes away. */
function drip(socket, piece) {
  const timer = setInterval(() => socket.write(piece()), DRIP_MS)
  socket.once('close', () => clearInterval(timer))
}

/** The hostile answers, each `(req, res) => void`. */
const behaviours = {
  /** 200 with a chunked JSON body whose next chunk always comes, and never the last one. */
  neverEndingBody: () => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"access_token": "')
    drip(res.socket, () => 'a')
  },

  /** A status line, then one more header line every DRIP_MS, never the blank line. */
  neverEndingHeaders: () => (req) => {
    req.socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n')
    let line = 0
    drip(req.socket, () => `x-filler-${line++}: ${'y'.repeat(64)}\r\n`)
  },

  /** Announces 4 KiB, sends 1 KiB, then resets the connection (TCP RST). */
  resetMidBody: () => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' })
    res.write(`{"access_token": "${'a'.repeat(1000)}`)
    setTimeout(() => res.socket.resetAndDestroy(), DRIP_MS)
  },

  /** 200 with a JSON body of `bytes` bytes, chunked, so no Content-Length warns of its size. */
  chunkedBody: (bytes) => (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const piece = 'a'.repeat(64 * 1024)
    res.write('{"access_token": "')
    let sent = 0
    const more = () => {
      while (sent < bytes) {
        sent += piece.length
        if (!res.write(piece)) return res.once('drain', more)
      }
      res.end('"}')
    }
    more()
  },

  redirect:
    (location, status = 302) =>
    (_req, res) => {
      res.writeHead(status, { location, 'content-length': '0' })
      res.end()
    },

  /** Redirects to itself (same origin), for as long as the client follows. */
  redirectLoop: () => (req, res) => {
    res.writeHead(302, { location: req.url, 'content-length': '0' })
    res.end()
  },

  /** A token answer whose token names a kid nobody has seen before. */
  tokenWithUnseenKid: () => (_req, res) => {
    const body = JSON.stringify({ access_token: forgedToken(`unseen-${randomUUID()}`), token_type: 'Bearer' })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  },
}

/** `upstream()`: the URL of the reference server, which gets every request not armed. */
async function startHostileServer({ upstream }) {
  /** path -> { behaviour, remaining } */
  const armed = new Map()
  const requests = []
  const sockets = new Set()

  function proxy(req, res, extraHeaders = {}) {
    const target = new URL(req.url, upstream())
    const forward = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)))
      for (const [name, value] of Object.entries(extraHeaders)) {
        headers[name] = [headers[name] ?? []].flat().concat(value)
      }
      res.writeHead(answer.statusCode, headers)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://hostile').pathname
    requests.push({ method: req.method, path, host: req.headers.host, cookie: req.headers.cookie ?? '' })
    const trap = armed.get(path)
    if (!trap || trap.remaining <= 0) return proxy(req, res)
    trap.remaining -= 1
    trap.behaviour(req, res, { proxy })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    /**
     * Answers the next `count` requests to each of `paths` with `behaviour`
     * (`(req, res, { proxy }) => void`); `proxy(req, res, extraHeaders)` passes one on.
     */
    arm(paths, behaviour, { count = Infinity } = {}) {
      for (const path of [paths].flat()) armed.set(path, { behaviour, remaining: count })
    },
    /** Disarms everything, forgets the log and cuts connections left hanging. */
    reset() {
      armed.clear()
      requests.length = 0
      for (const socket of sockets) socket.destroy()
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

/**
 * A self-signed certificate for 127.0.0.1 that no trust store holds: what a man in the
 * middle without the API's key can present. Test-only; valid until 2126.
 */
const UNTRUSTED_TLS = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgai75bM8+EpoAbE4M
EvLEetr/Cu8uhkrsyFtzwvkV0BahRANCAAS+ebn+797ITSzs1SxTYri99wpo43N1
BklMqr6jHCx/1y6COZH9vBqfPY0bX3IxrPtGRRbg29/V+zr9+1plaSVF
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIUBEUGdP5zuI+uhfpzS0uW8cPSTRgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyNDIxMTkwMVoYDzIxMjYxMDMx
MjExOTAxWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAS+ebn+797ITSzs1SxTYri99wpo43N1BklMqr6jHCx/1y6COZH9vBqf
PY0bX3IxrPtGRRbg29/V+zr9+1plaSVFo2QwYjAdBgNVHQ4EFgQUZl+FjQqSy1pN
oVL7d+nSZw7aSuQwHwYDVR0jBBgwFoAUZl+FjQqSy1pNoVL7d+nSZw7aSuQwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0kAMEYC
IQCl/ScBNWs3XpsKGsqiGEPFj36kkU1/ym4GTFNeC4cyyQIhAOTh8L4TZt2+K1Ev
xLLiBC3TXuMBssmRef/CaSEeS+3G
-----END CERTIFICATE-----
`,
}

/**
 * An https:// server presenting UNTRUSTED_TLS: counts the handshakes clients broke off
 * and the HTTP requests that got through (which a client that checks certificates never
 * sends).
 */
async function startUntrustedTlsServer() {
  const seen = { refusedHandshakes: 0, requests: 0 }
  const server = https.createServer(UNTRUSTED_TLS, (_req, res) => {
    seen.requests += 1
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"success": true}')
  })
  server.on('tlsClientError', () => {
    seen.refusedHandshakes += 1
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `https://127.0.0.1:${server.address().port}`,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

module.exports = { startHostileServer, startUntrustedTlsServer, behaviours }
