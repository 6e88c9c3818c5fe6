'use strict'
// symbiote-auth/mcp: puts the AuthClient's JWT on MCP requests. Every decision (which
// origins are trusted, whether the token is still good, one shared refresh) is made
// natively; the JS only attaches the token, follows redirects without leaking it, and
// reports a 401 back. This entry picks the wiring for each SDK line; mcp/ holds the parts:
// token-cache.js (the per-request token), auth-fetch.js (the redirect-safe fetch),
// legacy-sdk.js (SDK lines before 1.15.0), stdio.js (stdio servers, loaded on first use).

// The parts are loaded when first used, not when this entry is required: each is a module
// load of its own, and requiring symbiote-auth/mcp stays cheap (bench row 4b).
const configError = (message) => require('./mcp/auth-error').configError(message)
const authFetchFor = (client, options) => require('./mcp/auth-fetch').authFetchFor(client, options)

// The first @modelcontextprotocol/sdk whose transports take a `fetch` option; older ones
// ignore it without a word, and their requests go out without the token.
const FETCH_OPTION_SINCE = '1.15.0'

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
  // Loaded here, not at the top, as the parts are.
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

// ----- one call for every SDK line -------------------------------------------------------

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
  return require('./mcp/legacy-sdk').legacyTransport(Transport, url, transportOptions, wired)
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
  const cache = require('./mcp/token-cache').tokenCache(provider, {
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
  return require('./mcp/stdio').createStdioAuthTransport(client, StdioClientTransport, options)
}

module.exports = {
  createAuthFetch,
  createMcpAuthProvider,
  createAuthTransport,
  createMcpTransport,
  createStdioAuthTransport,
  FETCH_OPTION_SINCE,
}
