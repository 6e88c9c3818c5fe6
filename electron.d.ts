// Types for symbiote-auth/electron. Electron's own types are not required: the
// parameters are the parts of ipcMain, ipcRenderer, contextBridge and webContents used.
// biome-ignore-all lint/suspicious/noExplicitAny: Electron's own ipcMain and ipcRenderer must be assignable to these interfaces, and their listener parameters are typed; only `any` accepts them all

import type { AuthErrorCode, AuthStatus, LoginCredentials } from './index'

export { AuthError, authErrorCode, isAuthError, userMessage } from './errors'

/** The part of Electron's `WebFrameMain` the sender policy reads. */
export interface WebFrameLike {
  url: string
  origin?: string
  /** `null` for a window's main frame. */
  parent?: unknown
}

/** The part of Electron's `WebContents` that status pushes and the sender policy use. */
export interface WebContentsLike {
  send(channel: string, ...args: unknown[]): void
  isDestroyed(): boolean
  /** The window's main frame; pushes go only to windows whose main frame the policy admits. */
  mainFrame?: WebFrameLike
  once(event: 'destroyed' | 'did-navigate', listener: () => void): unknown
  removeListener(event: 'destroyed' | 'did-navigate', listener: () => void): unknown
}

/** The event Electron passes to `ipcMain.handle` / `ipcMain.on` listeners. */
export interface IpcMainEventLike {
  sender: WebContentsLike
  /** `null` once the frame navigated away or was destroyed: then the call is refused. */
  senderFrame?: WebFrameLike | null
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: any, ...args: any[]) => unknown): void
  removeHandler(channel: string): void
  on(channel: string, listener: (event: any, ...args: any[]) => void): unknown
  removeListener(channel: string, listener: (...args: any[]) => void): unknown
}

/** The `AuthClient` methods the IPC handlers call. */
export interface AuthClientLike {
  login(credentials: LoginCredentials): Promise<AuthStatus>
  logout(): Promise<void>
  restore(): Promise<AuthStatus>
  status(): AuthStatus
  refreshJwtToken(): Promise<string>
  getJwtToken(): Promise<string>
  onStatusChange(callback: (status: AuthStatus) => void): () => void
}

export interface RegisterAuthIpcOptions {
  /** Channels are `<prefix>:login`, `:logout`, `:status`, `:restore`, `:refresh` (and `:token`). Default `"symbiote-auth"`. */
  channelPrefix?: string
  /**
   * Adds the `<prefix>:token` channel, which hands the raw JWT to renderers the sender policy
   * admits. Default `false`; `true` needs an explicit `allowedOrigins` or `allowSender`.
   */
  exposeToken?: boolean
  /**
   * Extra push targets besides the renderers that called `onStatusChange`: BrowserWindows
   * or webContents, e.g. `() => BrowserWindow.getAllWindows()`. Called on every change.
   */
  getWindows?: () => Iterable<{ webContents: WebContentsLike; isDestroyed?(): boolean } | WebContentsLike>
  /**
   * Origins whose pages may use the auth API (`"file://"`, `"app://bundle"`,
   * `"http://localhost:5173"`). Default `["file://"]`, unless `allowSender` is given alone,
   * which then decides the origin itself. Only a window's main frame may ever call or get
   * pushes; iframes are refused.
   */
  allowedOrigins?: string[]
  /**
   * Your own check, on top of the main-frame rule (and `allowedOrigins` when given): called
   * with the IPC event for every call, and with `{ sender, senderFrame }` (the window's main
   * frame as it is now) before every status push. `false` rejects the call with
   * `E_FORBIDDEN_SENDER` and skips the push.
   */
  allowSender?: (event: IpcMainEventLike) => boolean
}

/**
 * Main process: registers the auth channels and pushes every status change. Registering
 * the same prefix on the same `ipcMain` again disposes the earlier registration first.
 * Returns `dispose()`, which removes the handlers, listeners and status subscription.
 * Throws `E_CONFIG` for unusable arguments.
 */
export function registerAuthIpc(ipcMain: IpcMainLike, client: AuthClientLike, options?: RegisterAuthIpcOptions): () => void

export interface ContextBridgeLike {
  exposeInMainWorld(apiKey: string, api: unknown): void
}

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<any>
  send(channel: string, ...args: unknown[]): void
  on(channel: string, listener: (event: unknown, ...args: any[]) => void): unknown
  removeListener(channel: string, listener: (...args: any[]) => void): unknown
}

export interface ExposeAuthApiOptions {
  /** Property of `window`. Default `"symbioteAuth"`. */
  key?: string
  /** Must match the main process's `channelPrefix`. Default `"symbiote-auth"`. */
  channelPrefix?: string
  /** Adds `getJwtToken()`; the main process must pass `exposeToken: true` too. Default `false`. */
  exposeToken?: boolean
}

/**
 * What the page sees as `window.symbioteAuth`. Rejections are Errors whose message
 * starts with the error code (`"E_INVALID_CREDENTIALS: …"`); `.code` is set as well where
 * the error does not cross contextBridge (which keeps only the message).
 */
export interface SymbioteAuthApi {
  login(credentials: LoginCredentials): Promise<AuthStatus>
  logout(): Promise<void>
  status(): Promise<AuthStatus>
  restore(): Promise<AuthStatus>
  /**
   * Forces a refresh in the main process (single flight, as `refreshJwtToken()`) and resolves
   * to the status after it; the token itself never crosses IPC. Rejects with the refresh's
   * error (`E_NETWORK`, `E_LOGIN_REQUIRED`, …), the current token kept while it is valid.
   */
  refresh(): Promise<AuthStatus>
  /** Returns the unsubscribe function. Subscribe before calling `status()` to miss no change. */
  onStatusChange(listener: (status: AuthStatus) => void): () => void
  /** Only with `exposeToken: true` on both sides. */
  getJwtToken?(): Promise<string>
  /** The code of a rejection of this API: what `authErrorCode()` reads, from the message where contextBridge dropped `.code`. */
  errorCode(error: unknown): AuthErrorCode | undefined
  /** Words for the person using the app, for a rejection or a code (`userMessage()`; the table is in docs/API.md). */
  userMessage(error: unknown): string
}

/** Preload: exposes `window[key]` through `contextBridge`. Throws `E_CONFIG` for unusable arguments. */
export function exposeAuthApi(contextBridge: ContextBridgeLike, ipcRenderer: IpcRendererLike, options?: ExposeAuthApiOptions): void

export interface AuthChannels {
  login: string
  logout: string
  status: string
  restore: string
  refresh: string
  token: string
  subscribe: string
  unsubscribe: string
  statusChanged: string
}

/** The channel names used for a prefix. */
export function channelsFor(prefix: string): AuthChannels

export const ERROR_CODES: {
  /** A renderer sent something that is not what the channel takes. */
  readonly INVALID_ARGUMENT: 'E_INVALID_ARGUMENT'
  /** The sender policy refused the frame (not a main frame, origin not allowed, or `allowSender`). */
  readonly FORBIDDEN_SENDER: 'E_FORBIDDEN_SENDER'
}

export const LIMITS: {
  readonly MAX_EMAIL_LENGTH: number
  readonly MAX_PASSWORD_LENGTH: number
}

/** `["file://"]`: who may use the API when neither `allowedOrigins` nor `allowSender` is given. */
export const DEFAULT_ALLOWED_ORIGINS: readonly string[]
