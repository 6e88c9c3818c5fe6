'use strict'
// The preload script Electron runs: preload-api.js with Electron's objects.

const { contextBridge, ipcRenderer } = require('electron')
const { exposeExampleApi } = require('./preload-api')

exposeExampleApi(contextBridge, ipcRenderer)
