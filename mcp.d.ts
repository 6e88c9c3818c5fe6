// symbiote-auth/mcp: the AuthClient's JWT on MCP requests, for @modelcontextprotocol/sdk 1.x
// (createAuthFetch) and @modelcontextprotocol/client 2.x (createMcpAuthProvider).

// biome-ignore-all lint/suspicious/noExplicitAny: the SDK transports' message and option types differ per SDK line; each line's own classes must be accepted

import type { AuthClient, OAuthTokens } from './index'

/** The `fetch` signature the MCP SDK transports accept in their `fetch` option. */
export type AuthFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface AuthFetchOptions {
  /** The MCP server; its origin must be in `trustedOrigins`. */
  serverUrl: string | URL
  /** What actually sends the requests (for example Electron's `net.fetch`). Default: global `fetch`. */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
  /**
   * The `@modelcontextprotocol/sdk` version the transports come from. Default: the one this
   * process resolves. Before 1.15.0 (`FETCH_OPTION_SINCE`) `createAuthFetch` throws
   * `E_CONFIG`: those transports ignore the `fetch` option.
   */
  sdkVersion?: string
}

/** `"1.15.0"`: the first `@modelcontextprotocol/sdk` whose transports take a `fetch` option. */
export const FETCH_OPTION_SINCE: string

/**
 * A `fetch` for the transports' `fetch` option (`StreamableHTTPClientTransport` and
 * `SSEClientTransport`, SDK 1.x and 2.x). It adds `Authorization: Bearer <JWT>` to every
 * request whose origin is in `trustedOrigins`, and to no other; follows redirects itself
 * and drops the header at the first hop to an origin that is not trusted (a hop to
 * `http://` off loopback fails with `E_INSECURE_URL`); on a 401 to a request that carried
 * the token, refreshes once (shared with every other caller) and retries that request
 * once, returning a second 401 as it is. Signed out, requests to trusted origins reject
 * with `E_LOGIN_REQUIRED` and nothing is sent.
 *
 * Throws `E_UNTRUSTED_ORIGIN` / `E_INSECURE_URL` at once when `serverUrl` may not have
 * the token, and `E_CONFIG` when the SDK is older than 1.15.0 (use `createAuthTransport`).
 */
export function createAuthFetch(client: AuthClient, options: AuthFetchOptions): AuthFetch

/** The part of an MCP SDK client transport `createAuthTransport` relies on. */
export interface McpClientTransport {
  start(): Promise<void>
  send(message: any, options?: any): Promise<void>
  close(): Promise<void>
}

/**
 * Options of the transport, as its constructor takes them, minus what this library sets:
 * `fetch`, `authProvider` and `eventSourceInit.fetch` are refused with `E_CONFIG`.
 */
export interface AuthTransportOptions {
  requestInit?: RequestInit
  eventSourceInit?: Record<string, unknown>
  /** What sends the requests (Electron's `net.fetch`, say); SDK 1.15.0 and later only. */
  baseFetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
  [option: string]: unknown
}

/**
 * `new Transport(serverUrl, options)` wired to carry the JWT on every request (POST, GET
 * stream, DELETE, SSE stream), whichever SDK line the class comes from: the `fetch` option
 * from SDK 1.15.0 and on client 2.x (a 401 gets one refresh and one retry); before 1.15.0,
 * live `requestInit.headers`, `eventSourceInit.fetch` for the SSE stream, and `send()`
 * retrying once after a 401 with a refreshed token. Never an `authProvider`, so a 401
 * never starts OAuth discovery. Throws `E_UNTRUSTED_ORIGIN` / `E_INSECURE_URL` for a
 * server that may not have the token.
 */
export function createAuthTransport<C extends new (url: URL, options?: any) => McpClientTransport>(
  client: AuthClient,
  Transport: C,
  serverUrl: string | URL,
  options?: AuthTransportOptions
): InstanceType<C>

/** Options of `createMcpTransport`: the transport's own, plus the host's OAuth provider. */
export interface McpTransportOptions extends AuthTransportOptions {
  /**
   * The host's OAuth client provider (the SDK's `OAuthClientProvider`), given as
   * `authProvider` to servers outside `trustedOrigins` only: they keep their OAuth flow.
   * Servers on a trusted origin get the JWT and never an OAuth request.
   */
  oauthProvider?: unknown
}

