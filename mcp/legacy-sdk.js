'use strict'
// The wiring of the SDK lines before 1.15.0, whose transports have no `fetch` option.

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

module.exports = { legacyTransport }
