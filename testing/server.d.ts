// Types for testing/server.js: the harness around the reference Flask server.

export type CounterName = 'csrf' | 'login' | 'status' | 'token' | 'refresh' | 'jwks' | 'logout'
export type SigningAlgorithm = 'RS256' | 'ES256'

export interface Credentials {
  email: string
  password: string
}

export type Counters = Record<CounterName, number>

export interface ServerConfig {
  /** JWT lifetime in seconds (default 900); may be 0 or negative to mint already-expired tokens. */
  lifetime: number
  /** Seconds added to the server's clock: iat/nbf/exp and the Date header (default 0). */
  clock_offset: number
  algorithm: SigningAlgorithm
  /** Require X-CSRF-Token (from GET /login) on every POST /api/*. */
  csrf: boolean
  issuer: string
  audience: string | string[]
}

export interface ConfigUpdate {
  lifetime?: number
  clockOffset?: number
  clock_offset?: number
  algorithm?: SigningAlgorithm
  csrf?: boolean
  issuer?: string
  audience?: string | string[]
}

export interface FaultSpec {
  endpoint: CounterName
  /** Answer with this status instead of the real handler; without it, only delay/hang apply. */
  status?: number
  /** A string is sent as is (text/plain unless contentType); anything else as JSON. */
  body?: unknown
  contentType?: string
  headers?: Record<string, string>
  delayMs?: number
  /** Hold the request open (up to 120 s; released by clearFaults/reset/stop). */
  hang?: boolean
  /** How many requests the fault applies to (default 1); -1 until cleared. */
  count?: number
}

export interface SignOptions {
  /** Overrides/additions to the default claims; a null value removes that claim. */
  claims?: Record<string, unknown>
  /** Extra header fields, applied last (may override alg/typ); null removes a field. */
  header?: Record<string, unknown>
  /** Default: the server's current algorithm. HS256 and none carry the current RSA kid. */
  alg?: SigningAlgorithm | 'HS256' | 'none'
  /** HS256 secret: 'public_pem' (default; the RSA public key PEM: algorithm confusion) or any string. */
  hsSecret?: string
  /** Header kid override; null omits kid. */
  kid?: string | null
  /** Seconds from iat to exp (default: the configured lifetime). */
  lifetime?: number
}

export interface ServerState {
  live_sessions: number
  /** kids published in the JWKS. */
  kids: string[]
  /** kid of the current key per algorithm. */
  current_kids: Record<SigningAlgorithm, string>
  algorithm: SigningAlgorithm
  lifetime: number
}

export interface ReferenceServer {
  /** e.g. 'http://127.0.0.1:43567' */
  readonly url: string
  /** demo@example.com / demo-password (user id "1"). */
  readonly user: Credentials
  /** demo (id "1", roles ["user"]) and admin (id "2", roles ["admin", "user"]). */
  readonly users: { demo: Credentials; admin: Credentials }
  readonly pid: number
  counters(): Promise<Counters>
  /** Counters, faults, config, keys (back to the startup keys) and JWKS override to defaults; sessions too if asked. */
  reset(options?: { sessions?: boolean }): Promise<ServerConfig>
  config(update: ConfigUpdate): Promise<ServerConfig>
  /** New key (new kid) for `algorithm` (default: current); keepOld (default true) keeps the old key in the JWKS. Resolves to the new kid. */
  rotate(options?: { keepOld?: boolean; algorithm?: SigningAlgorithm }): Promise<string>
  expireSessions(): Promise<{ expired: number }>
  fault(fault: FaultSpec): Promise<{ queued: CounterName }>
  clearFaults(): Promise<{ cleared: true }>
  /** Mints a token from the default claims (sub "1", demo email, iss, aud, iat/nbf/exp, jti). */
  sign(options?: SignOptions): Promise<string>
  /** Replace what /api/jwt/jwks answers (a string is sent raw as application/json); null restores it. */
  setJwks(body: unknown | null, status?: number): Promise<{ overridden: boolean }>
  state(): Promise<ServerState>
  /** SIGTERM, SIGKILL after 3 s; idempotent. */
  stop(): Promise<void>
}

export interface StartOptions {
  /** Start with CSRF required (reset() returns to this). Default false. */
  csrf?: boolean
  /** Default '127.0.0.1'. */
  host?: string
  /** Default 20000. */
  startTimeoutMs?: number
}

export function startReferenceServer(options?: StartOptions): Promise<ReferenceServer>
export const repoRoot: string
export const pythonPath: string
export const DEMO_USER: Credentials
export const ADMIN_USER: Credentials
