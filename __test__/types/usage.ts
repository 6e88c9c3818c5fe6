// Compiled by __test__/types.test.js with `tsc --strict --noEmit`: the published types, used
// the way a host app uses them. A type error here fails the test.
import { AuthClient, type AuthError, type AuthErrorCode, type AuthStatus } from 'symbiote-auth'
import { createAuthFetch, createAuthTransport, createMcpAuthProvider, createStdioAuthTransport, FETCH_OPTION_SINCE } from 'symbiote-auth/mcp'
import type { SymbioteAuthApi } from 'symbiote-auth/renderer'
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

// apiFetch resolves to a WHATWG Response.
async function agentConfig(): Promise<unknown> {
  const response: Response = await client.apiFetch('/api/mcp/tools/cherry-studio-agent', {
    method: 'POST',
    headers: [['content-type', 'application/json']],
    body: JSON.stringify({}),
    signal: AbortSignal.timeout(5000),
  })
  return response.json()
}

// Any transport class with (url, options) works; the result has the class's own type.
class SomeTransport {
  constructor(
    readonly url: URL,
    readonly options?: { requestInit?: RequestInit }
  ) {}
  async start() {}
  async send(_message: unknown) {}
  async close() {}
}
const transport: SomeTransport = createAuthTransport(client, SomeTransport, 'https://api.example.com/mcp', {
  requestInit: { headers: { 'x-app': 'desktop' } },
})
class SomeStdioTransport {
  constructor(readonly params: { command: string }) {}
  async start() {}
  async send(_message: unknown) {}
  async close() {}
}
const stdio = createStdioAuthTransport(client, SomeStdioTransport, {
  command: 'bun',
  args: ['@remote-mcp/client'],
  serverUrl: 'https://api.example.com/v1/mcp',
  tokenEnv: { HTTP_HEADER_AUTHORIZATION: 'Bearer {token}' },
})
const since: string = FETCH_OPTION_SINCE
const strictFetch = createAuthFetch(client, { serverUrl: 'https://api.example.com/mcp', sdkVersion: '1.32.2' })

// The page: window.symbioteAuth, status() exactly as typed, refresh() without a token.
async function page(api: SymbioteAuthApi): Promise<number | null> {
  const status = await api.refresh()
  const skew: number | null = status.clockSkewMs
  // @ts-expect-error: the page never gets the token unless exposeToken is set on both sides
  const token: string = await api.getJwtToken()
  void token
  const fromWindow: AuthStatus = await window.symbioteAuth.status()
  return skew ?? fromWindow.expiresAt
}

void [signIn, lastCode, fetchWithToken, provider, origins, dispose, agentConfig, transport, stdio, since, strictFetch, page]

// The error helpers: AuthError is a class (instanceof narrows), AuthErrorCode a value too.
import { AuthError as AuthErrorClass, AuthErrorCode as Codes, authErrorCode, isAuthError as isAuthFailure, userMessage } from 'symbiote-auth'
import { userMessage as pageWords } from 'symbiote-auth/errors'

async function signInWithWords(): Promise<string> {
  try {
    await client.login({ email: 'a@example.com', password: 'pw' })
    return ''
  } catch (error) {
    if (error instanceof AuthErrorClass) {
      const code: AuthErrorCode = error.code
      const wait: number | undefined = error.retryAfterMs
      if (code === Codes.InvalidCredentials || code === 'E_SERVER') return `${userMessage(error)} ${wait ?? ''}`
    }
    if (isAuthFailure(error)) return pageWords(error.code)
    return authErrorCode(error) ?? 'unknown'
  }
}
const made = new AuthErrorClass('E_CONFIG', 'a message', { cause: new Error('why'), retryAfterMs: 5 })
// Codes raised by the JS glue belong to the union as well.
const glueCodes: AuthErrorCode[] = ['E_FORBIDDEN_SENDER', 'E_NATIVE_BINDING']
const retry: number | undefined = client.status().lastError?.retryAfterMs
declare const bridged: SymbioteAuthApi
const pageCode: AuthErrorCode | undefined = bridged.errorCode(new Error('E_LOGIN_REQUIRED: x'))
const pageText: string = bridged.userMessage('E_LOGIN_REQUIRED')
void [signInWithWords, made, glueCodes, retry, pageCode, pageText]
