'use strict'
// Who may talk to the auth API: Electron's security checklist, validate every IPC sender.

const { configError } = require('./coded-error')

// The origin a page URL belongs to, comparable with what `allowedOrigins` lists: every
// file: URL is `file://`, and a custom scheme (app://bundle/…) keeps scheme and host
// (WHATWG URL gives "null" for both).
function originOf(url) {
  let parsed
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (parsed.protocol === 'file:') return 'file://'
  return parsed.host ? `${parsed.protocol}//${parsed.host}` : null
}

function parseAllowedOrigins(list) {
  if (!Array.isArray(list) || list.length === 0) {
    throw configError('allowedOrigins must be a non-empty array of origins such as "file://" or "app://bundle"')
  }
  return new Set(
    list.map((entry, index) => {
      const origin = typeof entry === 'string' ? originOf(entry) : null
      if (!origin)
        throw configError(`allowedOrigins[${index}] is not an origin such as "file://", "app://bundle" or "http://localhost:5173"`)
      return origin
    })
  )
}

// Electron's security checklist: validate the sender of every IPC message. A frame may
// use the API when it is the main frame of its window (never an iframe), its page is on
// an allowed origin (`allowedOrigins`: null leaves that to allowSender), and
// `allowSender` (if given) agrees. The same check runs for every call and before every
// push, so a page that navigated elsewhere, or a window the policy refuses, gets nothing.
// Returns why a sender is refused (naming its origin: an origin is not a secret, and it is
// what a developer has to add), or null when it may.
function senderPolicy(allowedOrigins, allowSender) {
  return (event) => {
    const frame = event?.senderFrame
    // Electron sets senderFrame to null once the frame navigated away or was destroyed.
    if (!frame || event.sender?.isDestroyed?.()) return 'the frame navigated away or was destroyed'
    const origin = originOf(frame.url) ?? 'an unknown origin'
    if (frame.parent != null) return `a subframe (${origin}) may not use the auth API: only a window's main frame may`
    if (allowedOrigins && !allowedOrigins.has(origin)) {
      return `a page on ${origin} may not use the auth API: allowedOrigins admits ${[...allowedOrigins].join(', ')}; add ${origin} to allowedOrigins if it is the app's own page (a dev server in development)`
    }
    if (allowSender && allowSender(event) !== true) return `allowSender refused the page on ${origin}`
    return null
  }
}

module.exports = { parseAllowedOrigins, senderPolicy }
