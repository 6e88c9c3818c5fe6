'use strict'
// Runs one AuthClient action in a separate Node process, as a restarted app would, and
// prints the outcome as JSON on its last line. Used to prove what survives a restart.
//   node child-client.js '<options json>' <login|restore|restore-refresh|refresh-loop> [email] [password] [n]

const { AuthClient } = require('../..')

async function main() {
  const [optionsJson, action, email, password, count] = process.argv.slice(2)
  const client = new AuthClient(JSON.parse(optionsJson))
  const result = {}
  if (action === 'login') {
    result.status = await client.login({ email, password })
  } else if (action === 'restore') {
    result.status = await client.restore()
  } else if (action === 'restore-refresh') {
    result.restored = await client.restore()
    result.restoredToken = client.getStoredJwtToken()
    await client.refreshJwtToken()
    result.status = client.status()
  } else if (action === 'refresh-loop') {
    await client.login({ email, password })
    for (let i = 0; i < Number(count); i++) await client.refreshJwtToken()
    result.status = client.status()
  } else {
    throw new Error(`unknown action ${action}`)
  }
  result.token = client.getStoredJwtToken()
  console.log(JSON.stringify(result))
}

main().catch((error) => {
  console.log(JSON.stringify({ error: { code: error.code, message: error.message } }))
})