/**
 * The transport of any MCP server a host lists, chosen by origin: a server on a trusted
 * origin gets `createAuthTransport(client, Transport, serverUrl, options)` (the JWT on every
 * request, never OAuth); any other server gets `new Transport(serverUrl, { ...options,
 * authProvider: oauthProvider })`, exactly what it had without this library, and never the
 * JWT. Throws `E_CONFIG` without an `AuthClient` or a transport class.
 */
export function createMcpTransport<C extends new (url: URL, options?: any) => McpClientTransport>(
  client: AuthClient,
  Transport: C,
  serverUrl: string | URL,
  options?: McpTransportOptions
): InstanceType<C>

/** The parameters of the SDK's `StdioClientTransport`, plus where the token goes. */
export interface StdioAuthTransportOptions {
  command: string
  args?: string[]
  /**
   * The child's environment, as `StdioClientTransport` takes it (SDK 1.11.4 uses it whole:
   * spread `getDefaultEnvironment()` in). Variables named in `tokenEnv` are removed from it.
   */
  env?: Record<string, string>
  cwd?: string
  stderr?: unknown
  /** Where the child sends the token (e.g. `REMOTE_MCP_URL`); its origin must be in `trustedOrigins`. */
  serverUrl: string | URL
  /**
   * The variables that carry the token, each with one `{token}`:
   * `{ HTTP_HEADER_AUTHORIZATION: 'Bearer {token}' }`. Signed out, none is set.
   */
  tokenEnv: Record<string, string>
  /**
   * How long a restarted child may take to answer the replayed `initialize` before it is
   * killed and the queued requests reject with `E_TIMEOUT` (ms, default 10000).
   */
  replayTimeoutMs?: number
}

/**
 * A transport for the SDK's `StdioClientTransport` whose child holds the JWT in its
 * environment only, and is started again with the new token after every refresh (the
 * client refreshes ahead of expiry) and without one on sign-out. A new token's replacement
 * waits until no request is in flight on the old child; a sign-out stops it at once (SIGKILL
 * 2 s after SIGTERM). Requests sent meanwhile are queued and go to the new child after the
 * MCP handshake is replayed to it, so whatever answers them belongs to the newest state.
 */
export function createStdioAuthTransport(
  client: AuthClient,
  StdioClientTransport: new (params: any) => McpClientTransport,
  options: StdioAuthTransportOptions
): McpClientTransport & {
  onmessage?: (message: any) => void
  onerror?: (error: Error) => void
  onclose?: () => void
  /**
   * With `stderr: 'pipe'` (or `'overlapped'`): one stream, there from construction as the
   * SDK transport's is, carrying the stderr of every child (replacements included) and
   * ending when the transport does; `null` otherwise.
   */
  readonly stderr: { on(event: string, listener: (...args: any[]) => void): unknown } | null
  /** The running child's process id, or null. */
  readonly pid: number | null
}

export interface McpAuthProviderOptions {
  /** The MCP server; its origin must be in `trustedOrigins`. */
  serverUrl: string | URL
}

/**
 * The `AuthProvider` of `@modelcontextprotocol/client` 2.x (`token`, `onUnauthorized`),
 * plus `tokens()` and `invalidateCredentials()`. It has no `clientInformation` on purpose:
 * client 2.x would take it for an OAuth provider and answer a 401 with OAuth discovery.
 */
export interface McpBearerAuthProvider {
  /**
   * `{access_token, token_type: 'Bearer', expires_in}`; `undefined` only when signed out.
   * With a usable token this answers at once (one lock-free native check; see
   * docs/PERFORMANCE.md) with an object shared by every caller until the token changes: it
   * is frozen, and its `expires_in` is a getter that counts down at every read.
   */
  tokens(): Promise<OAuthTokens | undefined>
  /** The current JWT, refreshed first when needed; `undefined` only when signed out. */
  token(): Promise<string | undefined>
  /**
   * The server answered 401: replace the token last handed out, once, shared with every
   * other caller. Rejects with the reason (e.g. `E_LOGIN_REQUIRED`) when no new token can
   * be had; never starts an OAuth flow. The context the SDK passes is not needed.
   */
  onUnauthorized(context?: unknown): Promise<void>
  /** `'tokens'` / `'all'`: as `onUnauthorized`; other scopes hold nothing to invalidate. */
  invalidateCredentials(scope?: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): Promise<void>
}

/**
 * For the `authProvider` option of the 2.x transports. Throws `E_UNTRUSTED_ORIGIN` /
 * `E_INSECURE_URL` at once when `serverUrl` may not have the token.
 */
export function createMcpAuthProvider(client: AuthClient, options: McpAuthProviderOptions): McpBearerAuthProvider
