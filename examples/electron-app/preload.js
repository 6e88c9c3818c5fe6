'use strict'
// The preload: window.symbioteAuth from symbiote-auth/electron, and window.exampleMcp for
// the one MCP call the page may make. Nothing else of Electron or Node reaches the page.

const { contextBridge, ipcRenderer } = require('electron')
const { exposeAuthApi } = require('symbiote-auth/electron')

exposeAuthApi(contextBridge, ipcRenderer)

contextBridge.exposeInMainWorld('exampleMcp', {
  async whoami() {
    const reply = await ipcRenderer.invoke('example:call-tool', 'whoami')
    if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`)
    return reply.value
  },
})
