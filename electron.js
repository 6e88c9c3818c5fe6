'use strict'
// symbiote-auth/electron: IPC glue between an AuthClient in Electron's main process and
// its renderers. `registerAuthIpc` runs in the main process, `exposeAuthApi` in a preload.
//
// This file and its parts in electron/ require nothing but errors.js (which requires
// nothing) on purpose: the preload half runs in renderers, which must never load the native
// addon, and a bundler can inline them all into a sandboxed preload as they are.
//
// Replies cross IPC as `{ ok: true, value }` or `{ ok: false, error: { code, message } }`
// because Electron keeps only the message of an error thrown by a handler; the preload
// turns a failure back into an Error with `.code`.

const { AuthError, isAuthError, authErrorCode, userMessage } = require('./errors.js')
const { codedError, configError } = require('./electron/coded-error')
const {
  expectNoArguments,
  parseCredentials,
  INVALID_ARGUMENT,
  MAX_EMAIL_LENGTH,
  MAX_PASSWORD_LENGTH,
} = require('./electron/renderer-input')
const { parseAllowedOrigins, senderPolicy } = require('./electron/sender-policy')

const DEFAULT_CHANNEL_PREFIX = 'symbiote-auth'
const DEFAULT_API_KEY = 'symbioteAuth'
// Pages loaded from the app's own files. An app with its own scheme (app://) or a dev
// server lists those origins in `allowedOrigins`.
const DEFAULT_ALLOWED_ORIGINS = Object.freeze(['file://'])

const MAX_CHANNEL_PREFIX_LENGTH = 100
// Distinct sender refusals logged per registration (a page cannot flood the log).
const MAX_LOGGED_REFUSALS = 20

const FORBIDDEN_SENDER = 'E_FORBIDDEN_SENDER'
const INTERNAL = 'E_INTERNAL'

// Every field of AuthStatus (index.d.ts); electron.test.js checks this list against the native status.
const STATUS_FIELDS = ['state', 'authenticated', 'user', 'expiresAt', 'lastError', 'persistent', 'clockSkewMs']

function channelsFor(prefix) {
  return {
    login: `${prefix}:login`,
    logout: `${prefix}:logout`,
    status: `${prefix}:status`,
    restore: `${prefix}:restore`,
    refresh: `${prefix}:refresh`,
    token: `${prefix}:token`,
    subscribe: `${prefix}:subscribe`,
    unsubscribe: `${prefix}:unsubscribe`,
    statusChanged: `${prefix}:status-changed`,
  }
}

function checkChannelPrefix(prefix) {
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > MAX_CHANNEL_PREFIX_LENGTH) {
    throw configError(`channelPrefix must be a non-empty string of at most ${MAX_CHANNEL_PREFIX_LENGTH} characters`)
  }
}

function checkMethods(value, name, methods) {
  const missing = methods.filter((method) => typeof value?.[method] !== 'function')
  if (missing.length > 0) throw configError(`${name} has no ${missing.join(', ')}(): pass ${name} itself`)
}

// Only the contract's fields reach a renderer, whatever the native status grows to hold.
function publicStatus(status) {
  return Object.fromEntries(STATUS_FIELDS.map((field) => [field, status[field] ?? null]))
}

function describeError(error) {
  if (!isAuthError(error)) return { code: INTERNAL, message: `${INTERNAL}: unexpected failure in the main process` }
  const { code, message, retryAfterMs } = error
  return typeof retryAfterMs === 'number' ? { code, message, retryAfterMs } : { code, message }
}

// ----- main process ----------------------------------------------------------------------

// ipcMain → (channel prefix → dispose of the registration using it).
const registrations = new WeakMap()

/**
 * Registers the auth channels on `ipcMain` and pushes every status change to subscribed
 * renderers and to `getWindows()`. Registering a prefix again disposes the earlier
 * registration of that prefix first. Returns `dispose()`.
 */
