'use strict'
// The example's MCPService, shaped like the host's (src/main/services/MCPService.ts): one
// cached MCP client per configured server, a transport chosen per server. Which servers get
// the JWT is decided by origin (`authClient.isTrustedUrl`), never by the server's name.

const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js')
const { SSEClientTransport } = require('@modelcontextprotocol/sdk/client/sse.js')
const { StdioClientTransport, getDefaultEnvironment } = require('@modelcontextprotocol/sdk/client/stdio.js')
const { createAuthTransport, createStdioAuthTransport } = require('symbiote-auth/mcp')

const HTTP_TRANSPORTS = { streamableHttp: StreamableHTTPClientTransport, sse: SSEClientTransport }

class McpService {
  #authClient
  #servers
  #log
  #clients = new Map()

  /** `servers`: `{ name, type: 'streamableHttp' | 'sse' | 'stdio', baseUrl?, headers?, command?, args?, env? }[]`. */
  constructor({ authClient, servers, log = () => {} }) {
    this.#authClient = authClient
    this.#servers = new Map(servers.map((server) => [server.name, server]))
    this.#log = log
  }

  // The built-in stdio server reaches REMOTE_MCP_URL itself: it gets the token in its
  // environment, and a new process whenever the token changes.
  #transport(server) {
    if (server.type === 'stdio') {
      const params = { command: server.command, args: server.args, env: { ...getDefaultEnvironment(), ...server.env } }
      const remote = server.env?.REMOTE_MCP_URL
      if (remote && this.#authClient.isTrustedUrl(remote)) {
        return createStdioAuthTransport(this.#authClient, StdioClientTransport, {
          ...params,
          serverUrl: remote,
          tokenEnv: { HTTP_HEADER_AUTHORIZATION: 'Bearer {token}' },
        })
      }
      return new StdioClientTransport(params)
    }
    const Transport = HTTP_TRANSPORTS[server.type]
    const options = { requestInit: { headers: server.headers ?? {} } }
    return this.#authClient.isTrustedUrl(server.baseUrl)
      ? createAuthTransport(this.#authClient, Transport, server.baseUrl, options)
      : new Transport(new URL(server.baseUrl), options)
  }

  // Says, per request, whether the user's JWT went with it: never the token itself.
  #logged(server, transport) {
    const url = server.type === 'stdio' ? server.env?.REMOTE_MCP_URL : server.baseUrl
    const withJwt = url !== undefined && this.#authClient.isTrustedUrl(url)
    const send = transport.send.bind(transport)
    transport.send = (message, options) => {
      if (message.method) {
        const { expiresAt } = this.#authClient.status()
        const jwt = withJwt && expiresAt ? `with the user's JWT (expires ${new Date(expiresAt).toISOString()})` : 'without a JWT'
        this.#log(`[MCP] ${server.name} ${message.method} ${jwt}`)
      }
      return send(message, options)
    }
    return transport
  }

  async #client(name) {
    let pending = this.#clients.get(name)
    if (!pending) {
      const server = this.#servers.get(name)
      if (!server) throw Object.assign(new Error(`E_INVALID_ARGUMENT: no MCP server named ${name}`), { code: 'E_INVALID_ARGUMENT' })
      const client = new Client({ name: 'symbiote-auth-electron-example', version: '1.0.0' })
      pending = client.connect(this.#logged(server, this.#transport(server))).then(() => client)
      // A failed connection is not cached: the next call tries again.
      pending.catch(() => this.#clients.delete(name))
      this.#clients.set(name, pending)
    }
    return pending
  }

  async callTool(serverName, tool) {
    const client = await this.#client(serverName)
    const result = await client.callTool({ name: tool, arguments: {} })
    return result.content
      .filter((part) => part.type === 'text')
      .map((part) => part.text)
      .join('\n')
  }

  /** On sign-out or a change of user: cached clients were opened with the old session. */
  async closeAll() {
    const clients = [...this.#clients.values()]
    this.#clients.clear()
    await Promise.allSettled(clients.map(async (pending) => (await pending).close()))
  }
}

module.exports = { McpService }
