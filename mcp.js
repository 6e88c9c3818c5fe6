'use strict'
// symbiote-auth/mcp: puts the AuthClient's JWT on MCP requests. Every decision (which
// origins are trusted, whether the token is still good, one shared refresh) is made
// natively; this file only attaches the token, follows redirects without leaking it,
// and reports a 401 back.

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
// What fetch itself allows.
const MAX_REDIRECTS = 20
// Headers that describe a body; they go with it when a redirect turns the request into a GET.
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length']

// Messages begin with their code, as the native errors' do, so that a host re-wrapping an
// error by its message can still tell what it was.
function authError(code, message) {
  const error = new Error(`${code}: ${message}`)
  error.code = code
  return error
}

function isStream(body) {
  return (
    body != null && typeof body === 'object' && (typeof body.getReader === 'function' || typeof body[Symbol.asyncIterator] === 'function')
  )
}

/**
 * The per-request path of `tokens()` / `token()`, which run before every MCP request. One
 * plain native call, `probe()` (`provider.generationProbe()`), reads the current token's
 * generation without a lock (no JWT parsing, no storage, no trip through the runtime);
 * while it is the generation cached here, the same already-resolved promises are returned.
 * A new generation costs one more native call (`tokenSnapshot()`) and one new object. A
 * token that must be refreshed first, or no session, takes the async native path (shared
 * refresh, `undefined` when signed out, `E_LOGIN_REQUIRED` when the API ended the session).
 * Inside the refresh window the probe still answers with the current token and starts the
 * one background refresh, as the async path does: nobody waits on the network for a token
 * that is still valid.
 *
 * Callers that arrive together on the async path (a storm on an expired token) share one
 * native call and its promise: the refresh is single-flight natively anyway, and each
 * native async call costs microseconds of promise machinery on this thread, which a
 * thousand callers would otherwise spend before the first of them is answered.
 *
 * The cached `tokens()` object is frozen (every caller shares it) and its `expires_in` is a
 * getter, so it counts down from the token's expiry at every read instead of freezing at
 * the moment the object was built.
 */
function tokenCache(provider, { onSlowToken } = {}) {
  const probe = provider.generationProbe()
  let generation = -1 // the probe never answers -1; 0 means "take the async path"
  let accessToken
  let tokens
  let token

  function load(current) {
    const snapshot = current === 0 ? undefined : provider.tokenSnapshot()
    if (snapshot === undefined) {
      // No usable token (signed out, expired, session ended): hold on to none.
      generation = -1
      accessToken = tokens = token = undefined
      return false
    }
    const { expiresAt } = snapshot
    accessToken = snapshot.accessToken
    generation = snapshot.generation
    tokens = Promise.resolve(
      Object.freeze({
        access_token: accessToken,
        token_type: 'Bearer',
        get expires_in() {
          return Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000))
        },
      })
    )
    token = Promise.resolve(accessToken)
    return true
  }

  // The current token when it can be handed out at once, else undefined.
  function ready() {
    const current = probe()
    return current === generation || load(current) ? accessToken : undefined
  }

  // One pending async call per method, shared by whoever arrives while it runs.
  let pendingTokens
  let pendingToken
  function slowTokens() {
    pendingTokens ??= provider.tokens().then(
      (value) => {
        pendingTokens = undefined
        return value
      },
      (error) => {
        pendingTokens = undefined
        throw error
      }
    )
    return pendingTokens
  }
  function slowToken() {
    pendingToken ??= provider.token().then(
      (value) => {
        pendingToken = undefined
        onSlowToken?.(value)
        return value
      },
      (error) => {
        pendingToken = undefined
        throw error
      }
    )
    return pendingToken
  }

  return {
    ready,
    tokens: () => (ready() === undefined ? slowTokens() : tokens),
    token: () => (ready() === undefined ? slowToken() : token),
    slowToken,
    // The resolved promise of the token ready() last answered with.
    get readyToken() {
      return token
    },
  }
}

function discard(response) {
  return response.body?.cancel().catch(() => {})
}

/**
 * The request as `{url, init}` that can be sent more than once: the retry after a 401
 * and a 307/308 hop send the body again, and a Request or a streamed body can be read
 * only once, so those are read into memory first (MCP messages are small JSON). The
 * SDK passes a URL and a string body, which need no copy.
 */
