'use strict'
// FAKES of Electron's IPC objects (ipcMain, ipcRenderer, contextBridge, webContents,
// BrowserWindow.getAllWindows) for testing symbiote-auth/electron without Electron.
// They follow Electron's documented semantics where the glue could get them wrong:
//
// - arguments of ipcRenderer.invoke/send and webContents.send, and the results of
//   ipcMain.handle handlers, cross the process boundary as a structured clone
//   (functions, promises, symbols throw "An object could not be cloned."; getters are
//   read once and arrive as plain data);
// - ipcMain.handle allows exactly one handler per channel: a second one throws
//   "Attempted to register a second handler for '<channel>'"; `on` listeners are plain
//   EventEmitter listeners and do not reply;
// - an error thrown by a handler reaches the renderer as a new Error whose message is
//   "Error invoking remote method '<channel>': <error.toString()>" — `code` and every
//   other property are lost;
// - contextBridge.exposeInMainWorld copies the API into the page's world: values are
//   copied, functions are proxied in both directions, thrown or rejected errors become
//   a new Error with only the message, and an existing key cannot be overwritten;
// - delivery is asynchronous and in order; a destroyed webContents gets nothing, its
//   pending invoke replies are dropped, and calling send() on it throws;
// - an IPC event's `senderFrame` is the WebFrameMain that sent it (`url`, `origin`,
//   `parent`: null for a window's main frame), `webContents.mainFrame` its main frame; a
//   navigation of the main frame emits 'did-navigate' and gives it a new URL.

const { EventEmitter } = require('node:events')

const nextTask = () => new Promise((resolve) => setImmediate(resolve))

// Electron reports values structured clone refuses with its own message; an error thrown
// by a getter while cloning propagates as it is.
function cloneAcrossProcesses(value) {
  try {
    return structuredClone(value)
  } catch (error) {
    if (error.name === 'DataCloneError') throw new Error('An object could not be cloned.')
    throw error
  }
}

class FakeIpcMain extends EventEmitter {
  #handlers = new Map()

  handle(channel, listener) {
    if (this.#handlers.has(channel)) {
      throw new Error(`Attempted to register a second handler for '${channel}'`)
    }
    this.#handlers.set(channel, listener)
  }

  removeHandler(channel) {
    this.#handlers.delete(channel)
  }

  /** Test inspection: the channels that currently have a handler. */
  handledChannels() {
    return [...this.#handlers.keys()]
  }

  /** Test inspection: the raw handler, to call it without the structured clone. */
  handlerFor(channel) {
    return this.#handlers.get(channel)
  }

  /** The main-process half of ipcRenderer.invoke: resolves to { result } or { error }. */
  async dispatchInvoke(sender, channel, args, frame) {
    await nextTask()
    const handler = this.#handlers.get(channel)
    if (!handler) return { error: `Error: No handler registered for '${channel}'` }
    try {
      return { result: cloneAcrossProcesses(await handler(sender.createEvent(frame), ...args)) }
    } catch (error) {
      return { error: String(error) }
    }
  }

  async dispatchSend(sender, channel, args, frame) {
    await nextTask()
    this.emit(channel, sender.createEvent(frame), ...args)
  }
}

class FakeIpcRenderer extends EventEmitter {
  #webContents
  #frame

  /** `frame`: the frame it runs in; the window's main frame when not given. */
  constructor(webContents, frame) {
    super()
    this.#webContents = webContents
    this.#frame = frame
  }

  async invoke(channel, ...args) {
    const sent = cloneAcrossProcesses(args)
    const reply = await this.#webContents.ipcMain.dispatchInvoke(this.#webContents, channel, sent, this.#frame)
    // A renderer that went away never hears back.
    if (this.#webContents.isDestroyed()) return new Promise(() => {})
    if ('error' in reply) throw new Error(`Error invoking remote method '${channel}': ${reply.error}`)
    return reply.result
  }

  send(channel, ...args) {
    const sent = cloneAcrossProcesses(args)
    this.#webContents.ipcMain.dispatchSend(this.#webContents, channel, sent, this.#frame)
  }

  /** Main → renderer delivery (webContents.send). */
  deliver(channel, args) {
    this.emit(channel, { sender: this, senderId: 0 }, ...args)
  }
}

let nextWebContentsId = 1

class FakeWebContents extends EventEmitter {
  #destroyed = false

