'use strict'
// What the CLI prints: durations, a status, a token's claims, errors; everything an API chose
// goes through printable() first.

function describeDuration(ms) {
  const seconds = Math.round(Math.abs(ms) / 1000)
  const parts = [
    [Math.floor(seconds / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'min'],
    [seconds % 60, 's'],
  ]
  const text =
    parts
      .filter(([amount]) => amount > 0)
      .map(([amount, unit]) => `${amount} ${unit}`)
      .join(' ') || '0 s'
  return ms >= 0 ? `in ${text}` : `${text} ago`
}

function describeExpiry(expiresAtMs) {
  return `${new Date(expiresAtMs).toISOString()} (${describeDuration(expiresAtMs - Date.now())})`
}

function describeStatus(status) {
  if (!status.authenticated) {
    const why = status.lastError ? ` Last error: ${status.lastError.message}` : ''
    return [`Signed out (${status.state}).${why}`]
  }
  const { user } = status
  const roles = user.roles?.length ? `; roles: ${user.roles.join(', ')}` : ''
  const name = user.displayName ? `${user.displayName} <${user.email}>` : user.email
  return [
    `Signed in as ${name} (id ${user.id}${roles})`,
    `State: ${status.state}${status.expiresAt ? `, token expires ${describeExpiry(status.expiresAt)}` : ''}`,
    status.persistent
      ? 'Session: stored, later commands and app starts reuse it'
      : 'Session: NOT stored (memory only): later commands will not see it',
  ]
}

function decodeJwtPart(token, index) {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'))
}

function describeClaims(header, claims) {
  const time = (seconds) => (typeof seconds === 'number' ? describeExpiry(seconds * 1000) : String(seconds))
  const rows = [
    ['alg', header.alg],
    ['kid', header.kid],
  ]
  for (const [name, value] of Object.entries(claims)) {
    const shown = ['exp', 'iat', 'nbf'].includes(name) ? time(value) : typeof value === 'string' ? value : JSON.stringify(value)
    rows.push([name, shown])
  }
  return rows.filter(([, value]) => value !== undefined).map(([name, value]) => `${name.padEnd(6)} ${value}`)
}

// What the API chose (claims, user fields) and what errors carry reaches the terminal only
// with C0 and C1 control characters (and DEL) escaped, so an API cannot send ANSI or OSC
// sequences: writing the clipboard, retitling the window, overwriting lines. --json output
// stays exact JSON.
function printable(text) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

// The library's messages begin with their code ("E_NETWORK: …"); the CLI prints it once.
function errorInfo(error) {
  const code = typeof error.code === 'string' ? error.code : 'E_INTERNAL'
  const message = String(error.message)
  return { code, message: message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message }
}

function describeFailure(error) {
  const { code, message } = errorInfo(error)
  return `${code}: ${message}`
}

// What to do next, by code, in the CLI's own terms (flags, commands): the library's messages
// name API options (storageFallback, paths.csrf), which a terminal user cannot set.
function nextStep(code, baseUrl) {
  const url = baseUrl ? printable(baseUrl) : '<url>'
  const steps = {
    E_LOGIN_REQUIRED: `Sign in first: symbiote-auth login --base-url ${url} --email <email>`,
    E_STORAGE:
      'No usable credential store: add --storage memory (the session then ends with the command), or unlock or install one (Linux: gnome-keyring or KWallet).',
    E_CSRF: 'The API wants a CSRF token: add --csrf-path /api/login (Flask-Security).',
    E_NETWORK: `Is the API running at ${url}? symbiote-auth doctor --base-url ${url} checks the setup step by step.`,
    E_TIMEOUT: `The API did not answer in time: try a larger --timeout-ms, or symbiote-auth doctor --base-url ${url}.`,
    E_TOKEN_INVALID: `symbiote-auth doctor --base-url ${url} --email <email> checks the JWKS, --algorithms, --issuer, --audience and the clocks.`,
    E_INVALID_CREDENTIALS: 'Check the email (--email) and the password.',
  }
  return steps[code]
}

// Colour only for a person at a terminal who has not asked for none (https://no-color.org).
function colours(stream, env) {
  const on = Boolean(stream.isTTY) && !(typeof env.NO_COLOR === 'string' && env.NO_COLOR !== '')
  const paint = (code) => (text) => (on ? `\u001b[${code}m${text}\u001b[0m` : text)
  return { red: paint('31'), green: paint('32'), yellow: paint('33'), bold: paint('1') }
}

module.exports = {
  describeExpiry,
  describeStatus,
  decodeJwtPart,
  describeClaims,
  printable,
  errorInfo,
  describeFailure,
  nextStep,
  colours,
}