async function replayable(input, init = {}) {
  if ((typeof input === 'string' || input instanceof URL) && !isStream(init.body)) {
    return { url: String(input), init }
  }
  const request = new Request(input, init)
  return {
    url: request.url,
    init: {
      ...init,
      method: request.method,
      headers: request.headers,
      body: request.body ? await request.arrayBuffer() : undefined,
      signal: request.signal,
      redirect: request.redirect,
    },
  }
}

function redirectTarget(response, url) {
  const location = REDIRECT_STATUSES.has(response.status) && response.headers.get('location')
  return location ? new URL(location, url) : undefined
}

// 303, and 301/302 after a POST, turn the request into a bodiless GET (fetch standard).
function becomesGet(status, method) {
  return (status === 303 && method !== 'GET' && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')
}

// The first @modelcontextprotocol/sdk whose transports take a `fetch` option; older ones
// ignore it without a word, and their requests go out without the token.
const FETCH_OPTION_SINCE = '1.15.0'

function configError(message) {
  return authError('E_CONFIG', message)
}

function isOlderThan(version, minimum) {
  const parts = (text) => String(text).split(/[.+-]/, 3).map(Number)
  const [have, need] = [parts(version), parts(minimum)]
  for (let i = 0; i < 3; i++) {
    if (have[i] !== need[i]) return have[i] < need[i]
  }
  return false
}

/**
 * The version of the `@modelcontextprotocol/sdk` this process resolves, or undefined when
 * it has none (a 2.x-only host, a bundle that inlined it). Its `exports` do not include
 * package.json, so its entry is resolved and the package folder found from there.
 */
function findSdkVersion() {
  // Loaded here, not at the top: requiring symbiote-auth/mcp stays cheap (bench row 4b).
  const fs = require('node:fs')
  const path = require('node:path')
  let folder
  try {
    folder = path.dirname(require.resolve('@modelcontextprotocol/sdk/client/index.js'))
  } catch {
    return undefined
  }
  for (; folder !== path.dirname(folder); folder = path.dirname(folder)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8'))
      if (manifest.name === '@modelcontextprotocol/sdk') return manifest.version
    } catch {}
  }
  return undefined
}

// What a process resolves does not change while it runs: looked up once.
let sdkVersion
function installedSdkVersion() {
  sdkVersion ??= { value: findSdkVersion() }
  return sdkVersion.value
}

/**
 * A `fetch` for the `fetch` option of the MCP SDK transports. Requests to a trusted
 * origin carry `Authorization: Bearer <JWT>`; a 401 to a request that carried it
 * refreshes the token once (shared with every other caller) and retries once.
 * Refuses (`E_CONFIG`) an SDK before 1.15.0, which would ignore it.
 */
function createAuthFetch(client, options = {}) {
  const version = options.sdkVersion ?? installedSdkVersion()
  if (version !== undefined && isOlderThan(version, FETCH_OPTION_SINCE)) {
    throw configError(
      `@modelcontextprotocol/sdk ${version} ignores the transports' fetch option (it appeared in ${FETCH_OPTION_SINCE}), so no request would carry the token: use createAuthTransport(), which wires ${version} too, or upgrade to ${FETCH_OPTION_SINCE} or later`
    )
  }
  return authFetchFor(client, options).authFetch
}

