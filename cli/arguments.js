'use strict'
// The command line: commands, options, usage text and the parser. The parser never repeats
// what was typed in an error: a stray or mistyped argument may be a password.

const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_INTERRUPTED = 130

const USAGE = `Usage: symbiote-auth <command> [options]

Commands:
  login     --email E         sign in; the password is asked for without echo,
                              or read from stdin when stdin is not a terminal
  status                      the stored session (exit 1 when signed out)
  token     [--raw]           claims and expiry of a fresh JWT; --raw prints the JWT itself
  logout                      sign out and wipe the stored session
  doctor    [--email E]       check the API setup step by step (with --email and the
                              password on stdin: a full sign-in and signature check)

Options:
  --base-url URL              the Flask API origin (or SYMBIOTE_AUTH_BASE_URL)
  --account NAME              session profile (default "default")
  --keyring-service NAME      credential store service name (default "symbiote")
  --storage keyring|memory    where the session lives (default keyring; memory ends
                              with the command)
  --timeout-ms N              per HTTP request (default: the client's requestTimeoutMs)
  --csrf-path P               fetch a CSRF token from P before signing in
  --login-path P  --logout-path P  --status-path P  --token-path P
  --refresh-path P  --jwks-path P    API paths when they differ from the defaults
  --issuer ISS  --audience AUD       claims the JWT must carry
  --algorithms A,B            JWS algorithms the JWT may be signed with, comma-separated
                              (default: the client's)
  --json                      machine-readable output on stdout
  -h, --help                  this text
  --version                   the package version

Exit codes: 0 ok, 1 failed (or signed out, for status), 2 usage.
`

const USAGE_HINT = 'Run symbiote-auth --help for the commands and options.\n'

// name → { type, commands (when only some commands take it) }.
const OPTIONS = {
  'base-url': { type: 'string' },
  account: { type: 'string' },
  'keyring-service': { type: 'string' },
  storage: { type: 'string', choices: ['keyring', 'memory'] },
  'timeout-ms': { type: 'positive-integer' },
  'csrf-path': { type: 'string' },
  'login-path': { type: 'string' },
  'logout-path': { type: 'string' },
  'status-path': { type: 'string' },
  'token-path': { type: 'string' },
  'refresh-path': { type: 'string' },
  'jwks-path': { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  algorithms: { type: 'string' },
  json: { type: 'flag' },
  email: { type: 'string', commands: ['login', 'doctor'] },
  raw: { type: 'flag', commands: ['token'] },
}
const PATH_OPTIONS = ['csrf', 'login', 'logout', 'status', 'token', 'refresh', 'jwks']
const COMMANDS = new Set(['login', 'status', 'token', 'logout', 'doctor'])

// The code a usage error has in --json output: an argument the command does not take.
const USAGE_CODE = 'E_INVALID_ARGUMENT'

class UsageError extends Error {}

// Levenshtein distance, for "did you mean": a dozen lines, where a dependency would be the
// only one of the CLI.
function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}

// The known name closest to what was typed, when it is a likely typo. Only the known name is
// ever printed, never the typed text (it may be a password).
function suggestion(typed, known) {
  let best = null
  for (const name of known) {
    const distance = editDistance(typed, name)
    if (distance <= Math.max(2, Math.floor(name.length / 3)) && (!best || distance < best.distance)) best = { name, distance }
  }
  return best?.name
}

function camelCase(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase())
}

// Usage errors name an argument by its position, never by what was typed: a stray or
// mistyped argument may be a password.
function parseArguments(argv) {
  const options = {}
  const positional = []
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]
    if (argument === '-h' || argument === '--help') return { help: true }
    if (argument === '--version') return { version: true }
    if (argument.startsWith('-') && !argument.startsWith('--')) {
      throw new UsageError(`argument ${index + 1} is a short option; only the long options of --help are accepted`)
    }
    if (!argument.startsWith('--')) {
      positional.push(index + 1)
      continue
    }
    const [name, inlineValue] = argument.slice(2).split(/=(.*)/s)
    if (name === 'password') {
      throw new UsageError(
        'the password is never taken from the command line (it would stay in shell history and process lists): type it at the prompt or pipe it on stdin'
      )
    }
    const spec = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined
    if (!spec) {
      const near = suggestion(name, Object.keys(OPTIONS))
      throw new UsageError(`argument ${index + 1} is not an option of symbiote-auth${near ? `: did you mean --${near}?` : ' (see --help)'}`)
    }
    if (spec.type === 'flag') {
      if (inlineValue !== undefined) throw new UsageError(`--${name} takes no value`)
      options[camelCase(name)] = true
      continue
    }
    const value = inlineValue ?? argv[++index]
    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value`)
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}`)
    }
    if (spec.type === 'positive-integer' && !/^[1-9][0-9]{0,8}$/.test(value)) {
      throw new UsageError(`--${name} must be a positive whole number`)
    }
    options[camelCase(name)] = spec.type === 'positive-integer' ? Number(value) : value
  }
  const [commandAt, ...extra] = positional
  if (!commandAt) throw new UsageError('no command given')
  const command = argv[commandAt - 1]
  if (!COMMANDS.has(command)) {
    const near = suggestion(command, COMMANDS)
    throw new UsageError(
      `unknown command (argument ${commandAt}): ${near ? `did you mean ${near}? The` : 'the'} command is one of ${[...COMMANDS].join(', ')}`
    )
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}: ${command} takes options only`)
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if (spec.commands && options[camelCase(name)] !== undefined && !spec.commands.includes(command)) {
      throw new UsageError(`--${name} is an option of ${spec.commands.join(' and ')}, not ${command}`)
    }
  }
  return { command, options }
}

module.exports = {
  EXIT_OK,
  EXIT_FAILED,
  EXIT_USAGE,
  EXIT_INTERRUPTED,
  USAGE,
  USAGE_HINT,
  USAGE_CODE,
  PATH_OPTIONS,
  UsageError,
  parseArguments,
}
