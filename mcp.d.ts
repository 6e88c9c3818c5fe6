// symbiote-auth/mcp: the AuthClient's JWT on MCP requests, for @modelcontextprotocol/sdk 1.x
// (createAuthFetch) and @modelcontextprotocol/client 2.x (createMcpAuthProvider).

import type { AuthClient, OAuthTokens } from './index'

/** The `fetch` signature the MCP SDK transports accept in their `fetch` option. */
export type AuthFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface AuthFetchOptions {
  /** The MCP server; its origin must be in `trustedOrigins`. */
  serverUrl: string | URL
  /** What actually sends the requests (for example Electron's `net.fetch`). Default: global `fetch`. */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
}

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
 * the token.
 */
export function createAuthFetch(client: AuthClient, options: AuthFetchOptions): AuthFetch

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
