// symbiote-auth/errors: the failures of this library, on either side of Electron's IPC.
// Also exported by `symbiote-auth` (main process) and `symbiote-auth/electron` (preload).

import type { AuthErrorCode, AuthErrorInfo } from './native'

export type { AuthErrorCode, AuthErrorInfo }

/**
 * Every rejection and throw of this library. Native rejections are `Error`s with a `code`
 * (not constructed by this class); `instanceof AuthError` is true for them too, and for any
 * `Error` with a code-shaped `code` and a message, so one check covers every failure.
 */
export declare class AuthError extends Error implements AuthErrorInfo {
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number })
  readonly code: AuthErrorCode
  readonly retryAfterMs?: number
  static [Symbol.hasInstance](value: unknown): value is AuthError
}

/** True for anything with a code-shaped `code` (`E_…`) and a `message`: an AuthError, a native rejection, or `{ code, message }` after IPC. */
export declare function isAuthError(value: unknown): value is AuthErrorInfo

/**
 * The code of a failure: its `code`, or the code its message begins with (all that is left
 * of an error after Electron's contextBridge, which copies only the message). `undefined`
 * for anything else.
 */
export declare function authErrorCode(value: unknown): AuthErrorCode | undefined

/**
 * Words for the person using the app (not the developer text of `message`), from an error
 * or a code; `E_SERVER` with `retryAfterMs` says when to try again. Unknown input gets a
 * generic sentence. The table is `USER_MESSAGES` and docs/API.md.
 */
export declare function userMessage(failure: unknown): string

/** The sentence `userMessage()` gives for each code. */
export declare const USER_MESSAGES: Readonly<Record<AuthErrorCode, string>>
