// symbiote-auth: the client (native.d.ts, generated from the Rust by `napi build`) and the
// error helpers (errors.d.ts). docs/API.md is the reference.

import type { AuthErrorCode as Code } from './native'

export {
  AuthClient,
  McpAuthProvider,
  type ApiFetchInit,
  type AuthClientOptions,
  type AuthErrorInfo,
  type AuthStatus,
  type CsrfAnswer,
  type JwksKey,
  type JwksReport,
  type LoginCredentials,
  type LogRecord,
  type OAuthTokens,
  type PathOptions,
  type ResolvedConfiguration,
  type ResolvedEndpoints,
  type SkippedJwksKey,
  type StorageBackend,
  type TokenSnapshot,
  type User,
} from './native'
export { AuthError, isAuthError, authErrorCode, userMessage, USER_MESSAGES } from './errors'

/** The stable code of every failure (docs/API.md, "Error codes"). */
export type AuthErrorCode = Code

/**
 * Every code by name, at run time: `AuthErrorCode.LoginRequired === 'E_LOGIN_REQUIRED'`.
 * The names and values are those of `ErrorCode` in src/errors.rs (types.test.js checks the two agree).
 */
export declare const AuthErrorCode: {
  readonly Config: 'E_CONFIG'
  readonly InsecureUrl: 'E_INSECURE_URL'
  readonly UntrustedOrigin: 'E_UNTRUSTED_ORIGIN'
  readonly InvalidCredentials: 'E_INVALID_CREDENTIALS'
  readonly Csrf: 'E_CSRF'
  readonly LoginRequired: 'E_LOGIN_REQUIRED'
  readonly Network: 'E_NETWORK'
  readonly Timeout: 'E_TIMEOUT'
  readonly Server: 'E_SERVER'
  readonly BadResponse: 'E_BAD_RESPONSE'
  readonly TokenInvalid: 'E_TOKEN_INVALID'
  readonly Storage: 'E_STORAGE'
  readonly InvalidArgument: 'E_INVALID_ARGUMENT'
  readonly Aborted: 'E_ABORTED'
  readonly ForbiddenSender: 'E_FORBIDDEN_SENDER'
  readonly NativeBinding: 'E_NATIVE_BINDING'
  readonly Internal: 'E_INTERNAL'
}
