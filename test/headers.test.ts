// Response headers: version negotiation, CORS, caching, request ids and the rate-limit headers.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '5' })
})
after(() => server.close())

const PATH = '/calendar/v2/job_statuses'

describe('X-PCO-API-Version', () => {
  const accepted: Array<[string | undefined, string]> = [
    [undefined, '2022-07-07'],
    ['LATEST', '2022-07-07'],
    ['latest', '2022-07-07'],
    ['2030-01-01', '2022-07-07'],
    ['2022-07-07', '2022-07-07'],
    ['2022-07-06', '2018-08-01'],
    ['2018-08-01', '2018-08-01'],
  ]
  for (const [sent, processedAs] of accepted) {
    it(`${sent ?? 'absent'} is processed as ${processedAs}`, async () => {
      const { token } = await createTenant(server.db)
      const reply = await request(server.url, PATH, { token, headers: sent ? { 'X-PCO-API-Version': sent } : {} })
      assert.equal(reply.status, 200)
      assert.equal(reply.headers.get('x-pco-api-processed-as-version'), processedAs)
    })
  }

  for (const sent of ['2018-07-31', '2000-01-01', 'yesterday', '2022-13-01', '2022-02-30', '20220707']) {
    it(`${sent} is a 400 unsupported_version_error`, async () => {
      const { token } = await createTenant(server.db)
      const reply = await request(server.url, PATH, { token, headers: { 'X-PCO-API-Version': sent } })
      assert.equal(reply.status, 400)
      assert.equal(reply.json.errors[0].code, 'unsupported_version_error')
      assert.equal(reply.json.errors[0].status, '400')
    })
  }
})

describe('success headers', () => {
  it('carry the content type, caching, ETag, request id and rate headers', async () => {
    const { token } = await createTenant(server.db)
    const reply = await request(server.url, PATH, { token })
    const h = reply.headers
    assert.equal(h.get('content-type'), 'application/vnd.api+json; charset=utf-8')
    assert.equal(h.get('cache-control'), 'max-age=0, private, must-revalidate')
    assert.match(h.get('etag') ?? '', /^W\/".+"$/)
    assert.match(h.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(h.get('x-pco-api-request-rate-count'), '1')
    assert.equal(h.get('x-pco-api-request-rate-limit'), '5')
    assert.equal(h.get('x-pco-api-request-rate-period'), '20')
    assert.equal(h.get('access-control-allow-origin'), '*')
  })

  it('answer If-None-Match with 304 when nothing changed', async () => {
    const { token } = await createTenant(server.db)
    const first = await request(server.url, PATH, { token })
    // fetch adds `Cache-Control: no-cache` to a conditional request unless one is given, and that forces a 200.
    const headers = { 'If-None-Match': first.headers.get('etag')!, 'Cache-Control': 'max-age=0' }
    const again = await request(server.url, PATH, { token, headers })
    assert.equal(again.status, 304)
    assert.equal(again.text, '')
  })
})

describe('CORS', () => {
  it('answers a preflight without credentials, allowing what PCO’s JS client sends', async () => {
    const reply = await request(server.url, PATH, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.org',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization,content-type,x-csrf-token,x-pco-api-version,idempotency-key',
      },
    })
    assert.equal(reply.status, 204)
    assert.equal(reply.headers.get('access-control-allow-origin'), '*')
    const allowed = (reply.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/)
    for (const header of ['authorization', 'content-type', 'x-csrf-token', 'x-pco-api-version', 'idempotency-key']) assert.ok(allowed.includes(header), header)
    assert.match(reply.headers.get('access-control-allow-methods') ?? '', /GET/)
  })

  it('exposes the rate and version headers to scripts', async () => {
    const { token } = await createTenant(server.db)
    const reply = await request(server.url, PATH, { token, headers: { Origin: 'https://app.example.org' } })
    const exposed = reply.headers.get('access-control-expose-headers') ?? ''
    for (const header of ['X-PCO-API-Request-Rate-Count', 'X-PCO-API-Processed-As-Version', 'ETag']) assert.ok(exposed.includes(header))
  })
})

describe("Planning Center's recorded headers", () => {
  // From Planning Center's responses as pypco's test recordings hold them.
  const RECORDED: Record<string, string> = {
    'access-control-allow-origin': '*',
    'access-control-allow-credentials': 'true',
    vary: 'Accept, Accept-Encoding, Origin',
    'referrer-policy': 'no-referrer-when-downgrade',
    'x-content-type-options': 'nosniff',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '1; mode=block',
  }

  it('are on every answer: the hot list and read, the app, a 400, a 401, a 404 and a preflight', async () => {
    const tenant = await createTenant(server.db)
    const replies = {
      'first list': await request(server.url, PATH, { token: tenant.token }),
      'hot list': await request(server.url, PATH, { token: tenant.token }),
      'pat read': await request(server.url, '/calendar/v2', { basic: tenant.pat }),
      '400': await request(server.url, `${PATH}?per_page=abc`, { basic: tenant.pat }),
      '401': await request(server.url, PATH, { token: 'nope' }),
      '404': await request(server.url, '/calendar/v2/nothing_here', { basic: tenant.pat }),
      preflight: await request(server.url, PATH, { method: 'OPTIONS', headers: { Origin: 'https://app.example.org', 'Access-Control-Request-Method': 'GET' } }),
    }
    for (const [name, reply] of Object.entries(replies)) {
      for (const [header, value] of Object.entries(RECORDED)) assert.equal(reply.headers.get(header), value, `${name}: ${header}`)
      const exposed = (reply.headers.get('access-control-expose-headers') ?? '').split(', ')
      for (const header of ['ETag', 'Link', 'X-PCO-API-Auth-Method']) assert.ok(exposed.includes(header), `${name} exposes ${header}`)
    }
  })

  it('a 400 is not to be cached, and a 404 of an unknown path carries the rate headers', async () => {
    const tenant = await createTenant(server.db)
    const bad = await request(server.url, `${PATH}?per_page=abc`, { token: tenant.token })
    assert.equal(bad.status, 400)
    assert.equal(bad.headers.get('cache-control'), 'no-cache')
    const unknown = await request(server.url, '/calendar/v2/nothing_here', { token: tenant.token })
    assert.equal(unknown.status, 404)
    assert.equal(unknown.headers.get('cache-control'), 'no-cache')
    assert.equal(unknown.headers.get('x-pco-api-request-rate-limit'), '5')
    assert.match(unknown.headers.get('x-pco-api-request-rate-count') ?? '', /^\d+$/)
  })
})
