'use strict'
// The page: only window.symbioteAuth and window.exampleMcp from the preload; no token here.

const auth = window.symbioteAuth
const $ = (id) => document.getElementById(id)

let expiresAt = null

function show(text) {
  $('output').textContent = text
}

function showCountdown() {
  if (expiresAt === null) return
  const seconds = Math.round((expiresAt - Date.now()) / 1000)
  $('countdown').textContent = seconds > 0 ? `in ${Math.floor(seconds / 60)} min ${seconds % 60} s` : 'now (refreshing)'
}

function render(status) {
  $('badge').dataset.state = status.state
  $('badge').textContent = status.state.replace('-', ' ')
  $('sign-in').hidden = status.authenticated
  $('signed-in').hidden = !status.authenticated
  $('user').textContent = status.user ? `${status.user.displayName ?? status.user.email} <${status.user.email}>` : ''
  expiresAt = status.expiresAt
  showCountdown()
  if (status.lastError) show(`${status.lastError.code}: ${status.lastError.message}`)
}

// Errors crossing contextBridge keep only their message, which starts with the code.
async function attempt(work) {
  try {
    await work()
  } catch (error) {
    show(error.message)
  }
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault()
  const credentials = { email: $('email').value, password: $('password').value, remember: $('remember').checked }
  $('password').value = ''
  show('Signing in…')
  attempt(async () => {
    render(await auth.login(credentials))
    show('')
  })
})

$('sign-out').addEventListener('click', () => attempt(() => auth.logout()))
$('whoami').addEventListener('click', () => attempt(async () => show(`MCP whoami: ${await window.exampleMcp.whoami()}`)))

setInterval(showCountdown, 1000)
// Subscribe first, then read: no change can fall between the two.
auth.onStatusChange(render)
attempt(async () => render(await auth.restore()))
