'use strict'
// Validation of what a renderer sends: it is not trusted, whatever the sender policy says.

const { codedError } = require('./coded-error')

// RFC 5321: a 64-character local part, "@", a 255-character domain.
const MAX_EMAIL_LENGTH = 320
const MAX_PASSWORD_LENGTH = 1024
const INVALID_ARGUMENT = 'E_INVALID_ARGUMENT'
const LOGIN_FIELDS = new Set(['email', 'password', 'remember'])

function invalidArgument(message) {
  return codedError(INVALID_ARGUMENT, message)
}

function expectNoArguments(operation, args) {
  if (args.length !== 0) throw invalidArgument(`${operation}() takes no arguments, got ${args.length}`)
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

// Reads each field once through its property descriptor, so a getter can neither run
// nor answer differently between the check and the use. Electron's structured clone has
// already turned getters into data; this also holds when the handler is called directly.
// Messages name the field and the rule, never the value: it may be the password.
function parseCredentials(args) {
  if (args.length !== 1) throw invalidArgument(`login() takes one argument {email, password, remember?}, got ${args.length}`)
  const [credentials] = args
  if (!isPlainObject(credentials)) throw invalidArgument('login() takes a plain object {email, password, remember?}')
  const fields = {}
  for (const key of Reflect.ownKeys(credentials)) {
    if (!LOGIN_FIELDS.has(key))
      throw invalidArgument(`login() got an unknown field ${JSON.stringify(String(key))}; allowed: email, password, remember`)
    const descriptor = Object.getOwnPropertyDescriptor(credentials, key)
    if (!('value' in descriptor)) throw invalidArgument(`login() field ${key} must be a data property, not a getter`)
    fields[key] = descriptor.value
  }
  const { email, password, remember } = fields
  if (typeof email !== 'string' || email.length > MAX_EMAIL_LENGTH) {
    throw invalidArgument(`login() field email must be a string of at most ${MAX_EMAIL_LENGTH} characters`)
  }
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) {
    throw invalidArgument(`login() field password must be a string of at most ${MAX_PASSWORD_LENGTH} characters`)
  }
  if (remember !== undefined && typeof remember !== 'boolean') {
    throw invalidArgument('login() field remember must be a boolean when given')
  }
  return remember === undefined ? { email, password } : { email, password, remember }
}

module.exports = { expectNoArguments, parseCredentials, INVALID_ARGUMENT, MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH }
