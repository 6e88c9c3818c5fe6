'use strict'

const { AuthError } = require('../errors.js')

// Messages begin with their code (AuthError does it once), as the native errors' do:
// contextBridge copies only an error's message into the page, and a host may re-wrap an
// error by its message.
function codedError(code, message, options) {
  return new AuthError(code, message, options)
}

function configError(message) {
  return codedError('E_CONFIG', message)
}

module.exports = { codedError, configError }
