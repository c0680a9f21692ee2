// GET /metrics, scraped as Prometheus would and parsed with a Prometheus text-format parser.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { createTenant, insertJobStatuses, type Tenant } from './support/factories'
import { request } from './support/http'
import { backend, startTestServer, type TestServer } from './support/server'

interface Sample {
  labels?: Record<string, string>
  value?: string
  count?: string
  buckets?: Record<string, string>
}
interface Family {
  name: string
  type: string
  metrics: Sample[]
}

/** The families by name (the parser throws on a line that is not the text format), and the text itself. */
async function scrape(url: string, token?: string): Promise<Map<string, Family> & { text: string }> {
  const reply = await request(url, '/metrics', token ? { token } : {})
  assert.equal(reply.status, 200, reply.text)
  assert.match(reply.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const families = parsePrometheusTextFormat(reply.text) as Family[]
  return Object.assign(new Map(families.map((family) => [family.name, family])), { text: reply.text })
}

const sum = (family: Family | undefined, labels: Record<string, string>) =>
  (family?.metrics ?? [])
    .filter((sample) => Object.entries(labels).every(([name, value]) => sample.labels?.[name] === value))
    .reduce((total, sample) => total + Number(sample.value ?? sample.count ?? 0), 0)

describe(`GET /metrics (${backend})`, () => {
  let server: TestServer
  let tenant: Tenant
  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '5' })
    tenant = await createTenant(server.db)
    await insertJobStatuses(server.db, tenant.organizationId, 3)
  })
  after(() => server.close())

  it('counts requests by route template and status, times them, and reports pools, refusals, failures, caches and streams', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await request(server.url, '/calendar/v2/job_statuses', { token: tenant.token })).status, 200)
    assert.equal((await request(server.url, '/calendar/v2/job_statuses/999999999', { token: tenant.token })).status, 404)
    assert.equal((await request(server.url, '/calendar/v2', { token: 'not-a-token' })).status, 401)
    assert.equal((await request(server.url, '/no/such/path/1234')).status, 404)
    let refused = 0
    for (let i = 0; i < 5 && refused === 0; i++) refused += (await request(server.url, '/calendar/v2', { token: tenant.token })).status === 429 ? 1 : 0
    assert.equal(refused, 1)

    const metrics = await scrape(server.url)
    const requests = metrics.get('pco_http_requests_total')!
    assert.equal(requests.type, 'COUNTER')
    assert.equal(sum(requests, { route: '/calendar/v2/job_statuses', method: 'GET', status: '200' }), 3)
    assert.equal(sum(requests, { route: '/calendar/v2/job_statuses/{id}', status: '404' }), 1)
    assert.equal(sum(requests, { route: '/calendar/v2', status: '429' }), 1)
    // An unknown path is one series, whatever it was: a scan cannot grow the label set.
    assert.equal(sum(requests, { route: 'unmatched', status: '404' }), 1)
    assert.ok(!requests.metrics.some((sample) => sample.labels?.route?.includes('1234')))

    const durations = metrics.get('pco_http_request_duration_seconds')!
    assert.equal(durations.type, 'HISTOGRAM')
    // This parser folds a histogram's labelled series into one; the series themselves, from the text.
    assert.match(metrics.text, /^pco_http_request_duration_seconds_count\{route="\/calendar\/v2\/job_statuses",method="GET",status="200"\} 3$/m)
    assert.match(metrics.text, /^pco_http_request_duration_seconds_bucket\{le="\+Inf",route="\/calendar\/v2\/job_statuses",method="GET",status="200"\} 3$/m)

    assert.ok(sum(metrics.get('pco_authentication_failures_total'), {}) >= 1)
    assert.equal(sum(metrics.get('pco_rate_limit_refusals_total'), { limit: 'requests' }), 1)
    // The list's second and third requests found the token known: no lookup before the shared statement.
    assert.ok(sum(metrics.get('pco_cache_lookups_total'), { cache: 'known_tokens', result: 'hit' }) >= 2)
    assert.equal(sum(metrics.get('pco_event_streams_open'), {}), 0)
    assert.equal(sum(metrics.get('pco_database_unavailable_responses_total'), {}), 0)
    const pool = metrics.get('pco_database_pool_connections')!
    assert.deepEqual(new Set(pool.metrics.filter((sample) => sample.labels?.pool === 'main').map((sample) => sample.labels?.state)), new Set(['used', 'free', 'pending']))
    assert.ok(metrics.has('pco_process_cpu_seconds_total'), 'the process metrics are there too')
    assert.ok(metrics.has('pco_nodejs_eventloop_lag_p99_seconds'), 'and the event loop delay')
  })

  it('asks for METRICS_TOKEN when it is set, and is closed beyond loopback without one', async () => {
    const token = 'metrics-token-0123456789'
    const guarded = await startTestServer({ METRICS_TOKEN: token }, { db: server.db })
    try {
      assert.equal((await request(guarded.url, '/metrics')).status, 401)
      assert.equal((await request(guarded.url, '/metrics', { token: `${token}x` })).status, 401)
      await scrape(guarded.url, token)
    } finally {
      await guarded.close()
    }
    const open = await startTestServer({ HOST: '0.0.0.0' }, { db: server.db })
    try {
      const port = new URL(open.url).port
      const reply = await request(`http://127.0.0.1:${port}`, '/metrics')
      assert.equal(reply.status, 403)
      assert.equal(reply.json.errors[0].code, 'forbidden')
    } finally {
      await open.close()
    }
  })
})
