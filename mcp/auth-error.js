'use strict'
// The coded errors of symbiote-auth/mcp: AuthError (symbiote-auth/errors), whose message
// begins with its code as the native errors' do, so that a host re-wrapping an error by its
// message can still tell what it was.

const { AuthError } = require('../errors.js')

function authError(code, message) {
  return new AuthError(code, message)
}

function configError(message) {
  return authError('E_CONFIG', message)
}

module.exports = { authError, configError }