function authFetchFor(client, { serverUrl, fetch: baseFetch = globalThis.fetch } = {}) {
  // Throws E_UNTRUSTED_ORIGIN / E_INSECURE_URL now rather than at the first request.
  const provider = client.mcpProvider(String(serverUrl))
  const cache = tokenCache(provider)

  // Signed out, the request would go out without a token only to be refused, and an SDK
  // holding an OAuth provider would take that 401 as its cue; failing here names the
  // real problem and sends nothing.
  async function bearerToken() {
    const token = await cache.token()
    if (token == null) {
      throw authError('E_LOGIN_REQUIRED', `not signed in; call login() before using the MCP server at ${provider.origin}`)
    }
    return token
  }

  // Sends the request, following redirects itself so that the token goes to trusted
  // origins only. `carriedToken`: whether the final response answered a request that
  // had the token (only then does a 401 say anything about it).
  async function send({ url, init }, token) {
    const headers = new Headers(init.headers)
    headers.set('authorization', `Bearer ${token}`)
    const mode = init.redirect ?? 'follow'
    if (mode !== 'follow') {
      // The caller handles redirects (the SDK follows same-origin ones) and comes back
      // through this fetch for each hop, where that hop's origin is checked afresh.
      return { response: await baseFetch(url, { ...init, headers }), carriedToken: true }
    }
    let hop = { ...init, headers, redirect: 'manual' }
    let carriedToken = true
    for (let redirects = 0; ; redirects++) {
      const response = await baseFetch(url, hop)
      const target = redirectTarget(response, url)
      if (!target) return { response, carriedToken }
      await discard(response)
      if (redirects === MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects from ${provider.origin}`)
      if (!client.isSecureUrl(target.href)) {
        throw authError(
          'E_INSECURE_URL',
          `${provider.origin} redirected to http://${target.host}, which is neither https:// nor loopback; the request was not sent there`
        )
      }
      const method = (hop.method ?? 'GET').toUpperCase()
      if (becomesGet(response.status, method)) {
        hop = { ...hop, method: 'GET', body: undefined }
        for (const name of BODY_HEADERS) headers.delete(name)
      }
      // Once dropped the token stays dropped, as fetch does with credentials: the rest of
      // the chain is chosen by a server that was not trusted with it.
      if (carriedToken && !client.isTrustedUrl(target.href)) {
        headers.delete('authorization')
        carriedToken = false
      }
      url = target.href
    }
  }

  async function authFetch(input, init) {
    const url = input instanceof Request ? input.url : String(input)
    if (!client.isTrustedUrl(url)) return baseFetch(input, init)
    const token = await bearerToken()
    const request = await replayable(input, init)
    const first = await send(request, token)
    if (first.response.status !== 401 || !first.carriedToken) return first.response
    await provider.onUnauthorized(token)
    const replacement = await bearerToken()
    // Kept (it was obtained moments ago because of a 401): the 401 is the answer.
    if (replacement === token) return first.response
    await discard(first.response)
    return (await send(request, replacement)).response
  }
  return { authFetch, provider, cache, bearerToken }
}

// ----- one call for every SDK line -------------------------------------------------------

/**
 * `requestInit.headers` for an SDK before 1.15.0, which builds each request's headers by
 * spreading this object: a Proxy whose `authorization` is the token of that moment (and
 * absent when there is none ready), beside the caller's own headers.
 */
function liveHeaders(initial, cache) {
  const fixed = Object.fromEntries(new Headers(initial ?? {}))
  delete fixed.authorization
  const bearer = () => {
    const token = cache.ready()
    return token === undefined ? undefined : `Bearer ${token}`
  }
  return new Proxy(fixed, {
    ownKeys: (target) => (bearer() === undefined ? Reflect.ownKeys(target) : [...Reflect.ownKeys(target), 'authorization']),
    getOwnPropertyDescriptor: (target, key) => {
      if (key !== 'authorization') return Reflect.getOwnPropertyDescriptor(target, key)
      const value = bearer()
      return value === undefined ? undefined : { value, enumerable: true, configurable: true, writable: false }
    },
    get: (target, key) => (key === 'authorization' ? bearer() : Reflect.get(target, key)),
  })
}

// How an SDK before 1.15.0 reports a 401 to a POST (a plain Error) or to the GET stream.
function isUnauthorized(error) {
  return error?.code === 401 || /\(HTTP 401\)/.test(String(error?.message))
}

function requireTransportClass(caller, Transport) {
  if (typeof Transport !== 'function') {
    throw configError(`${caller}() takes the SDK transport class, e.g. StreamableHTTPClientTransport`)
  }
}

/**
 * A transport of the installed SDK line, built with `new Transport(serverUrl, options)` and
 * wired to carry the JWT on every request:
 * - SDK 1.15.0 and later, and client 2.x: the `fetch` option (createAuthFetch), which also
 *   answers a 401 with one refresh and one retry;
 * - SDK before 1.15.0, which has no `fetch` option: live `requestInit.headers` (every POST,
 *   GET stream and DELETE), `eventSourceInit.fetch` (the SSE stream), and `send()` waiting
 *   for a usable token first and retrying once after a 401 with a refreshed one.
 * Never an `authProvider`: on a 401 the 1.x SDKs give it to OAuth discovery.
 */
function createAuthTransport(client, Transport, serverUrl, options = {}) {
  requireTransportClass('createAuthTransport', Transport)
  for (const key of ['fetch', 'authProvider']) {
    if (options[key] !== undefined) throw configError(`createAuthTransport() sets ${key} itself; leave it out of the options`)
  }
  if (options.eventSourceInit?.fetch !== undefined) {
    throw configError(
      'eventSourceInit.fetch would replace the authenticated fetch of the SSE stream; leave it out (headers go in requestInit.headers)'
    )
  }
  const url = new URL(String(serverUrl))
  const wired = authFetchFor(client, { serverUrl: url, fetch: options.baseFetch })
  const { baseFetch: _unused, ...transportOptions } = options
  const transport = new Transport(url, { ...transportOptions, fetch: wired.authFetch })
  // Transports of 1.15.0 and later (and 2.x) keep the option as `_fetch`, even when
  // undefined; older ones never heard of it.
  if (Object.hasOwn(transport, '_fetch')) return transport
  return legacyTransport(Transport, url, transportOptions, wired)
}

/**
 * The transport of any MCP server a host lists: one on a trusted origin gets the JWT
 * (createAuthTransport, never OAuth); any other gets the host's own OAuth provider, if
 * any, exactly as `new Transport(url, { authProvider })` would, and never our token.
 */
function createMcpTransport(client, Transport, serverUrl, options = {}) {
  if (typeof client?.isTrustedUrl !== 'function') {
    throw configError('createMcpTransport() takes the AuthClient that decides which servers are yours')
  }
  requireTransportClass('createMcpTransport', Transport)
  const { oauthProvider, ...transportOptions } = options
  if (client.isTrustedUrl(String(serverUrl))) return createAuthTransport(client, Transport, serverUrl, transportOptions)
  return new Transport(new URL(String(serverUrl)), { ...transportOptions, authProvider: oauthProvider })
}

function legacyTransport(Transport, url, options, { authFetch, provider, cache, bearerToken }) {
  const headers = liveHeaders(options.requestInit?.headers, cache)
  const transport = new Transport(url, {
    ...options,
    requestInit: { ...options.requestInit, headers },
    // The SSE stream: the caller's headers too, as from 1.15.0 (before, the SDK opens it
    // with its own headers only when it is given this fetch).
    eventSourceInit: {
      ...options.eventSourceInit,
      fetch: (input, init) => authFetch(input, { ...init, headers: { ...headers, ...Object.fromEntries(new Headers(init?.headers)) } }),
    },
  })
  const send = transport.send.bind(transport)
  transport.send = async (message, sendOptions) => {
    // Refreshes first when the token has expired (or fails E_LOGIN_REQUIRED signed out),
    // so the live headers have a token to give.
    const token = await bearerToken()
    try {
      return await send(message, sendOptions)
    } catch (error) {
      if (!isUnauthorized(error)) throw error
      await provider.onUnauthorized(token)
      if ((await bearerToken()) === token) throw error
      return send(message, sendOptions)
    }
  }
  return transport
}

/**
 * The `AuthProvider` of @modelcontextprotocol/client 2.x, plus `tokens()`. Deliberately
 * without `clientInformation`: client 2.x takes an object with `tokens` and
 * `clientInformation` for an OAuth provider and answers a 401 with OAuth discovery.
 */
function createMcpAuthProvider(client, { serverUrl } = {}) {
  const provider = client.mcpProvider(String(serverUrl))
  // The 2.x transports call token() right before each request and do not say which token
  // a 401 answered. The last one handed out is the best evidence, and it lets the native
  // side skip the refresh when another request has already replaced that token.
  let lastToken
  const cache = tokenCache(provider, {
    onSlowToken: (token) => {
      lastToken = token
    },
  })
  return {
    tokens: cache.tokens,
    token() {
      const ready = cache.ready()
      if (ready !== undefined) {
        lastToken = ready
        return cache.readyToken
      }
      return cache.slowToken()
    },
    onUnauthorized: () => provider.onUnauthorized(lastToken),
    invalidateCredentials: (scope) => provider.invalidateCredentials(scope),
  }
}

// Loaded on first use, as above: most hosts have no stdio server that needs the token.
function createStdioAuthTransport(client, StdioClientTransport, options) {
  return require('./mcp-stdio').createStdioAuthTransport(client, StdioClientTransport, options)
}

module.exports = {
  createAuthFetch,
  createMcpAuthProvider,
  createAuthTransport,
  createMcpTransport,
  createStdioAuthTransport,
  FETCH_OPTION_SINCE,
}
