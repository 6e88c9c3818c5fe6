'use strict'
// symbiote-auth/mcp for stdio servers that reach a remote themselves (such as
// @remote-mcp/client, which reads HTTP_HEADER_* variables once, at start, and sends them as
// headers). Such a child can only learn a new token by being started again, so this
// transport starts it with the token in its environment and starts it again, with the new
// token or none, whenever the session's token changes: after every refresh (which the
// client does ahead of expiry) and on sign-out.
//
// One loop (`#reconcile`) makes the child match the session, one change at a time:
// - A request sent while the child does not match the session (read from the client at
//   that moment, not from a status event that may still be on its way) waits in a queue,
//   so whatever answers it belongs to the newest state.
// - A new token waits until no request is in flight on the old child. A sign-out waits
//   for nothing: the old child is stopped at once and its requests in flight get an error.
// - The token is read again right before a child is launched, never carried across a wait.
// - The new child gets the MCP handshake the Client made (`initialize`,
//   `notifications/initialized`), within `replayTimeoutMs`; a session change meanwhile
//   abandons it. Then the queue is sent.
// - A stopped child gets SIGTERM from the SDK's close(), and SIGKILL `KILL_GRACE_MS` later if
//   it is still there (SDK 1.11.4 never escalates), so no process started with a token
//   outlives the sign-out.
// Responses to the child's own requests are never held back: the request it waits on may
// need them.

const { PassThrough } = require('node:stream')
const { authError } = require('./auth-error')

const TOKEN_PLACEHOLDER = '{token}'
// Ids of the replayed `initialize`, in a namespace no SDK client uses.
const REPLAY_ID_PREFIX = 'symbiote-auth-replay-'
const DEFAULT_REPLAY_TIMEOUT_MS = 10_000
const KILL_GRACE_MS = 2000
// JSON-RPC "server error" range: a request the child was stopped under.
const STOPPED_ERROR_CODE = -32001
// `#target()` when the child matches the session: nothing to do.
const UNCHANGED = Symbol('unchanged')

function parseTokenEnv(tokenEnv) {
  const entries = tokenEnv !== null && typeof tokenEnv === 'object' ? Object.entries(tokenEnv) : []
  const valid =
    entries.length > 0 &&
    entries.every(
      ([name, template]) =>
        /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && typeof template === 'string' && template.split(TOKEN_PLACEHOLDER).length === 2
    )
  if (!valid) {
    throw authError(
      'E_CONFIG',
      `tokenEnv must name the child's variables, each with one ${TOKEN_PLACEHOLDER}, e.g. { HTTP_HEADER_AUTHORIZATION: 'Bearer ${TOKEN_PLACEHOLDER}' }`
    )
  }
  return entries
}

function parseReplayTimeout(value) {
  if (value === undefined) return DEFAULT_REPLAY_TIMEOUT_MS
  if (!Number.isFinite(value) || value <= 0) throw authError('E_CONFIG', 'replayTimeoutMs must be a positive number of milliseconds')
  return value
}

const isRequest = (message) => typeof message?.method === 'string' && message.id !== undefined
const isResponse = (message) => message?.method === undefined && message?.id !== undefined
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// SDK 1.11.4's transport has no `pid` getter; its process is `_process`.
const pidOf = (child) => child.pid ?? child._process?.pid ?? undefined

// Stops `child`: the SDK's close() (SIGTERM, or stdin closed), then SIGKILL after a grace
// period if the process is still there.
async function stopChild(child) {
  const pid = pidOf(child)
  await Promise.race([child.close().catch(() => {}), sleep(KILL_GRACE_MS)])
  if (pid === undefined) return
  const deadline = Date.now() + KILL_GRACE_MS
  while (isAlive(pid) && Date.now() < deadline) await sleep(50)
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Gone between the check and the kill.
    }
  }
}

class StdioAuthTransport {
  #client
  #provider
  #Transport
  #params
  #tokenEnv
  #replayTimeoutMs
  #child = null
  #childToken
  #pending = new Set() // ids of requests sent to the current child, not yet answered
  #queue = [] // requests and notifications waiting for the child to match the session
  #reconciling = null
  #handshake = { initialize: null, initialized: null }
  #replays = 0
  #replayAnswered
  #stopWatching = () => {}
  // Resolves whoever waits for the next event: a response, a session change, a close.
  #wake = () => {}
  #closed = false
  #endedBy = null
  // With `stderr: 'pipe'` (or 'overlapped'), one stream for the transport's whole life that
  // every child's stderr flows into, as the SDK's transport gives one from its constructor:
  // a listener attached before start() hears every child, the replacements included.
  #stderr = null

