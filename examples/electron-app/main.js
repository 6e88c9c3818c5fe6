'use strict'
// The Electron main process: Electron's objects handed to main-process.js, the window, and
// powerMonitor wake-ups forwarded to the client. The page never sees the token.

const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { app, BrowserWindow, ipcMain, powerMonitor } = require('electron')
const { startMainProcess } = require('./main-process')

const API_URL = process.env.SYMBIOTE_API_URL ?? 'http://127.0.0.1:5000'
const MCP_URL = process.env.SYMBIOTE_MCP_URL ?? 'http://127.0.0.1:5001/mcp'
const PAGE_URL = pathToFileURL(path.join(__dirname, 'index.html')).href

function createWindow() {
  const window = new BrowserWindow({
    width: 560,
    height: 640,
    webPreferences: {
      preload: path.join(__dirname, 'preload.js'),
      contextIsolation: true,
      nodeIntegration: false,
      // This preload requires files from node_modules, which a sandboxed preload cannot.
      // A real app bundles its preload (electron-vite) and keeps the sandbox on; see
      // docs/ELECTRON.md.
      sandbox: false,
    },
  })
  window.loadURL(PAGE_URL)
}

app.whenReady().then(() => {
  const { authClient } = startMainProcess({
    ipcMain,
    getWindows: () => BrowserWindow.getAllWindows(),
    pageUrl: PAGE_URL,
    apiUrl: API_URL,
    mcpServers: [{ name: 'symbiote-mcp', type: 'streamableHttp', baseUrl: MCP_URL }],
  })
  // After sleep the JWT may have expired while no timer ran.
  for (const wake of ['resume', 'unlock-screen']) powerMonitor.on(wake, () => authClient.notifyResume())

  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
