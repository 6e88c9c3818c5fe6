'use strict'
// Row 5: JWT verification, RS256 and ES256: the same token and key for both sides.
// Ours: client.isJwtTokenValid(token) (synchronous; the JWKS cached since login).
// Baseline: jose jwtVerify with createLocalJWKSet over the same JWKS document.
// Both check the signature, the algorithm allowlist, exp/nbf with 30 s leeway, iss and aud.
// Floor: Node's own crypto.verify of the same signature with a KeyObject made once: the
// signature check alone, no parsing and no claims.

const crypto = require('node:crypto')
const { fromTask, benchOptions } = require('../lib/common')

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

  const rawChecks = Object.fromEntries(Object.entries(tokens).map(([alg, token]) => [alg, rawSignatureCheck(alg, token, jwks)]))
  for (const [alg, check] of Object.entries(rawChecks)) if (!check()) throw new Error(`crypto.verify refused the ${alg} signature`)

  const bench = new Bench(benchOptions({ name: 'verify', time: 1000, iterations: 500, warmupTime: 250, warmupIterations: 50 }))
  for (const [alg, token] of Object.entries(tokens)) {
    bench.add(`ours ${alg}: isJwtTokenValid(token)`, () => {
      if (!client.isJwtTokenValid(token)) throw new Error('refused')
    })
    bench.add(`jose ${alg}: await jwtVerify(token, createLocalJWKSet(jwks))`, async () => {
      await jose.jwtVerify(token, keys, options)
    })
    bench.add(`floor ${alg}: crypto.verify of the signature alone`, () => {
      if (!rawChecks[alg]()) throw new Error('refused')
    })
  }
  log('row 5: RS256 and ES256, ours vs jose vs crypto.verify')
  await bench.run()
  await client.logout()

  const [oursRs, joseRs, floorRs, oursEs, joseEs, floorEs] = bench.tasks.map((t) => fromTask(t))
  const line = (id, alg, ours, baseline, floor) => {
    const met = ours.median <= 0.5 * baseline.median && ours.median <= 2 * floor.median
    return {
      id,
      title: `JWT verification ${alg}: isJwtTokenValid vs jose jwtVerify (local JWK set)`,
      ours: ours.median,
      baseline: baseline.median,
      unit: 'ms',
      target: '<= 0.5x jose and <= 2x crypto.verify',
      met,
      miss: met
        ? undefined
        : `${(ours.median / baseline.median).toFixed(2)}x jose, ${(ours.median / floor.median).toFixed(2)}x crypto.verify`,
    }
  }
  const ratio = (alg, ours, floor) => `${alg}: ours is ${(ours.median / floor.median).toFixed(2)}x the crypto.verify floor`
  return {
    measures: bench.tasks.map((task) => ({ label: task.name, unit: 'ms', ...fromTask(task) })),
    lines: [line('5a', 'RS256', oursRs, joseRs, floorRs), line('5b', 'ES256', oursEs, joseEs, floorEs)],
    notes: [ratio('RS256', oursRs, floorRs), ratio('ES256', oursEs, floorEs)],
  }
}

/** `crypto.verify` of `token`'s signature with its JWK from `jwks`, the KeyObject made once. */
function rawSignatureCheck(alg, token, jwks) {
  const [header, payload, signature] = token.split('.')
  const { kid } = JSON.parse(Buffer.from(header, 'base64url'))
  const key = crypto.createPublicKey({ key: jwks.keys.find((k) => k.kid === kid), format: 'jwk' })
  const signingInput = Buffer.from(`${header}.${payload}`)
  const bytes = Buffer.from(signature, 'base64url')
  const keyOptions = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key
  return () => crypto.verify('sha256', signingInput, keyOptions, bytes)
}

module.exports = { run }