  constructor(client, Transport, options) {
    const { serverUrl, tokenEnv, replayTimeoutMs, ...params } = options ?? {}
    if (typeof Transport !== 'function') {
      throw authError('E_CONFIG', 'createStdioAuthTransport() takes the SDK StdioClientTransport class')
    }
    if (typeof params.command !== 'string' || params.command.length === 0) {
      throw authError('E_CONFIG', 'createStdioAuthTransport() needs the command that starts the server')
    }
    this.#tokenEnv = parseTokenEnv(tokenEnv)
    this.#replayTimeoutMs = parseReplayTimeout(replayTimeoutMs)
    // The remote the child sends the token to must be trusted with it: E_UNTRUSTED_ORIGIN
    // / E_INSECURE_URL now, before any child starts.
    this.#provider = client.mcpProvider(String(serverUrl))
    this.#client = client
    this.#Transport = Transport
    // Variables of the same name the caller set (a hard-coded token) never reach the child.
    const reserved = new Set(this.#tokenEnv.map(([name]) => name.toUpperCase()))
    const env = Object.fromEntries(Object.entries(params.env ?? {}).filter(([name]) => !reserved.has(name.toUpperCase())))
    this.#params = { ...params, env }
    if (params.stderr === 'pipe' || params.stderr === 'overlapped') this.#stderr = new PassThrough()
    this.onmessage = undefined
    this.onerror = undefined
    this.onclose = undefined
  }

  /** With `stderr: 'pipe'`: every child's stderr, in one stream that ends when the transport does. */
  get stderr() {
    return this.#stderr
  }

  /** The pid of the running child, if any. */
  get pid() {
    return this.#child ? (pidOf(this.#child) ?? null) : null
  }

  async start() {
    // Subscribed first, so no change between reading the token and starting is missed.
    this.#stopWatching = this.#client.onStatusChange(() => this.#sessionChanged())
    // A usable token for the first child (refreshed first if it expired), or none.
    if (this.#client.isAuthenticated()) await this.#provider.token().catch(() => undefined)
    this.#ensureReconciling()
    await this.#reconciling
    if (!this.#child) throw this.#endedBy ?? new Error('the stdio transport is closed')
  }

  async send(message, options) {
    if (this.#closed) throw new Error('the stdio transport is closed')
    if (message?.method === 'initialize' && isRequest(message)) this.#handshake.initialize = message
    if (message?.method === 'notifications/initialized') this.#handshake.initialized = message
    if (message?.method === 'notifications/cancelled') this.#settle(message.params?.requestId)
    if (!isResponse(message) && (this.#reconciling || this.#target() !== UNCHANGED)) {
      const delivered = new Promise((resolve, reject) => this.#queue.push({ message, options, resolve, reject }))
      this.#ensureReconciling()
      return delivered
    }
    await this.#deliver(message, options)
  }

  async close() {
    if (this.#closed) return
    this.#closed = true
    this.#stopWatching()
    this.#wake()
    const child = this.#child
    this.#child = null
    this.#rejectQueue(new Error('the stdio transport closed'))
    if (child) await stopChild(child)
    this.#stderr?.end()
    this.onclose?.()
  }

  setProtocolVersion(version) {
    this.#child?.setProtocolVersion?.(version)
  }

  // What the child should hold now, read from the client: the verified current token, or
  // undefined once the session is gone; UNCHANGED when the child holds that already, or
  // while a refresh after expiry is pending (no valid token yet: the child keeps its own).
  #target() {
    const status = this.#client.status()
    const wanted = status.authenticated ? (this.#client.getStoredJwtToken() ?? undefined) : undefined
    if (wanted === this.#childToken) return UNCHANGED
    if (status.authenticated && !this.#client.isJwtTokenValid(wanted)) return UNCHANGED
    return wanted
  }

  #sessionChanged() {
    this.#wake()
    if (this.#target() !== UNCHANGED) this.#ensureReconciling()
  }

  #ensureReconciling() {
    if (this.#reconciling || this.#closed) return
    this.#reconciling = this.#reconcile()
      .catch((error) => this.onerror?.(error))
      .finally(() => {
        this.#reconciling = null
        // A change that came in as the loop ended.
        if (this.#queue.length > 0 || this.#target() !== UNCHANGED) this.#ensureReconciling()
      })
  }

  #nextEvent() {
    return new Promise((resolve) => {
      const previous = this.#wake
      this.#wake = () => {
        this.#wake = () => {}
        previous()
        resolve()
      }
    })
  }

  // Until the child matches the session: replace it (see the top of this file), then send
  // the queue to it.
  async #reconcile() {
    for (;;) {
      if (this.#closed) return
      if (this.#target() === UNCHANGED && this.#child) break
      // A new token waits for the requests in flight; a sign-out does not.
      while (this.#pending.size > 0 && this.#target() !== undefined && this.#target() !== UNCHANGED) {
        await this.#nextEvent()
        if (this.#closed) return
      }
      const target = this.#target()
      if (target === UNCHANGED && this.#child) continue
      const token = target === UNCHANGED ? this.#childToken : target
      const old = this.#child
      this.#child = null
      if (old) {
        this.#answerStopped(
          token === undefined ? 'E_LOGIN_REQUIRED: signed out while the request ran' : 'the token changed while the request ran'
        )
        stopChild(old)
      }
      if (!(await this.#launch(token))) return
    }
    for (const { message, options, resolve, reject } of this.#queue.splice(0)) {
      this.#deliver(message, options).then(resolve, reject)
    }
  }

  // Starts a child with `token` (read just now) and replays the handshake. False when the
  // transport ended: the child died, the replay failed, or it was closed.
  async #launch(token) {
    const env = { ...this.#params.env }
    if (token !== undefined) {
      for (const [name, template] of this.#tokenEnv) env[name] = template.replace(TOKEN_PLACEHOLDER, token)
    }
    const child = new this.#Transport({ ...this.#params, env })
    if (this.#stderr) child.stderr?.pipe(this.#stderr, { end: false })
    child.onmessage = (message) => {
      if (child !== this.#child) return
      if (isResponse(message) && String(message.id).startsWith(REPLAY_ID_PREFIX)) return this.#replayAnswered?.(message)
      if (isResponse(message)) this.#settle(message.id)
      this.onmessage?.(message)
    }
    child.onerror = (error) => {
      if (child === this.#child) this.onerror?.(error)
    }
    child.onclose = () => {
      // The child this transport replaced, or closed, says nothing; one that died does.
      if (child === this.#child) this.#end(new Error('the stdio MCP server exited'))
    }
    this.#child = child
    this.#childToken = token
    this.#pending.clear()
    try {
      await child.start()
      if (this.#closed || child !== this.#child) return !this.#closed
      await this.#replayHandshake(child)
      return !this.#closed
    } catch (error) {
      if (child === this.#child) {
        this.#child = null
        stopChild(child)
        this.#end(error)
      }
      return false
    }
  }

  // The new child is a new MCP session: it gets the handshake the Client made with the
  // first one, and its answer stays here (the Client already has one). A session change
  // meanwhile abandons it (the loop replaces this child next); no answer within
  // `replayTimeoutMs` ends the transport with E_TIMEOUT.
  async #replayHandshake(child) {
    const { initialize, initialized } = this.#handshake
    if (!initialize) return
    const id = `${REPLAY_ID_PREFIX}${++this.#replays}`
    let answer
    const answered = new Promise((resolve) => {
      this.#replayAnswered = (message) => {
        answer = message
        resolve()
      }
    })
    let timer
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(resolve, this.#replayTimeoutMs)
    })
    try {
      await child.send({ ...initialize, id })
      while (answer === undefined) {
        const expired = await Promise.race([answered, timedOut.then(() => true), this.#nextEvent()])
        if (this.#closed || child !== this.#child) return
        if (answer !== undefined) break
        if (expired === true) {
          throw authError('E_TIMEOUT', `the restarted stdio MCP server did not answer initialize within ${this.#replayTimeoutMs} ms`)
        }
        if (this.#target() !== UNCHANGED) return
      }
    } finally {
      clearTimeout(timer)
      this.#replayAnswered = undefined
    }
    if (answer.error) throw authError('E_SERVER', 'the restarted stdio MCP server refused initialize')
    if (initialized) await child.send(initialized)
  }

  async #deliver(message, options) {
    if (!this.#child) {
      // An answer to a request of a child that has since been replaced: nobody to tell.
      if (isResponse(message)) return
      throw new Error('the stdio MCP server is not running')
    }
    if (isRequest(message)) this.#pending.add(message.id)
    await this.#child.send(message, options)
  }

  #settle(id) {
    if (this.#pending.delete(id)) this.#wake()
  }

  // The requests in flight on a child being stopped get an error answer now, rather than
  // waiting for the SDK's request timeout.
  #answerStopped(reason) {
    for (const id of this.#pending) {
      this.onmessage?.({ jsonrpc: '2.0', id, error: { code: STOPPED_ERROR_CODE, message: `the stdio MCP server was stopped: ${reason}` } })
    }
    this.#pending.clear()
  }

  #rejectQueue(error) {
    for (const queued of this.#queue.splice(0)) queued.reject(error)
  }

  // The transport ends: the child died, or could not be started or resumed.
  #end(error) {
    if (this.#closed) return
    this.#closed = true
    this.#endedBy = error
    this.#child = null
    this.#stopWatching()
    this.#wake()
    this.#answerStopped('it ended')
    this.#rejectQueue(error)
    this.#stderr?.end()
    this.onerror?.(error)
    // After the rejections reached their callers: the SDK's onclose fails every request
    // still open with its own "connection closed", which would hide ours.
    setImmediate(() => this.onclose?.())
  }
}

/**
 * A transport for the MCP SDK's `StdioClientTransport` whose child process holds the JWT in
 * its environment only, and is replaced whenever the token changes (see the top of this file).
 * `options` are the StdioClientTransport parameters (`command`, `args`, `env`, `cwd`,
 * `stderr`), plus `serverUrl` (where the child sends the token; must be trusted),
 * `tokenEnv` (`{ VARIABLE: 'Bearer {token}' }`) and `replayTimeoutMs` (how long a restarted
 * child may take to answer the replayed `initialize`; default 10000).
 */
function createStdioAuthTransport(client, StdioClientTransport, options) {
  return new StdioAuthTransport(client, StdioClientTransport, options)
}

module.exports = { createStdioAuthTransport, StdioAuthTransport }