  constructor(ipcMain, url) {
    super()
    this.id = nextWebContentsId++
    this.ipcMain = ipcMain
    this.url = url
    this.mainFrame = fakeFrame(url, null)
    this.ipcRenderer = new FakeIpcRenderer(this)
    /** Everything webContents.send() delivered, for assertions: [{ channel, args }]. */
    this.sent = []
  }

  isDestroyed() {
    return this.#destroyed
  }

  /** Closing the window: 'destroyed' fires once, then the object is unusable. */
  destroy() {
    if (this.#destroyed) return
    this.#destroyed = true
    this.emit('destroyed')
  }

  send(channel, ...args) {
    if (this.#destroyed) throw new TypeError('Object has been destroyed')
    const sent = cloneAcrossProcesses(args)
    this.sent.push({ channel, args: sent })
    setImmediate(() => {
      if (!this.#destroyed) this.ipcRenderer.deliver(channel, sent)
    })
  }

  /** The main frame loads `url`: a new page, and 'did-navigate' as Electron emits it. */
  navigate(url) {
    this.url = url
    this.mainFrame.url = url
    this.emit('did-navigate', {}, url)
  }

  /** An iframe of this window at `url`, with the ipcRenderer its preload would get. */
  openSubframe(url) {
    return new FakeIpcRenderer(this, fakeFrame(url, this.mainFrame))
  }

  // The IpcMainInvokeEvent / IpcMainEvent a handler receives.
  createEvent(frame = this.mainFrame) {
    return { sender: this, senderFrame: frame, processId: 1, frameId: this.id }
  }
}

// A WebFrameMain: `origin` as Electron reports it (`file://` for files).
function fakeFrame(url, parent) {
  return {
    url,
    parent,
    get origin() {
      const parsed = new URL(this.url)
      return parsed.protocol === 'file:' ? 'file://' : `${parsed.protocol}//${parsed.host}`
    },
  }
}

// Copies a value from one JavaScript world to the other as contextBridge does.
function copyAcrossWorlds(value) {
  if (typeof value === 'function') {
    return (...args) => {
      let result
      try {
        result = value(...args.map(copyAcrossWorlds))
      } catch (error) {
        throw copyError(error)
      }
      return copyAcrossWorlds(result)
    }
  }
  if (value instanceof Promise) {
    return value.then(copyAcrossWorlds, (error) => {
      throw copyError(error)
    })
  }
  if (value instanceof Error) return copyError(value)
  if (Array.isArray(value)) return value.map(copyAcrossWorlds)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, copyAcrossWorlds(item)]))
  }
  return value
}

function copyError(error) {
  return new Error(error instanceof Error ? error.message : String(error))
}

class FakeContextBridge {
  /** @param {object} mainWorld the page's `window` */
  constructor(mainWorld) {
    this.mainWorld = mainWorld
  }

  exposeInMainWorld(apiKey, api) {
    if (Object.hasOwn(this.mainWorld, apiKey)) {
      throw new Error(`Cannot bind an API on top of an existing property on the window object`)
    }
    this.mainWorld[apiKey] = copyAcrossWorlds(api)
  }
}

class FakeBrowserWindow {
  constructor(ipcMain, url) {
    this.webContents = new FakeWebContents(ipcMain, url)
    /** The page's `window`, where contextBridge puts what the preload exposes. */
    this.mainWorld = {}
    this.contextBridge = new FakeContextBridge(this.mainWorld)
    this.ipcRenderer = this.webContents.ipcRenderer
  }

  isDestroyed() {
    return this.webContents.isDestroyed()
  }

  close() {
    this.webContents.destroy()
  }
}

/**
 * A fresh fake Electron: `ipcMain`, `BrowserWindow.getAllWindows()`, and
 * `openWindow({ url, preload })`, which runs `preload(contextBridge, ipcRenderer)` in the
 * new window as Electron runs a preload script.
 */
function createFakeElectron() {
  const ipcMain = new FakeIpcMain()
  const windows = []
  return {
    ipcMain,
    BrowserWindow: { getAllWindows: () => windows.filter((window) => !window.isDestroyed()) },
    openWindow({ url = 'app://renderer/index.html', preload } = {}) {
      const window = new FakeBrowserWindow(ipcMain, url)
      windows.push(window)
      preload?.(window.contextBridge, window.ipcRenderer)
      return window
    },
  }
}

module.exports = { createFakeElectron }
