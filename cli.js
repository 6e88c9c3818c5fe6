#!/usr/bin/env node
'use strict'
// symbiote-auth: sign in, look at the session, and check an API's setup from a terminal.
// The password is read from the terminal without echo, or from stdin when it is not a
// terminal; it is never taken from the command line and never printed. The raw JWT is
// printed only by `token --raw`. The parts live in cli/, a file per concern.

const { version } = require('./package.json')
const { EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, USAGE, USAGE_HINT, UsageError, parseArguments } = require('./cli/arguments')
const { Interrupted } = require('./cli/password')
const { printable, errorInfo, describeFailure } = require('./cli/output')
const { runClientCommand } = require('./cli/commands')
const { runDoctor } = require('./cli/doctor-checks')

/** Runs one command; resolves to the exit code. `io`: { stdin, stdout, stderr, env }. */
async function run(argv, io) {
  let parsed
  try {
    parsed = parseArguments(argv)
  } catch (error) {
    io.stderr.write(`symbiote-auth: ${printable(error.message)}\n${argv.length === 0 ? `\n${USAGE}` : USAGE_HINT}`)
    return EXIT_USAGE
  }
  if (parsed.help) {
    io.stdout.write(USAGE)
    return EXIT_OK
  }
  if (parsed.version) {
    io.stdout.write(`${version}\n`)
    return EXIT_OK
  }
  const { command } = parsed
  const options = { ...parsed.options, baseUrl: parsed.options.baseUrl ?? io.env.SYMBIOTE_AUTH_BASE_URL }
  try {
    if (command === 'doctor') return await runDoctor(options, io)
    if (!options.baseUrl) throw new UsageError(`${command} needs --base-url (or SYMBIOTE_AUTH_BASE_URL)`)
    return await runClientCommand(command, options, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`symbiote-auth: ${printable(error.message)}\n${USAGE_HINT}`)
      return EXIT_USAGE
    }
    if (error instanceof Interrupted) return EXIT_INTERRUPTED
    const info = errorInfo(error)
    if (options.json) io.stdout.write(`${JSON.stringify({ ok: false, error: info })}\n`)
    const hint =
      info.code === 'E_LOGIN_REQUIRED'
        ? `\nSign in first: symbiote-auth login --base-url ${printable(options.baseUrl)} --email <email>`
        : ''
    io.stderr.write(`symbiote-auth: ${printable(describeFailure(error))}${hint}\n`)
    return EXIT_FAILED
  }
}

module.exports = { run }

if (require.main === module) {
  run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code
  })
}
