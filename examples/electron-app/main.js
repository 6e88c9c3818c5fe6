'use strict'
// The main process: one AuthClient for the whole app, its IPC channels for the page, and
// MCP calls made here with the JWT. The page never sees the token, only results.

const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { app, BrowserWindow, ipcMain, powerMonitor } = require('electron')
const { AuthClient } = require('symbiote-auth')
const { registerAuthIpc } = require('symbiote-auth/electron')
const { createAuthFetch } = require('symbiote-auth/mcp')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')

const API_URL = process.env.SYMBIOTE_API_URL ?? 'http://127.0.0.1:5000'
const MCP_URL = process.env.SYMBIOTE_MCP_URL ?? 'http://127.0.0.1:5001/mcp'
const PAGE_URL = pathToFileURL(path.join(__dirname, 'index.html')).href
// The tools the page may call; anything else it sends is refused.
const PAGE_TOOLS = new Set(['whoami'])

const client = new AuthClient({
  baseUrl: API_URL,
  // The MCP server gets the JWT too, so its origin must be trusted explicitly.
  trustedOrigins: [new URL(API_URL).origin, new URL(MCP_URL).origin],
  keyringService: 'symbiote-auth-electron-example',
  // Where no OS credential store is available, keep the session for this run only.
  storageFallback: 'memory',
})

// Connects for each call to keep the example short; an app would keep one connection.
async function callTool(name) {
  const mcp = new Client({ name: 'symbiote-auth-electron-example', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
    fetch: createAuthFetch(client, { serverUrl: MCP_URL }),
  })
  await mcp.connect(transport)
  try {
    const result = await mcp.callTool({ name, arguments: {} })
    return result.content
      .filter((part) => part.type === 'text')
      .map((part) => part.text)
      .join('\n')
  } finally {
    await mcp.close()
  }
}

// Same reply shape as symbiote-auth/electron, so the error code survives IPC.
async function handleToolCall(_event, ...args) {
  const [name] = args
  if (args.length !== 1 || !PAGE_TOOLS.has(name)) {
    return { ok: false, error: { code: 'E_INVALID_ARGUMENT', message: `callTool takes one of: ${[...PAGE_TOOLS].join(', ')}` } }
  }
  try {
    return { ok: true, value: await callTool(name) }
  } catch (error) {
    return { ok: false, error: { code: error.code ?? 'E_MCP', message: error.message } }
  }
}

function createWindow() {
  const window = new BrowserWindow({
    width: 520,
    height: 600,
    webPreferences: {
      preload: path.join(__dirname, 'preload.js'),
      contextIsolation: true,
      nodeIntegration: false,
      // This preload requires symbiote-auth/electron from node_modules, which a sandboxed
      // preload cannot. A real app bundles its preload (electron-vite, Electron Forge)
      // and keeps the sandbox on; see docs/ELECTRON.md.
      sandbox: false,
    },
  })
  window.loadURL(PAGE_URL)
}

app.whenReady().then(() => {
  registerAuthIpc(ipcMain, client, {
    getWindows: () => BrowserWindow.getAllWindows(),
    // Only our own page may sign in or read the status.
    allowSender: (event) => event.senderFrame?.url === PAGE_URL,
  })
  ipcMain.handle('example:call-tool', (event, ...args) =>
    event.senderFrame?.url === PAGE_URL
      ? handleToolCall(event, ...args)
      : { ok: false, error: { code: 'E_FORBIDDEN_SENDER', message: 'not our page' } }
  )
  // After sleep the JWT may have expired while no timer ran.
  for (const wake of ['resume', 'unlock-screen']) powerMonitor.on(wake, () => client.notifyResume())

  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