function registerAuthIpc(ipcMain, client, options = {}) {
  const { channelPrefix = DEFAULT_CHANNEL_PREFIX, exposeToken = false, getWindows, allowSender, allowedOrigins } = options
  checkMethods(ipcMain, 'ipcMain', ['handle', 'removeHandler', 'on', 'removeListener'])
  checkMethods(client, 'client', ['login', 'logout', 'status', 'restore', 'refreshJwtToken', 'onStatusChange', 'getJwtToken'])
  checkChannelPrefix(channelPrefix)
  if (typeof exposeToken !== 'boolean') throw configError('exposeToken must be a boolean')
  for (const [name, value] of Object.entries({ getWindows, allowSender })) {
    if (value !== undefined && typeof value !== 'function') throw configError(`${name} must be a function when given`)
  }
  if (exposeToken && allowSender === undefined && allowedOrigins === undefined) {
    throw configError('exposeToken: true hands the JWT to renderers: it needs an explicit sender policy (allowedOrigins or allowSender)')
  }
  // allowSender alone takes over the origin check; allowedOrigins (or its default) and
  // allowSender together must both agree.
  const origins = allowedOrigins !== undefined || !allowSender ? parseAllowedOrigins(allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS) : null
  const refusal = senderPolicy(origins, allowSender)
  const permitted = (event) => refusal(event) === null

  const channels = channelsFor(channelPrefix)
  const byPrefix = registrations.get(ipcMain) ?? new Map()
  registrations.set(ipcMain, byPrefix)
  byPrefix.get(channelPrefix)?.()

  // Each distinct refusal is logged once in the main process, where the developer looks
  // when every call of a page fails (a dev server missing from allowedOrigins).
  const logged = new Set()
  const checkSender = (event) => {
    const why = refusal(event)
    if (why === null) return
    if (!logged.has(why) && logged.size < MAX_LOGGED_REFUSALS) {
      logged.add(why)
      console.warn(`symbiote-auth/electron: ${FORBIDDEN_SENDER}: ${why}`)
    }
    throw codedError(FORBIDDEN_SENDER, why)
  }
  // What a push is checked with: the target window's main frame as it is now.
  const mayReceive = (webContents) => !webContents.isDestroyed() && permitted({ sender: webContents, senderFrame: webContents.mainFrame })

  const operations = {
    [channels.login]: async (args) => publicStatus(await client.login(parseCredentials(args))),
    [channels.logout]: async (args) => {
      expectNoArguments('logout', args)
      await client.logout()
    },
    [channels.status]: async (args) => {
      expectNoArguments('status', args)
      return publicStatus(client.status())
    },
    [channels.restore]: async (args) => {
      expectNoArguments('restore', args)
      return publicStatus(await client.restore())
    },
    // A "refresh now" button: the new token stays here, the page gets the status.
    [channels.refresh]: async (args) => {
      expectNoArguments('refresh', args)
      await client.refreshJwtToken()
      return publicStatus(client.status())
    },
  }
  if (exposeToken) {
    operations[channels.token] = async (args) => {
      expectNoArguments('getJwtToken', args)
      return client.getJwtToken()
    }
  }

  const handled = []
  try {
    for (const [channel, operation] of Object.entries(operations)) {
      ipcMain.handle(channel, async (event, ...args) => {
        try {
          checkSender(event)
          return { ok: true, value: await operation(args) }
        } catch (error) {
          return { ok: false, error: describeError(error) }
        }
      })
      handled.push(channel)
    }
  } catch (error) {
    // A channel taken by other code: leave no half registration behind.
    for (const channel of handled) ipcMain.removeHandler(channel)
    throw error
  }

  // Renderers that asked for status pushes, each with its cleanup: a subscription ends
  // when its window is destroyed or its page navigates (the next page subscribes anew).
  const subscribers = new Map()
  const forget = (webContents) => {
    const cleanup = subscribers.get(webContents)
    if (!cleanup) return
    webContents.removeListener('destroyed', cleanup)
    webContents.removeListener('did-navigate', cleanup)
    subscribers.delete(webContents)
  }
  const onSubscribe = (event) => {
    const webContents = event.sender
    try {
      checkSender(event)
    } catch {
      return // `send` has no reply; a refused renderer simply gets no pushes.
    }
    if (subscribers.has(webContents) || webContents.isDestroyed()) return
    const cleanup = () => forget(webContents)
    webContents.once('destroyed', cleanup)
    webContents.once('did-navigate', cleanup)
    subscribers.set(webContents, cleanup)
  }
  const onUnsubscribe = (event) => forget(event.sender)
  ipcMain.on(channels.subscribe, onSubscribe)
  ipcMain.on(channels.unsubscribe, onUnsubscribe)

  const pushTargets = () => {
    const targets = new Set(subscribers.keys())
    for (const item of getWindows?.() ?? []) {
      // getWindows may list BrowserWindows (BrowserWindow.getAllWindows) or webContents.
      if (item.isDestroyed?.()) continue
      targets.add(item.webContents ?? item)
    }
    return targets
  }
  const stopWatchingStatus = client.onStatusChange((status) => {
    const pushed = publicStatus(status)
    for (const webContents of pushTargets()) {
      if (!mayReceive(webContents)) continue
      // One window failing to take the message must not keep it from the others.
      try {
        webContents.send(channels.statusChanged, pushed)
      } catch {}
    }
  })

  let disposed = false
  function dispose() {
    if (disposed) return
    disposed = true
    for (const channel of handled) ipcMain.removeHandler(channel)
    ipcMain.removeListener(channels.subscribe, onSubscribe)
    ipcMain.removeListener(channels.unsubscribe, onUnsubscribe)
    stopWatchingStatus()
    for (const webContents of [...subscribers.keys()]) forget(webContents)
    if (byPrefix.get(channelPrefix) === dispose) byPrefix.delete(channelPrefix)
  }
  byPrefix.set(channelPrefix, dispose)
  return dispose
}

