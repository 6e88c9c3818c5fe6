'use strict'
// The commands that run the client: login, status, token, logout.

const { EXIT_OK, EXIT_FAILED, PATH_OPTIONS, UsageError } = require('./arguments')
const { readPassword } = require('./password')
const { describeStatus, decodeJwtPart, describeClaims, printable, describeFailure, nextStep } = require('./output')

// Loaded on first use, so --help and usage errors work even without the native binary.
function loadAuthClient() {
  return require('../index.js').AuthClient
}

function clientOptions(options, overrides = {}) {
  const paths = {}
  for (const name of PATH_OPTIONS) {
    const value = options[`${name}Path`]
    if (value !== undefined) paths[name] = value
  }
  const chosen = {
    baseUrl: options.baseUrl,
    paths,
    account: options.account,
    keyringService: options.keyringService,
    storage: options.storage,
    requestTimeoutMs: options.timeoutMs,
    issuer: options.issuer,
    audience: options.audience,
    algorithms: options.algorithms?.split(',').map((name) => name.trim()),
    ...overrides,
  }
  return Object.fromEntries(Object.entries(chosen).filter(([, value]) => value !== undefined))
}

const commands = {
  async login(client, options, io) {
    if (!options.email) throw new UsageError('login needs --email')
    const password = await readPassword(io, `Password for ${options.email}: `)
    const status = await client.login({ email: options.email, password, remember: true })
    return { ok: true, lines: describeStatus(status), json: { status } }
  },

  async status(client, options) {
    const status = await client.restore()
    if (status.authenticated) return { ok: true, lines: describeStatus(status), json: { status } }
    const next = nextStep('E_LOGIN_REQUIRED', options.baseUrl)
    return { ok: false, lines: [...describeStatus(status), next], json: { status, next } }
  },

  async token(client, options) {
    await client.restore()
    const token = await client.getJwtToken()
    const header = decodeJwtPart(token, 0)
    const claims = decodeJwtPart(token, 1)
    const json = { header, claims, expiresAt: claims.exp * 1000, ...(options.raw && { token }) }
    return { ok: true, lines: options.raw ? [token] : describeClaims(header, claims), json }
  },

  async logout(client) {
    // A stored session that cannot be brought back must still be wiped: logout() clears
    // the store whatever restore() thought of it.
    await client.restore().catch(() => {})
    await client.logout()
    return { ok: true, lines: ['Signed out.'], json: {} }
  },
}

async function runClientCommand(command, options, io) {
  const AuthClient = loadAuthClient()
  let client
  try {
    client = new AuthClient(clientOptions(options))
  } catch (error) {
    // Options that can never work are usage errors.
    throw new UsageError(describeFailure(error))
  }
  const outcome = await commands[command](client, options, io)
  if (options.json) io.stdout.write(`${JSON.stringify({ ok: outcome.ok, ...outcome.json })}\n`)
  else io.stdout.write(outcome.lines.map((line) => `${printable(line)}\n`).join(''))
  return outcome.ok ? EXIT_OK : EXIT_FAILED
}

module.exports = { loadAuthClient, clientOptions, runClientCommand }
