'use strict'
// symbiote-auth/mcp for stdio servers that reach a remote themselves (such as
// @remote-mcp/client, which reads HTTP_HEADER_* variables once, at start, and sends them as
// headers). Such a child can only learn a new token by being started again, so this
// transport starts it with the token in its environment and starts it again, with the new
// token or none, whenever the session's token changes: after every refresh (which the
// client does ahead of expiry) and on sign-out.
//
// A replacement waits until no request is in flight on the old child (queueing the
// requests sent meanwhile), then starts the new one, replays the MCP handshake the Client
// made (`initialize`, `notifications/initialized`) and sends the queue. Responses to the
// child's own requests are never held back: the request it waits on may need them.

const TOKEN_PLACEHOLDER = '{token}'
// Ids of the replayed `initialize`, in a namespace no SDK client uses.
const REPLAY_ID_PREFIX = 'symbiote-auth-replay-'

function codedError(code, message) {
  const error = new Error(`${code}: ${message}`)
  error.code = code
  return error
}

function parseTokenEnv(tokenEnv) {
  const entries = tokenEnv !== null && typeof tokenEnv === 'object' ? Object.entries(tokenEnv) : []
  const valid =
    entries.length > 0 &&
    entries.every(
      ([name, template]) =>
        /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && typeof template === 'string' && template.split(TOKEN_PLACEHOLDER).length === 2
    )
  if (!valid) {
    throw codedError(
      'E_CONFIG',
      `tokenEnv must name the child's variables, each with one ${TOKEN_PLACEHOLDER}, e.g. { HTTP_HEADER_AUTHORIZATION: 'Bearer ${TOKEN_PLACEHOLDER}' }`
    )
  }
  return entries
}

const isRequest = (message) => typeof message?.method === 'string' && message.id !== undefined
const isResponse = (message) => message?.method === undefined && message?.id !== undefined

class StdioAuthTransport {
  #client
  #provider
  #Transport
  #params
  #tokenEnv
  #child = null
  #childToken
  #pending = new Set() // ids of requests sent to the current child, not yet answered
  #queue = [] // requests and notifications sent while the child is being replaced
  #replacing = null
  #handshake = { initialize: null, initialized: null }
  #replays = 0
  #stopWatching = () => {}
  #idle = () => {}
  #closed = false

