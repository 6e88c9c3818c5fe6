'use strict'
// Row 6, in a fresh process started with --expose-gc: RSS growth over many tokens() calls
// or many login/logout cycles, after a warmup. Prints one JSON line.
//   node --expose-gc memory-child.js tokens <calls> <warmup>
//   node --expose-gc memory-child.js cycles <cycles> <warmup>
// The server's URL and the demo user come in SYMBIOTE_BENCH_SERVER (JSON).

const { AuthClient } = require(process.env.SYMBIOTE_BENCH_ADDON)
const { createMcpAuthProvider } = require('../../mcp')

const { url, user } = JSON.parse(process.env.SYMBIOTE_BENCH_SERVER)
const [mode, countArg, warmupArg] = process.argv.slice(2)
const count = Number(countArg)
const warmup = Number(warmupArg)

async function settle() {
  // Let finalizers and pending native callbacks run, then collect everything twice.
  for (let i = 0; i < 3; i++) {
    await new Promise(setImmediate)
    global.gc()
  }
  await new Promise((resolve) => setTimeout(resolve, 100))
  global.gc()
  return process.memoryUsage()
}

async function main() {
  const client = new AuthClient({ baseUrl: url, storage: 'memory', account: `bench-memory-${mode}` })
  let step
  if (mode === 'tokens') {
    await client.login(user)
    const provider = createMcpAuthProvider(client, { serverUrl: `${url}/mcp` })
    step = async (n) => {
      for (let i = 0; i < n; i++) {
        const tokens = await provider.tokens()
        if (tokens === undefined) throw new Error('signed out')
        if ((i & 4095) === 0) await new Promise(setImmediate)
      }
    }
  } else if (mode === 'cycles') {
    step = async (n) => {
      for (let i = 0; i < n; i++) {
        await client.login(user)
        await client.logout()
      }
    }
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
  await step(warmup)
  const before = await settle()
  const started = performance.now()
  await step(Math.floor(count / 2))
  const seconds1 = (performance.now() - started) / 1000
  const middle = await settle()
  const resumed = performance.now()
  await step(count - Math.floor(count / 2))
  const seconds = seconds1 + (performance.now() - resumed) / 1000
  const after = await settle()
  if (mode === 'tokens') await client.logout()
  const delta = (key) => after[key] - before[key]
  process.stdout.write(
    `${JSON.stringify({
      mode,
      count,
      warmup,
      seconds,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssMiddle: middle.rss,
      rssGrowth: delta('rss'),
      rssGrowthFirstHalf: middle.rss - before.rss,
      rssGrowthSecondHalf: after.rss - middle.rss,
      heapUsedGrowth: delta('heapUsed'),
      externalGrowth: delta('external'),
    })}\n`
  )
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`)
  process.exit(1)
})
