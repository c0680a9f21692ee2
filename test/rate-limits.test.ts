// Rate limits: PCO's per-person limit shared by every server process on one database, and failed-auth throttling.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant } from './support/factories'
import { request } from './support/http'
import { backend, startTestServer, type TestServer } from './support/server'

const PATH = '/calendar/v2/job_statuses'

describe('the per-person limit', () => {
  let first: TestServer
  let second: TestServer
  before(async () => {
    // Two servers on one database. On PostgreSQL each has its own connection pool, as two processes
    // would; the embedded database lives in one process, so there they share its one connection.
    first = await startTestServer()
    second = await startTestServer({}, { clock: first.clock, ...(backend === 'embedded' ? { db: first.db } : {}) })
  })
  after(async () => {
    await second.close()
    await first.close()
  })

  it('is 100 per 20 s across two servers: request 101 answers 429 with Retry-After on either', async () => {
    const limited = await createTenant(first.db)
    const other = await createTenant(first.db)
    for (let i = 1; i <= 100; i++) {
      const server = i % 2 === 0 ? first : second
      const reply = await request(server.url, PATH, { token: limited.token })
      assert.equal(reply.status, 200, `request ${i}`)
      assert.equal(reply.headers.get('x-pco-api-request-rate-count'), String(i))
      assert.equal(reply.headers.get('x-pco-api-request-rate-limit'), '100')
      assert.equal(reply.headers.get('x-pco-api-request-rate-period'), '20')
    }
    for (const [n, server] of [[101, first], [102, second]] as const) {
      const refused = await request(server.url, PATH, { token: limited.token })
      assert.equal(refused.status, 429)
      const retryAfter = Number(refused.headers.get('retry-after'))
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}`)
      assert.equal(refused.text, JSON.stringify({ errors: [{ code: '429', detail: `Rate limit exceeded: ${n} of 100 requests per 20 seconds` }] }))
      assert.equal(refused.headers.get('x-pco-api-request-rate-count'), String(n))
    }
    // Someone else is unaffected, and so is the limited person's personal access token's owner after the window.
    assert.equal((await request(second.url, PATH, { token: other.token })).status, 200)
    first.clock.advance(20_000)
    const fresh = await request(second.url, PATH, { basic: limited.pat })
    assert.equal(fresh.status, 200)
    assert.equal(fresh.headers.get('x-pco-api-request-rate-count'), '1')
  })

  it('is 75 for offsets above 30,000, counted in the same window', async () => {
    const { token } = await createTenant(first.db)
    for (let i = 1; i <= 75; i++) assert.equal((await request(first.url, `${PATH}?offset=30001`, { token })).status, 200)
    const deep = await request(second.url, `${PATH}?offset=30001`, { token })
    assert.equal(deep.status, 429)
    assert.equal(deep.headers.get('x-pco-api-request-rate-limit'), '75')
    const shallow = await request(second.url, `${PATH}?offset=30000`, { token })
    assert.equal(shallow.status, 200)
    assert.equal(shallow.headers.get('x-pco-api-request-rate-count'), '77')
  })
})

describe('failed authentication', () => {
  it('is throttled per client address: past the limit even a good token is not checked', async () => {
    const server = await startTestServer({ AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_PERIOD: '60' })
    try {
      const { token, pat } = await createTenant(server.db)
      for (let i = 0; i < 5; i++) {
        const guess = await request(server.url, PATH, { token: i % 2 ? 'f'.repeat(64) : '0'.repeat(64) })
        assert.equal(guess.status, 401)
      }
      for (const credentials of [{ token: 'a'.repeat(64) }, { token }, { basic: pat }]) {
        const refused = await request(server.url, PATH, credentials)
        assert.equal(refused.status, 429)
        assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/)
        assert.match(refused.json.errors[0].detail, /Too many failed authentication attempts/)
        // The 429 row of the wire contract: the rate headers too, here the failures' count and limit.
        assert.equal(refused.headers.get('x-pco-api-request-rate-count'), '5')
        assert.equal(refused.headers.get('x-pco-api-request-rate-limit'), '5')
        assert.equal(refused.headers.get('x-pco-api-request-rate-period'), '60')
        // What was presented, not what was verified: nothing was.
        assert.equal(refused.headers.get('x-pco-api-auth-method'), 'basic' in credentials ? 'HTTPBasic' : 'OAuth2')
      }
      server.clock.advance(60_000)
      assert.equal((await request(server.url, PATH, { token })).status, 200)
    } finally {
      await server.close()
    }
  })
})