  constructor(client, Transport, options) {
    const { serverUrl, tokenEnv, ...params } = options ?? {}
    if (typeof Transport !== 'function') {
      throw codedError('E_CONFIG', 'createStdioAuthTransport() takes the SDK StdioClientTransport class')
    }
    if (typeof params.command !== 'string' || params.command.length === 0) {
      throw codedError('E_CONFIG', 'createStdioAuthTransport() needs the command that starts the server')
    }
    this.#tokenEnv = parseTokenEnv(tokenEnv)
    // The remote the child sends the token to must be trusted with it: E_UNTRUSTED_ORIGIN
    // / E_INSECURE_URL now, before any child starts.
    this.#provider = client.mcpProvider(String(serverUrl))
    this.#client = client
    this.#Transport = Transport
    // Variables of the same name the caller set (a hard-coded token) never reach the child.
    const reserved = new Set(this.#tokenEnv.map(([name]) => name.toUpperCase()))
    const env = Object.fromEntries(Object.entries(params.env ?? {}).filter(([name]) => !reserved.has(name.toUpperCase())))
    this.#params = { ...params, env }
    this.onmessage = undefined
    this.onerror = undefined
    this.onclose = undefined
  }

  async start() {
    // Subscribed first, so no change between reading the token and starting is missed; a
    // change meanwhile (reading the token may refresh it) is looked at once started.
    this.#stopWatching = this.#client.onStatusChange(() => this.#checkToken())
    const started = (async () => this.#launch(await this.#currentToken()))()
    // The caller hears of a failed start from `await started`.
    this.#replacing = started
      .catch(() => {})
      .finally(() => {
        this.#replacing = null
        this.#checkToken()
      })
    await started
  }

  async send(message, options) {
    if (this.#closed) throw new Error('the stdio transport is closed')
    if (message?.method === 'initialize' && isRequest(message)) this.#handshake.initialize = message
    if (message?.method === 'notifications/initialized') this.#handshake.initialized = message
    if (message?.method === 'notifications/cancelled') this.#settle(message.params?.requestId)
    if (this.#replacing && !isResponse(message)) {
      await new Promise((resolve, reject) => this.#queue.push({ message, options, resolve, reject }))
      return
    }
    await this.#deliver(message, options)
  }

  async close() {
    if (this.#closed) return
    this.#closed = true
    this.#stopWatching()
    const child = this.#child
    this.#child = null
    for (const queued of this.#queue.splice(0)) queued.reject(new Error('the stdio transport closed'))
    await child?.close()
    this.onclose?.()
  }

  setProtocolVersion(version) {
    this.#child?.setProtocolVersion?.(version)
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
    if (this.#pending.delete(id) && this.#pending.size === 0) this.#idle()
  }

  // The first child's token: a usable one (refreshed first if it expired), or none.
  async #currentToken() {
    if (!this.#client.isAuthenticated()) return undefined
    try {
      return await this.#provider.token()
    } catch {
      return undefined
    }
  }

  // After every status change: the child is replaced when the current token is another
  // verified one, or when the session is gone. While a refresh is pending after expiry
  // (no valid token yet) the child keeps what it has, until the new token arrives.
  #checkToken() {
    if (this.#closed || this.#replacing) return
    const status = this.#client.status()
    const wanted = status.authenticated ? (this.#client.getStoredJwtToken() ?? undefined) : undefined
    if (wanted === this.#childToken || (status.authenticated && !this.#client.isJwtTokenValid(wanted))) return
    this.#replacing = this.#replace(wanted)
      .catch((error) => this.onerror?.(error))
      .finally(() => {
        this.#replacing = null
        // A change that came in during the replacement.
        this.#checkToken()
      })
  }

  // `token`: the verified current token, or undefined once the session is gone.
  async #replace(token) {
    if (this.#pending.size > 0) await new Promise((resolve) => (this.#idle = resolve))
    if (this.#closed) return
    const old = this.#child
    this.#child = null
    await old?.close()
    try {
      await this.#launch(token)
      await this.#replayHandshake()
    } catch (error) {
      this.onerror?.(error)
    }
    for (const { message, options, resolve, reject } of this.#queue.splice(0)) {
      this.#deliver(message, options).then(resolve, reject)
    }
  }

  async #launch(token) {
    // Closed while the token was being read or the old child stopped: start nothing.
    if (this.#closed) return
    const env = { ...this.#params.env }
    if (token !== undefined) {
      for (const [name, template] of this.#tokenEnv) env[name] = template.replace(TOKEN_PLACEHOLDER, token)
    }
    const child = new this.#Transport({ ...this.#params, env })
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
      if (child !== this.#child) return
      this.#child = null
      this.#closed = true
      this.#stopWatching()
      for (const queued of this.#queue.splice(0)) queued.reject(new Error('the stdio MCP server exited'))
      this.#replayAnswered?.({ error: { message: 'the server exited' } })
      this.onclose?.()
    }
    this.#child = child
    this.#childToken = token
    this.#pending.clear()
    await child.start()
    if (this.#closed) await child.close()
  }

  #replayAnswered

  // The new child is a new MCP session: it gets the handshake the Client made with the
  // first one, and its answer stays here (the Client already has one).
  async #replayHandshake() {
    const { initialize, initialized } = this.#handshake
    if (!initialize || !this.#child) return
    const id = `${REPLAY_ID_PREFIX}${++this.#replays}`
    const answered = new Promise((resolve) => (this.#replayAnswered = resolve))
    await this.#child.send({ ...initialize, id })
    const answer = await answered
    this.#replayAnswered = undefined
    if (answer.error) throw new Error(`the restarted MCP server refused initialize: ${answer.error.message}`)
    if (initialized) await this.#child.send(initialized)
  }
}

/**
 * A transport for the MCP SDK's `StdioClientTransport` whose child process holds the JWT in
 * its environment only, and is replaced whenever the token changes (see the top of this file).
 * `options` are the StdioClientTransport parameters (`command`, `args`, `env`, `cwd`,
 * `stderr`), plus `serverUrl` (where the child sends the token; must be trusted) and
 * `tokenEnv` (`{ VARIABLE: 'Bearer {token}' }`).
 */
function createStdioAuthTransport(client, StdioClientTransport, options) {
  return new StdioAuthTransport(client, StdioClientTransport, options)
}

module.exports = { createStdioAuthTransport, StdioAuthTransport }
