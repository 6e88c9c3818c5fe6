'use strict'
// Everything the example's main process does, given Electron's ipcMain and windows: one
// AuthClient, its IPC channels, the MCP service, and the two calls the page may ask for.
// main.js passes Electron's objects; the page test passes fakes of them.

const { AuthClient } = require('symbiote-auth')
const { registerAuthIpc } = require('symbiote-auth/electron')
const { McpService } = require('./mcp-service')

// Same reply shape as symbiote-auth/electron, so the error code survives IPC.
function handler(pageUrl, work) {
  return async (event, ...args) => {
    if (event.senderFrame?.url !== pageUrl) return { ok: false, error: { code: 'E_FORBIDDEN_SENDER', message: 'not our page' } }
    if (args.length !== 0) return { ok: false, error: { code: 'E_INVALID_ARGUMENT', message: 'takes no arguments' } }
    try {
      return { ok: true, value: await work() }
    } catch (error) {
      return { ok: false, error: { code: error.code ?? 'E_MCP', message: error.message } }
    }
  }
}

/**
 * `apiUrl`: the Flask API; `mcpServers`: as McpService takes them; `pageUrl`: the only page
 * that may use the channels. Returns `{ authClient, mcp, dispose }`.
 */
function startMainProcess({ ipcMain, getWindows, pageUrl, apiUrl, mcpServers, clientOptions = {}, log = console.log }) {
  const mcpOrigins = mcpServers.map((server) => server.baseUrl ?? server.env?.REMOTE_MCP_URL).filter(Boolean)
  const authClient = new AuthClient({
    baseUrl: apiUrl,
    // The MCP servers get the JWT too, so their origins are trusted explicitly.
    trustedOrigins: [...new Set([apiUrl, ...mcpOrigins].map((url) => new URL(url).origin))],
    keyringService: 'symbiote-auth-electron-example',
    // Where no OS credential store is available, keep the session for this run only.
    storageFallback: 'memory',
    ...clientOptions,
  })
  const disposeIpc = registerAuthIpc(ipcMain, authClient, {
    getWindows,
    allowSender: (event) => event.senderFrame?.url === pageUrl,
  })
  const mcp = new McpService({ authClient, servers: mcpServers, log })

  // A client connected for one user must not serve the next one, nor outlive a sign-out.
  let userId = null
  const stopWatching = authClient.onStatusChange((status) => {
    const current = status.authenticated ? (status.user?.id ?? null) : null
    if (current !== userId) mcp.closeAll()
    userId = current
  })

  const channels = {
    'example:whoami': () => mcp.callTool('symbiote-mcp', 'whoami'),
    // The app's own API call, with the session cookie (the host's SymbioteApiService).
    'example:agent-config': async () => {
      const response = await authClient.apiFetch('/api/mcp/tools/cherry-studio-agent')
      if (!response.ok) throw Object.assign(new Error(`E_SERVER: the API answered HTTP ${response.status}`), { code: 'E_SERVER' })
      const [agent] = await response.json()
      return agent
    },
  }
  for (const [channel, work] of Object.entries(channels)) ipcMain.handle(channel, handler(pageUrl, work))

  return {
    authClient,
    mcp,
    async dispose() {
      for (const channel of Object.keys(channels)) ipcMain.removeHandler(channel)
      stopWatching()
      disposeIpc()
      await mcp.closeAll()
    },
  }
}

module.exports = { startMainProcess }
