'use strict'
// symbiote-auth/errors: what a failure of this library is, for code on either side of IPC.
// It requires nothing (no native addon, no Node built-in), so a renderer bundle or a
// preload can load it as well as the main process.

// A code is `E_` and capitals: the native ones come from `ErrorCode` in src/errors.rs, the
// JS glue adds `E_FORBIDDEN_SENDER` (electron.js) and `E_NATIVE_BINDING` (index.js). The
// guard checks the shape, not a list, so it never lags behind the codes.
const CODE_SHAPE = /^E_[A-Z][A-Z0-9_]*$/
const CODE_PREFIX = /^(E_[A-Z][A-Z0-9_]*): /

// What to tell the person using the app, by code: short, no developer words. The library's
// own messages are for developers and logs (they name options and methods).
const USER_MESSAGES = Object.freeze({
  E_CONFIG: 'Sign-in is not set up correctly in this app.',
  E_INSECURE_URL: 'The server address is not secure. It must start with https://.',
  E_UNTRUSTED_ORIGIN: 'This server is not trusted with your sign-in.',
  E_INVALID_CREDENTIALS: 'The email or password is not correct.',
  E_CSRF: 'The server refused the sign-in request. Please try again.',
  E_LOGIN_REQUIRED: 'Please sign in.',
  E_NETWORK: 'The server cannot be reached. Check your internet connection.',
  E_TIMEOUT: 'The server took too long to answer. Please try again.',
  E_SERVER: 'The server has a problem right now. Please try again later.',
  E_BAD_RESPONSE: 'The server sent an answer this app does not understand.',
  E_TOKEN_INVALID: 'Your sign-in could not be verified. Please sign in again.',
  E_STORAGE: 'Your sign-in cannot be saved on this computer.',
  E_INVALID_ARGUMENT: 'The app made a request that is not valid.',
  E_ABORTED: 'Cancelled.',
  E_FORBIDDEN_SENDER: 'This window is not allowed to use sign-in.',
  E_NATIVE_BINDING: 'A part of this app that sign-in needs is missing. Please reinstall the app.',
  E_INTERNAL: 'Something went wrong. Please try again.',
})
const UNKNOWN_MESSAGE = 'Something went wrong. Please try again.'

/**
 * The code of a failure: its `code` property, or else the code its message begins with
 * (all that survives Electron's contextBridge, which copies only an error's message).
 */
function authErrorCode(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined
  if (typeof value.code === 'string' && CODE_SHAPE.test(value.code)) return value.code
  const prefix = typeof value.message === 'string' ? CODE_PREFIX.exec(value.message) : null
  return prefix ? prefix[1] : undefined
}

/** Whether `value` carries a code and a message: an AuthError, a native rejection, or a plain `{ code, message }` that crossed IPC. */
function isAuthError(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.code === 'string' &&
    CODE_SHAPE.test(value.code) &&
    typeof value.message === 'string'
  )
}

class AuthError extends Error {
  /**
   * `message` gets the `"E_CODE: "` prefix every message of the library has, once.
   * `options`: `cause`, and `retryAfterMs` when the API sent `Retry-After`.
   */
  constructor(code, message, options = {}) {
    const text = String(message)
    super(text.startsWith(`${code}: `) ? text : `${code}: ${text}`, 'cause' in options ? { cause: options.cause } : undefined)
    this.code = code
    if (typeof options.retryAfterMs === 'number') this.retryAfterMs = options.retryAfterMs
  }

  /**
   * The native addon rejects with plain `Error`s that carry a `code`, and objects crossing
   * IPC lose their prototype: both count as AuthErrors, so `instanceof` works on every
   * failure of the library, wherever it was made.
   */
  static [Symbol.hasInstance](value) {
    return value instanceof Error && isAuthError(value)
  }
}
Object.defineProperty(AuthError.prototype, 'name', { value: 'AuthError', writable: true, configurable: true })

/** Words for the person using the app, for a failure or a code; never the library's developer text. */
function userMessage(failure) {
  const code = typeof failure === 'string' ? failure : authErrorCode(failure)
  const words = Object.hasOwn(USER_MESSAGES, code ?? '') ? USER_MESSAGES[code] : UNKNOWN_MESSAGE
  const retryAfterMs = typeof failure === 'object' && failure !== null ? failure.retryAfterMs : undefined
  if (code === 'E_SERVER' && typeof retryAfterMs === 'number' && retryAfterMs > 0) {
    const seconds = Math.ceil(retryAfterMs / 1000)
    return `The server is busy. Please try again in ${seconds < 120 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`}.`
  }
  return words
}

module.exports = { AuthError, isAuthError, authErrorCode, userMessage, USER_MESSAGES }
