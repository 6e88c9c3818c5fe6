'use strict'
// The password: from the terminal without echo, or the first line of stdin when stdin is
// not a terminal. Never from the command line, never printed.

const { UsageError } = require('./arguments')

// A password, not a file: anything longer is a mistake in the pipe.
const MAX_STDIN_CHARACTERS = 64 * 1024

class Interrupted extends Error {}

function readPassword(io, prompt) {
  return io.stdin.isTTY ? readHiddenFromTerminal(io, prompt) : readFirstLine(io.stdin)
}

// Raw mode turns echo off, before the prompt invites typing; the characters are collected
// here and never written back.
function readHiddenFromTerminal({ stdin, stderr }, prompt) {
  return new Promise((resolve, reject) => {
    let password = ''
    const finish = (error) => {
      stdin.removeListener('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      stderr.write('\n')
      if (error) reject(error)
      else resolve(password)
    }
    const onData = (chunk) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n' || character === '\u0004') return finish()
        if (character === '\u0003') return finish(new Interrupted('interrupted'))
        if (character === '\u007f' || character === '\b') password = [...password].slice(0, -1).join('')
        else if (character >= ' ') password += character
      }
    }
    stdin.setRawMode(true)
    stderr.write(prompt)
    stdin.setEncoding('utf8')
    stdin.on('data', onData)
    stdin.resume()
  })
}

async function readFirstLine(stream) {
  let text = ''
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    if (text.length > MAX_STDIN_CHARACTERS)
      throw new UsageError(`stdin holds more than ${MAX_STDIN_CHARACTERS} characters; pipe only the password`)
  }
  return text.split(/\r?\n/, 1)[0]
}

module.exports = { Interrupted, readPassword }
