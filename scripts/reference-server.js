'use strict'
// `npm run reference-server`: the reference Flask API (testing/flask_api, Flask-Security-Too)
// on loopback, for the README's quick start and for trying the CLI. Runs until Ctrl-C.
// `--csrf` turns Flask-WTF CSRF on (then the client needs `paths: { csrf: '/api/login' }`).

const { startReferenceServer } = require('../testing/server')

async function main() {
  const csrf = process.argv.includes('--csrf')
  const server = await startReferenceServer({ csrf })
  const { email, password } = server.user
  process.stdout.write(
    [
      `Reference Flask API on ${server.url}${csrf ? ' (CSRF on)' : ''}; Ctrl-C stops it.`,
      `Demo user: ${email} / ${password}. In another terminal:`,
      `  export API_URL=${server.url} API_EMAIL=${email} API_PASSWORD=${password}`,
      '',
    ].join('\n')
  )
  const stop = () => server.stop().finally(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  // The server is unref'd (a test must not hang on it); this keeps the process up.
  setInterval(() => {}, 1 << 30)
}

main().catch((error) => {
  process.stderr.write(`reference-server: ${error.message}\n`)
  process.exitCode = 1
})
