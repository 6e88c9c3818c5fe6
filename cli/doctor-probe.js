'use strict'
// One HTTP exchange of a doctor check, with Node's fetch: doctor looks at each answer itself
// (redirects included), where the client would only report the outcome.

// A request that got no HTTP answer, with what to do about it.
class TransportFailure extends Error {
  constructor(detail, fix) {
    super(detail)
    this.fix = fix
  }
}

// One HTTP exchange for a doctor check. Redirects are not followed, so a check sees them.
// The timeout covers the body too.
async function probe(url, { method = 'GET', headers = {}, body, timeoutMs, cookies = '' }) {
  const started = Date.now()
  let response
  let text
  try {
    response = await fetch(url, {
      method,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        accept: 'application/json',
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(cookies && { cookie: cookies }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    text = await response.text()
  } catch (error) {
    throw transportFailure(error, timeoutMs)
  }
  let json
  try {
    json = JSON.parse(text)
  } catch {}
  const dateHeader = response.headers.get('date')
  return {
    status: response.status,
    text,
    json,
    location: response.headers.get('location'),
    setCookies: response.headers.getSetCookie(),
    // The server's clock against ours at the middle of the exchange. Date is truncated to
    // the second, so the server's time was half a second past it on average.
    clockSkewMs: dateHeader ? Date.parse(dateHeader) + 500 - (started + Date.now()) / 2 : null,
  }
}

function transportFailure(error, timeoutMs) {
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return new TransportFailure(`no answer within ${timeoutMs} ms`, 'check that the server is up and not stuck, or raise --timeout-ms')
  }
  const code = error.cause?.code ?? error.code ?? ''
  if (code === 'ECONNREFUSED') return new TransportFailure('connection refused', 'start the API, or check the host and port in --base-url')
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportFailure(`the host name does not resolve (${code})`, 'check the host name in --base-url and DNS')
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return new TransportFailure(
      `TLS failed (${code})`,
      'serve a certificate valid for this host name from a trusted CA (a private CA: NODE_EXTRA_CA_CERTS for doctor, the OS trust store for the app)'
    )
  }
  // Only the code: the error's own text may quote the URL.
  return new TransportFailure(`request failed (${code || 'no error code'})`, 'check --base-url and the network path to the API')
}

function httpProblem(answer, where, pathOption) {
  if (answer.status >= 300 && answer.status < 400) {
    return {
      detail: `${where} redirected (HTTP ${answer.status}) to ${answer.location ?? 'nowhere'}`,
      fix: `point ${pathOption} at the JSON API route, not a page that redirects`,
    }
  }
  if (answer.status === 404 || answer.status === 405) {
    return { detail: `${where} answered HTTP ${answer.status}: no such route`, fix: `check ${pathOption} against the Flask routes` }
  }
  if (answer.status >= 500) {
    return { detail: `${where} answered HTTP ${answer.status} (server error)`, fix: 'look at the Flask server log for the exception' }
  }
  return null
}

module.exports = { TransportFailure, probe, httpProblem }
