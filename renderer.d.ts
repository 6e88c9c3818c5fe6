// Types for the renderer: `window.symbioteAuth` as `exposeAuthApi` exposes it from the
// preload. Include it once in the renderer's TypeScript project:
//   tsconfig.json: "compilerOptions": { "types": ["symbiote-auth/renderer"] }
// or, in a .d.ts of the renderer: /// <reference types="symbiote-auth/renderer" />
// It imports types only: nothing of the native addon reaches the renderer.

import type { SymbioteAuthApi } from './electron'

export type { SymbioteAuthApi } from './electron'
export type { AuthErrorCode, AuthErrorInfo, AuthStatus, LoginCredentials, User } from './index'

declare global {
  interface Window {
    /** Present when the preload called `exposeAuthApi(contextBridge, ipcRenderer)` (key `symbioteAuth`). */
    readonly symbioteAuth: SymbioteAuthApi
  }
}