// ----- preload ---------------------------------------------------------------------------

// A failed reply becomes an AuthError, its message starting with the code (once).
function unwrapReply(reply) {
  if (reply?.ok === true) return reply.value
  const { code, message, retryAfterMs } = isAuthError(reply?.error)
    ? reply.error
    : { code: INTERNAL, message: 'malformed reply from the main process' }
  throw codedError(code, message, { retryAfterMs })
}

// `reportError` is the page's standard route to its 'error' event and the console; where
// it is missing, an uncaught rethrow takes the same route.
function reportListenerError(error) {
  if (typeof globalThis.reportError === 'function') {
    globalThis.reportError(error)
  } else {
    queueMicrotask(() => {
      throw error
    })
  }
}

/**
 * Exposes `window[key]` = `{ login, logout, status, restore, refresh, onStatusChange }` (plus
 * `getJwtToken` with `exposeToken: true`) through `contextBridge`.
 */
function exposeAuthApi(contextBridge, ipcRenderer, options = {}) {
  const { key = DEFAULT_API_KEY, channelPrefix = DEFAULT_CHANNEL_PREFIX, exposeToken = false } = options
  checkMethods(contextBridge, 'contextBridge', ['exposeInMainWorld'])
  checkMethods(ipcRenderer, 'ipcRenderer', ['invoke', 'send', 'on', 'removeListener'])
  checkChannelPrefix(channelPrefix)
  if (typeof key !== 'string' || key.length === 0) throw configError('key must be a non-empty string')

  const channels = channelsFor(channelPrefix)
  const invoke = async (channel, ...args) => unwrapReply(await ipcRenderer.invoke(channel, ...args))

  // One IPC listener and one main-process subscription serve every page listener, and
  // both go away with the last unsubscribe.
  const listeners = new Set()
  const dispatch = (_event, status) => {
    for (const listener of [...listeners]) {
      try {
        listener(status)
      } catch (error) {
        // As EventTarget does: report it to the page's error handling, notify the others.
        reportListenerError(error)
      }
    }
  }
  function onStatusChange(listener) {
    if (typeof listener !== 'function') throw new TypeError('onStatusChange takes a function')
    // A wrapper per call, so subscribing the same function twice needs two unsubscribes.
    const subscription = (status) => listener(status)
    listeners.add(subscription)
    if (listeners.size === 1) {
      ipcRenderer.on(channels.statusChanged, dispatch)
      ipcRenderer.send(channels.subscribe)
    }
    return function unsubscribe() {
      if (!listeners.delete(subscription) || listeners.size > 0) return
      ipcRenderer.removeListener(channels.statusChanged, dispatch)
      ipcRenderer.send(channels.unsubscribe)
    }
  }

  const api = {
    login: (credentials) => invoke(channels.login, credentials),
    logout: () => invoke(channels.logout),
    status: () => invoke(channels.status),
    restore: () => invoke(channels.restore),
    refresh: () => invoke(channels.refresh),
    onStatusChange,
    // For the page, which has no require: only an error's message crosses contextBridge,
    // and these read the code from it.
    errorCode: (error) => authErrorCode(error),
    userMessage: (error) => userMessage(error),
  }
  if (exposeToken) api.getJwtToken = () => invoke(channels.token)
  contextBridge.exposeInMainWorld(key, api)
}

const ERROR_CODES = Object.freeze({ INVALID_ARGUMENT, FORBIDDEN_SENDER })
const LIMITS = Object.freeze({ MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH })

// Shorthand properties only: Node's CommonJS named-export detection (for `import { … }`
// from ESM) reads this literal and stops at the first property that is not one.
module.exports = {
  registerAuthIpc,
  exposeAuthApi,
  channelsFor,
  ERROR_CODES,
  DEFAULT_ALLOWED_ORIGINS,
  LIMITS,
  AuthError,
  isAuthError,
  authErrorCode,
  userMessage,
}
