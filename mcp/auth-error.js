'use strict'
// The coded errors of symbiote-auth/mcp. Messages begin with their code, as the native
// errors' do, so that a host re-wrapping an error by its message can still tell what it was.

function authError(code, message) {
  const error = new Error(`${code}: ${message}`)
  error.code = code
  return error
}

function configError(message) {
  return authError('E_CONFIG', message)
}

module.exports = { authError, configError }
