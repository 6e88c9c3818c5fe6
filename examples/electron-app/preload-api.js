'use strict'
// What the preload exposes, given Electron's contextBridge and ipcRenderer:
// window.symbioteAuth (symbiote-auth/electron) and window.exampleApp, the two calls the
// page may make. Nothing else of Electron or Node reaches the page.

const { exposeAuthApi } = require('symbiote-auth/electron')

function exposeExampleApi(contextBridge, ipcRenderer) {
  exposeAuthApi(contextBridge, ipcRenderer)
  const invoke = async (channel) => {
    const reply = await ipcRenderer.invoke(channel)
    if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`)
    return reply.value
  }
  contextBridge.exposeInMainWorld('exampleApp', {
    whoami: () => invoke('example:whoami'),
    agentConfig: () => invoke('example:agent-config'),
  })
}

module.exports = { exposeExampleApi }
