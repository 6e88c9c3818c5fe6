'use strict'
// Row 5: JWT verification, RS256 and ES256: the same token and key for both sides.
// Ours: client.isJwtTokenValid(token) (synchronous; the JWKS cached since login).
// Baseline: jose jwtVerify with createLocalJWKSet over the same JWKS document.
// Both check the signature, the algorithm allowlist, exp/nbf with 30 s leeway, iss and aud.

const { fromTask } = require('../lib/common')

const ISSUER = 'symbiote-reference'
const AUDIENCE = 'symbiote-desktop'

async function run({ addon, server, tinybench, log }) {
  const { Bench } = tinybench
  const jose = await import('jose')
  const client = new addon.AuthClient({
    baseUrl: server.url,
    storage: 'memory',
    account: 'bench-verify',
    issuer: ISSUER,
    audience: AUDIENCE,
  })
  await client.login(server.user)
  const jwks = await (await fetch(`${server.url}/api/jwt/jwks`)).json()
  const keys = jose.createLocalJWKSet(jwks)
  const options = { issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256', 'ES256'], clockTolerance: 30 }

  const tokens = {
    RS256: await server.sign({ alg: 'RS256', lifetime: 3600 }),
    ES256: await server.sign({ alg: 'ES256', lifetime: 3600 }),
  }
  for (const [alg, token] of Object.entries(tokens)) {
    if (!client.isJwtTokenValid(token)) throw new Error(`ours refused the ${alg} token`)
    await jose.jwtVerify(token, keys, options)
    // Both must also refuse a bad signature, or the comparison means nothing.
    const forged = token.slice(0, -6) + (token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA')
    if (client.isJwtTokenValid(forged)) throw new Error(`ours accepted a forged ${alg} token`)
    if (
      await jose.jwtVerify(forged, keys, options).then(
        () => true,
        () => false
      )
    )
      throw new Error(`jose accepted a forged ${alg} token`)
  }

  const bench = new Bench({ name: 'verify', time: 1000, iterations: 500, warmupTime: 250, warmupIterations: 50 })
  for (const [alg, token] of Object.entries(tokens)) {
    bench.add(`ours ${alg}: isJwtTokenValid(token)`, () => {
      if (!client.isJwtTokenValid(token)) throw new Error('refused')
    })
    bench.add(`jose ${alg}: await jwtVerify(token, createLocalJWKSet(jwks))`, async () => {
      await jose.jwtVerify(token, keys, options)
    })
  }
  log('row 5: RS256 and ES256, ours vs jose')
  await bench.run()
  await client.logout()

  const [oursRs, joseRs, oursEs, joseEs] = bench.tasks.map((t) => fromTask(t))
  const line = (id, alg, ours, baseline) => ({
    id,
    title: `JWT verification ${alg}: isJwtTokenValid vs jose jwtVerify (local JWK set)`,
    ours: ours.median,
    baseline: baseline.median,
    unit: 'ms',
    target: '<= 1.0x',
    met: ours.median <= baseline.median,
    miss: ours.median > baseline.median ? `${(ours.median / baseline.median).toFixed(2)}x` : undefined,
  })
  return {
    measures: bench.tasks.map((task) => ({ label: task.name, unit: 'ms', ...fromTask(task) })),
    lines: [line('5a', 'RS256', oursRs, joseRs), line('5b', 'ES256', oursEs, joseEs)],
  }
}

module.exports = { run }
