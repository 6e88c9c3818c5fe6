'use strict'
// The fetch that puts the JWT on requests to trusted origins only: it follows redirects
// itself so the token never goes to another origin, and answers a 401 with one shared
// refresh and one retry.

const { authError } = require('./auth-error')
const { tokenCache } = require('./token-cache')

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
// What fetch itself allows.
const MAX_REDIRECTS = 20
// Headers that describe a body; they go with it when a redirect turns the request into a GET.
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length']

function isStream(body) {
  return (
    body != null && typeof body === 'object' && (typeof body.getReader === 'function' || typeof body[Symbol.asyncIterator] === 'function')
  )
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

module.exports = { authFetchFor }
