// Compiled by __test__/types.test.js with `tsc --strict --noEmit`: the published types, used
// the way a host app uses them. A type error here fails the test.
import { AuthClient, type AuthError, type AuthErrorCode, type AuthStatus } from 'symbiote-auth'
import { createAuthFetch, createMcpAuthProvider } from 'symbiote-auth/mcp'
import { DEFAULT_ALLOWED_ORIGINS, exposeAuthApi, registerAuthIpc } from 'symbiote-auth/electron'

const client = new AuthClient({
  baseUrl: 'https://api.example.com',
  jwksMaxAgeSeconds: 600,
  paths: { csrf: '/api/login' },
  proxy: 'system',
})
client.setProxy('http://proxy.example.com:3128')
client.setProxy('none')

function isAuthError(error: unknown): error is AuthError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string'
}

async function signIn(): Promise<AuthStatus> {
  try {
    return await client.login({ email: 'a@example.com', password: 'pw', remember: true })
  } catch (error) {
    if (isAuthError(error)) {
      const code: AuthErrorCode = error.code
      // @ts-expect-error: not a code of this library
      const wrong: AuthErrorCode = 'E_NOPE'
      if (code === 'E_INVALID_CREDENTIALS') return client.status()
      void wrong
    }
    throw error
  }
}

const lastCode: AuthErrorCode | undefined = client.status().lastError?.code
const fetchWithToken = createAuthFetch(client, { serverUrl: 'https://api.example.com/mcp' })
const provider = createMcpAuthProvider(client, { serverUrl: new URL('https://api.example.com/mcp') })
const origins: readonly string[] = DEFAULT_ALLOWED_ORIGINS

declare const ipcMain: Parameters<typeof registerAuthIpc>[0]
declare const contextBridge: Parameters<typeof exposeAuthApi>[0]
declare const ipcRenderer: Parameters<typeof exposeAuthApi>[1]
const dispose: () => void = registerAuthIpc(ipcMain, client, { allowedOrigins: ['file://', 'app://bundle'] })
exposeAuthApi(contextBridge, ipcRenderer)

void [signIn, lastCode, fetchWithToken, provider, origins, dispose]
