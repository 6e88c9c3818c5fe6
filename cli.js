#!/usr/bin/env node
'use strict'
// symbiote-auth: sign in, look at the session, and check an API's setup from a terminal.
// The password is read from the terminal without echo, or from stdin when it is not a
// terminal; it is never taken from the command line and never printed. The raw JWT is
// printed only by `token --raw`. The parts live in cli/, a file per concern.

const { version } = require('./package.json')
const {
  EXIT_OK,
  EXIT_FAILED,
  EXIT_USAGE,
  EXIT_INTERRUPTED,
  USAGE,
  USAGE_HINT,
  USAGE_CODE,
  UsageError,
  parseArguments,
} = require('./cli/arguments')
const { Interrupted } = require('./cli/password')
const { printable, errorInfo, describeFailure, nextStep, colours } = require('./cli/output')
const { runClientCommand } = require('./cli/commands')
const { runDoctor } = require('./cli/doctor-checks')

/** Runs one command; resolves to the exit code. `io`: { stdin, stdout, stderr, env }. */
async function run(argv, io) {
  // Known before parsing, so that a usage error is JSON too.
  const json = argv.includes('--json')
  const { red } = colours(io.stderr, io.env)
  const usageFailure = (message) => {
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code: USAGE_CODE, message } })}\n`)
    io.stderr.write(`${red('symbiote-auth:')} ${printable(message)}\n${argv.length === 0 ? `\n${USAGE}` : USAGE_HINT}`)
    return EXIT_USAGE
  }
  let parsed
  try {
    parsed = parseArguments(argv)
  } catch (error) {
    return usageFailure(error.message)
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
    if (error instanceof UsageError) return usageFailure(error.message)
    if (error instanceof Interrupted) {
      if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'E_ABORTED', message: 'interrupted' } })}\n`)
      return EXIT_INTERRUPTED
    }
    const info = errorInfo(error)
    const next = nextStep(info.code, options.baseUrl)
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: info, ...(next && { next }) })}\n`)
    io.stderr.write(`${red('symbiote-auth:')} ${printable(describeFailure(error))}${next ? `\n${next}` : ''}\n`)
    return EXIT_FAILED
  }
}

module.exports = { run }

if (require.main === module) {
  run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code
  })
}
