'use strict'
// How the API is reached: the `proxy` option, setProxy(), and loopback never proxied.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { useReferenceServer, newClient, captureLogs, rejection, thrown } = require('./helpers/client')

const run = promisify(execFile)
const ref = useReferenceServer()
const CHILD = path.join(__dirname, 'helpers', 'child-client.js')
// Never resolves: `.invalid` is reserved (RFC 2606), so nothing leaves the machine.
const REMOTE_API = 'https://symbiote-proxy-test.invalid'
const PROXY_PASSWORD = 'proxy-hunter2'

/** A proxy that records the first line and headers of every request and refuses it. */
async function recordingProxy() {
  const requests = []
  const server = net.createServer((socket) => {
    let head = ''
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      const [line, ...headers] = head.split('\r\n\r\n')[0].split('\r\n')
      requests.push({ line, headers: headers.map((h) => h.toLowerCase()) })
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')
    })
    socket.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return { port, url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(resolve)) }
}

test('HTTP_PROXY and ALL_PROXY are never used for a loopback API', async () => {
  const proxy = await recordingProxy()
  try {
    const options = { baseUrl: ref.server.url, storage: 'memory', account: 'proxy-env' }
    const env = { ...process.env, HTTP_PROXY: proxy.url, http_proxy: proxy.url, ALL_PROXY: proxy.url, NO_PROXY: '' }
    // A child process: the HTTP client reads the proxy variables once per process.
    const { stdout } = await run(
      process.execPath,
      [CHILD, JSON.stringify(options), 'login', ref.server.user.email, ref.server.user.password],
      {
        env,
        timeout: 60_000,
      }
    )
    const result = JSON.parse(stdout.trim().split('\n').pop())
    assert.equal(result.status?.state, 'valid', stdout)
    assert.deepEqual(proxy.requests, [], 'the proxy saw nothing of the loopback sign-in')
  } finally {
    await proxy.close()
  }
})

test('an explicit proxy URL carries a remote API, and setProxy("none") stops it', async () => {
  const proxy = await recordingProxy()
  try {
    const client = newClient(ref.server, {
      baseUrl: REMOTE_API,
      proxy: `http://symbiote:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`,
      requestTimeoutMs: 5000,
      logLevel: 'trace',
    })
    const logs = captureLogs(client)
    const refused = await rejection(client.login(ref.server.user))
    assert.equal(refused.code, 'E_NETWORK')
    assert.equal(proxy.requests.length, 1)
    assert.equal(proxy.requests[0].line, 'CONNECT symbiote-proxy-test.invalid:443 HTTP/1.1')
    assert.ok(
      proxy.requests[0].headers.some((h) => h.startsWith('proxy-authorization: basic ')),
      'the proxy credentials go to the proxy'
    )

    client.setProxy('none')
    const direct = await rejection(client.login(ref.server.user))
    assert.equal(direct.code, 'E_NETWORK')
    assert.equal(proxy.requests.length, 1, 'nothing more reached the proxy')

    client.setProxy(proxy.url)
    await rejection(client.login(ref.server.user))
    assert.equal(proxy.requests.length, 2, 'setProxy(url) applies from the next request')

    const seen = JSON.stringify([refused.message, direct.message, client.status(), logs])
    assert.equal(seen.includes(PROXY_PASSWORD), false, 'the proxy password is in no message or log')
  } finally {
    await proxy.close()
  }
})

test('a loopback API is reached directly even with an explicit proxy', async () => {
  const proxy = await recordingProxy()
  try {
    const client = newClient(ref.server, { proxy: proxy.url })
    assert.equal((await client.login(ref.server.user)).state, 'valid')
    client.setProxy(proxy.url)
    await client.refreshJwtToken()
    assert.deepEqual(proxy.requests, [])
  } finally {
    await proxy.close()
  }
})

test('a proxy setting that cannot work is E_CONFIG without repeating it', () => {
  for (const proxy of [`socks5://u:${PROXY_PASSWORD}@127.0.0.1:1080`, `not a url ${PROXY_PASSWORD}`, 42]) {
    const error = thrown(() => newClient(ref.server, { proxy }))
    assert.equal(error.code, 'E_CONFIG')
    assert.equal(error.message.includes(PROXY_PASSWORD), false, error.message)
  }
  const client = newClient(ref.server)
  const error = thrown(() => client.setProxy(`ftp://${PROXY_PASSWORD}@proxy.example.com`))
  assert.equal(error.code, 'E_CONFIG')
  assert.equal(error.message.includes(PROXY_PASSWORD), false, error.message)
})
