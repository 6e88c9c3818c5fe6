'use strict'
// Row 3: soak. 200 concurrent callers loop tokens() (createMcpAuthProvider) for
// BENCH_SOAK_SECONDS (default 120) while the API issues 3-second JWTs, so the token is
// replaced every ~2 s by the proactive refresh. Every refresh is held 200 ms at the server:
// a call that waited on the network would take at least that long, so "waited" means a
// call slower than half of it. Token requests should be ≈ duration / refresh interval.

const { createMcpAuthProvider } = require('../../mcp')
const { sleep, amount } = require('../lib/common')

const CALLERS = 200
const LIFETIME_S = 3
const REFRESH_DELAY_MS = 200
const WAITED_MS = REFRESH_DELAY_MS / 2
const YIELD_EVERY = 10

/** A latency histogram, 8 buckets per power of two of nanoseconds (no per-call allocation). */
function histogram() {
  const STEPS = 8
  const buckets = new Float64Array(STEPS * 40)
  let count = 0
  let max = 0
  return {
    add(ms) {
      count++
      if (ms > max) max = ms
      const ns = ms * 1e6
      buckets[ns <= 1 ? 0 : Math.min(buckets.length - 1, Math.ceil(STEPS * Math.log2(ns)))]++
    },
    /** The upper edge of the bucket holding quantile q, in ms. */
    quantile(q) {
      let seen = 0
      for (let i = 0; i < buckets.length; i++) {
        seen += buckets[i]
        if (seen >= q * count) return 2 ** (i / STEPS) / 1e6
      }
      return max
    },
    get count() {
      return count
    },
    get max() {
      return max
    },
  }
}

async function run({ addon, server, log }) {
  const seconds = amount('BENCH_SOAK_SECONDS', 120, 4)
  await server.config({ lifetime: LIFETIME_S })
  const client = new addon.AuthClient({ baseUrl: server.url, storage: 'memory', account: 'bench-soak' })
  await client.login(server.user)
  await server.fault({ endpoint: 'refresh', delayMs: REFRESH_DELAY_MS, count: -1 })

  // The native provider, counted: how often the JS cache went to the async path or loaded a
  // new generation.
  const native = client.mcpProvider(`${server.url}/mcp`)
  const counts = { asyncPath: 0, snapshots: 0 }
  const counted = {
    get origin() {
      return native.origin
    },
    generationProbe: () => native.generationProbe(),
    tokenSnapshot() {
      counts.snapshots++
      return native.tokenSnapshot()
    },
    tokens() {
      counts.asyncPath++
      return native.tokens()
    },
    token() {
      counts.asyncPath++
      return native.token()
    },
    onUnauthorized: (t) => native.onUnauthorized(t),
    invalidateCredentials: (s) => native.invalidateCredentials(s),
  }
  const provider = createMcpAuthProvider({ mcpProvider: () => counted }, { serverUrl: `${server.url}/mcp` })

  const expOf = new Map()
  const exp = (token) => {
    let value = expOf.get(token)
    if (value === undefined) {
      value = JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp * 1000
      expOf.set(token, value)
    }
    return value
  }

  const latency = histogram()
  let waited = 0
  let expiredServed = 0
  let missing = 0
  let checked = 0
  const before = await server.counters()
  const started = performance.now()
  const deadline = started + seconds * 1000
  log(`row 3: ${CALLERS} callers for ${seconds} s, ${LIFETIME_S} s tokens, refreshes held ${REFRESH_DELAY_MS} ms`)

  async function caller() {
    for (let i = 1; ; i++) {
      const t0 = performance.now()
      if (t0 >= deadline) return
      const tokens = await provider.tokens()
      const t1 = performance.now()
      const ms = t1 - t0
      latency.add(ms)
      if (ms >= WAITED_MS) waited++
      if (tokens === undefined) missing++
      else if ((i & 63) === 0) {
        checked++
        if (exp(tokens.access_token) <= Date.now()) expiredServed++
      }
      if (i % YIELD_EVERY === 0) await new Promise(setImmediate)
    }
  }

  const progress = setInterval(() => log(`row 3: ${Math.round((performance.now() - started) / 1000)} s, ${latency.count} calls`), 30_000)
  await Promise.all(Array.from({ length: CALLERS }, caller))
  clearInterval(progress)
  const elapsed = (performance.now() - started) / 1000
  const after = await server.counters()
  await server.clearFaults()
  // A refresh still held at the server would, after the logout, fall back to the token
  // endpoint and land in the next row's counters: let it finish first.
  while (client.status().state === 'refreshing') await sleep(10)
  await client.logout()
  await sleep(REFRESH_DELAY_MS + 100)

  const tokenRequests = after.refresh + after.token - before.refresh - before.token
  // exp and iat are whole seconds: a token minted at t has refresh_at = floor(t) + lifetime
  // - window, half a second early on average; the next token is minted a held refresh later.
  const windowS = Math.min(300, LIFETIME_S / 5)
  const interval = LIFETIME_S - windowS - 0.5 + REFRESH_DELAY_MS / 1000
  const expected = elapsed / interval
  const within = Math.abs(tokenRequests - expected) <= Math.max(2, 0.15 * expected)

  return {
    measures: [
      {
        label: `tokens() latency, ${latency.count} calls by ${CALLERS} callers over ${elapsed.toFixed(0)} s (histogram buckets of 2^(1/8): upper edges; includes two performance.now() reads)`,
        unit: 'ms',
        n: latency.count,
        median: latency.quantile(0.5),
        p75: latency.quantile(0.75),
        p99: latency.quantile(0.99),
        mad: undefined,
        max: latency.max,
      },
    ],
    calls: latency.count,
    waited,
    expiredServed,
    checked,
    missing,
    tokenRequests,
    expectedTokenRequests: +expected.toFixed(1),
    generationsLoaded: counts.snapshots,
    asyncPathCalls: counts.asyncPath,
    seconds: +elapsed.toFixed(1),
    notes: [
      `${latency.count} calls in ${elapsed.toFixed(0)} s; slowest ${latency.max.toFixed(2)} ms; ${counts.asyncPath} took the async native path (answered without the network), ${counts.snapshots} new token generations loaded into the JS cache`,
      `${checked} calls (every 64th) checked against the token's exp: ${expiredServed} expired tokens handed out; ${missing} calls answered undefined`,
      `token requests ${tokenRequests} (refresh + token endpoints) vs expected ${expected.toFixed(1)} = ${elapsed.toFixed(0)} s / ${interval.toFixed(1)} s (lifetime ${LIFETIME_S} s - window ${windowS} s - 0.5 s whole-second exp + ${REFRESH_DELAY_MS} ms held refresh)`,
    ],
    lines: [
      {
        id: '3a',
        title: `soak ${elapsed.toFixed(0)} s, ${LIFETIME_S} s JWTs, ${CALLERS} callers looping tokens(): calls that waited on the network (>= ${WAITED_MS} ms)`,
        ours: waited,
        baseline: undefined,
        unit: 'count',
        target: '0',
        met: waited === 0 && expiredServed === 0 && missing === 0,
      },
      {
        id: '3b',
        title: 'soak: token requests vs duration / refresh interval',
        ours: tokenRequests,
        baseline: +expected.toFixed(1),
        unit: 'count',
        target: '≈ (within 15%)',
        met: within,
      },
    ],
  }
}

module.exports = { run }
