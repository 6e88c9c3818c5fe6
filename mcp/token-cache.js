'use strict'
// The token an MCP request gets, from the one native owner of the session (McpAuthProvider).

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
  const slowTokens = sharedCall(() => provider.tokens())
  const slowToken = sharedCall(() => provider.token(), onSlowToken)

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

/** `call()`, started once and shared by every caller until it settles; `onValue` hears each value. */
function sharedCall(call, onValue) {
  let pending
  return () => {
    pending ??= call().then(
      (value) => {
        pending = undefined
        onValue?.(value)
        return value
      },
      (error) => {
        pending = undefined
        throw error
      }
    )
    return pending
  }
}

module.exports = { tokenCache }
