'use strict'
// What the preload exposes, given Electron's contextBridge and ipcRenderer:
// window.symbioteAuth (symbiote-auth/electron) and window.exampleApp, the two calls the
// page may make. Nothing else of Electron or Node reaches the page.

const { AuthError, exposeAuthApi } = require('symbiote-auth/electron')

function exposeExampleApi(contextBridge, ipcRenderer) {
  exposeAuthApi(contextBridge, ipcRenderer)
  const invoke = async (channel) => {
    const reply = await ipcRenderer.invoke(channel)
    // AuthError puts the code in front of the message once (the main process's messages have it already).
    if (!reply.ok) throw new AuthError(reply.error.code, reply.error.message)
    return reply.value
  }
  contextBridge.exposeInMainWorld('exampleApp', {
    whoami: () => invoke('example:whoami'),
    agentConfig: () => invoke('example:agent-config'),
  })
}

module.exports = { exposeExampleApi }
