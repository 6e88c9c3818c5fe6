'use strict'
// Baseline (b) of row 1: what the host app does today before every MCP request, rewritten
// in plain JS with the token already in memory (the most favourable case for it: the app
// itself read it from localStorage through webContents.executeJavaScript). Every call
// decodes the JWT payload (base64url -> atob -> JSON.parse), checks `exp`, and builds a new
// `{access_token, token_type}`; `tokens()` is async, as OAuthClientProvider.tokens() is.

function hostAppProvider(currentToken) {
  return {
    async tokens() {
      const token = currentToken()
      if (!token) return undefined
      const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
      if (typeof payload.exp !== 'number' || payload.exp * 1000 <= Date.now()) return undefined
      return { access_token: token, token_type: 'Bearer' }
    },
  }
}

module.exports = { hostAppProvider }
