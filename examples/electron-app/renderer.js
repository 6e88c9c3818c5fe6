'use strict'
// The settings page: window.symbioteAuth and window.exampleApp from the preload; no token
// here, only the status (state, user, expiry, last error) and results.

const auth = window.symbioteAuth
const $ = (id) => document.getElementById(id)

let expiresAt = null

function show(text) {
  $('output').textContent = text
}

function showExpiry() {
  if (expiresAt === null) {
    $('expires').textContent = '—'
    return
  }
  const seconds = Math.round((expiresAt - Date.now()) / 1000)
  const when = new Date(expiresAt).toLocaleTimeString()
  $('expires').textContent = seconds > 0 ? `${when} (in ${Math.floor(seconds / 60)} min ${seconds % 60} s)` : `${when} (refreshing)`
}

function render(status) {
  $('badge').dataset.state = status.state
  $('badge').textContent = status.state.replace('-', ' ')
  $('state').textContent = status.state
  $('sign-in').hidden = status.authenticated
  $('signed-in').hidden = !status.authenticated
  $('user').textContent = status.user ? `${status.user.displayName ?? status.user.email} <${status.user.email}>` : '—'
  $('persistent').textContent = status.authenticated ? (status.persistent ? 'in the OS credential store' : 'this run only') : '—'
  $('last-error').textContent = status.lastError ? auth.userMessage(status.lastError) : 'none'
  $('last-error').title = status.lastError?.message ?? ''
  expiresAt = status.expiresAt
  $('expires').dataset.expiresAt = expiresAt ?? ''
  showExpiry()
}

// Errors crossing contextBridge keep only their message, which starts with the code: the
// page shows the user's words for it (auth.userMessage) and keeps the developer text in
// the console.
async function attempt(work) {
  try {
    await work()
  } catch (error) {
    show(auth.userMessage(error))
    console.warn(error.message)
  }
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault()
  const credentials = { email: $('email').value, password: $('password').value, remember: $('remember').checked }
  $('password').value = ''
  show('Signing in…')
  attempt(async () => {
    render(await auth.login(credentials))
    show('Signed in.')
  })
})

$('refresh').addEventListener('click', () =>
  attempt(async () => {
    render(await auth.refresh())
    show('Token refreshed.')
  })
)
$('sign-out').addEventListener('click', () =>
  attempt(async () => {
    await auth.logout()
    show('Signed out.')
  })
)
$('whoami').addEventListener('click', () => attempt(async () => show(`MCP whoami: ${await window.exampleApp.whoami()}`)))
$('agent').addEventListener('click', () =>
  attempt(async () => {
    const agent = await window.exampleApp.agentConfig()
    show(`Agent: ${agent.name} (${agent.type})`)
  })
)

setInterval(showExpiry, 1000)
// Subscribe first, then read: no change can fall between the two.
auth.onStatusChange(render)
attempt(async () => render(await auth.restore()))
