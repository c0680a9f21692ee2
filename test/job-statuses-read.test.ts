// GET /calendar/v2/job_statuses/{id} and GET /calendar/v2: read documents and 404s.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { createTenant, insertJobStatus } from './support/factories'
import { request } from './support/http'
import { createStandingClock, startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer()
})
after(() => server.close())

const NOT_FOUND = JSON.stringify({
  errors: [{ status: '404', title: 'Not Found', detail: 'The resource you requested could not be found' }],
})

describe('reading one job status', () => {
  it('is PCO’s read document, key for key', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const id = await insertJobStatus(server.db, organizationId, {
      status: 'working',
      message: 'Syncing resources',
      retries: 2,
      started_at: '2025-12-31T23:59:59.999Z',
      errors: { rooms: ['Room 4 is booked twice'] },
    })
    const reply = await request(server.url, `/calendar/v2/job_statuses/${id}`, { token })
    assert.equal(reply.status, 200)
    assert.equal(reply.headers.get('content-type'), 'application/vnd.api+json; charset=utf-8')
    assert.equal(
      reply.text,
      JSON.stringify({
        data: {
          type: 'JobStatus',
          id,
          attributes: {
            errors: { rooms: ['Room 4 is booked twice'] },
            message: 'Syncing resources',
            retries: 2,
            started_at: '2025-12-31T23:59:59Z',
            status: 'working',
          },
          relationships: {},
          links: { self: `${server.url}/calendar/v2/job_statuses/${id}` },
        },
        included: [],
        meta: { parent: { id: organizationId, type: 'Organization' } },
      }),
    )
  })

  it('answers another organization’s job exactly like a missing one', async () => {
    const mine = await createTenant(server.db)
    const theirs = await createTenant(server.db)
    const theirId = await insertJobStatus(server.db, theirs.organizationId)
    const other = await request(server.url, `/calendar/v2/job_statuses/${theirId}`, { token: mine.token })
    const missing = await request(server.url, '/calendar/v2/job_statuses/9000000000000000000', { token: mine.token })
    for (const reply of [other, missing]) {
      assert.equal(reply.status, 404)
      assert.equal(reply.text, NOT_FOUND)
      assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8')
      assert.equal(reply.headers.get('cache-control'), 'no-cache')
    }
  })

  for (const id of ['0', '-1', 'abc', '1.5', '1e3', '9223372036854775808', '99999999999999999999999', "1'%20OR%20'1'='1", '%F0%9F%98%80', '1;DROP%20TABLE%20x', '01']) {
    it(`answers 404 for the id ${decodeURIComponent(id)}`, async () => {
      const { token } = await createTenant(server.db)
      const reply = await request(server.url, `/calendar/v2/job_statuses/${id}`, { token })
      assert.equal(reply.status, 404)
      assert.equal(reply.text, NOT_FOUND)
    })
  }

  it('counts a killed job’s runtime up to its last update, on the list and the read', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const id = await insertJobStatus(server.db, organizationId, { status: 'killed', started_at: '2026-01-01T10:00:00Z' })
    await server.db('job_statuses').where({ id }).update({ updated_at: '2026-01-01T10:01:40Z' })
    for (const path of [`/calendar/v2/job_statuses/${id}?fields[JobStatus]=runtime`, '/calendar/v2/job_statuses?fields[JobStatus]=runtime']) {
      // Twice: the first request looks the token up, the second takes the known caller's statement.
      for (let i = 0; i < 2; i++) {
        const reply = await request(server.url, path, { token })
        const data = Array.isArray(reply.json.data) ? reply.json.data[0] : reply.json.data
        assert.deepEqual(data.attributes, { runtime: 100 }, path)
      }
    }
  })

  it('counts a running job’s runtime to the server’s clock, never from a held page or a stale ETag', async () => {
    const standing = await startTestServer({}, { clock: createStandingClock() })
    try {
      const { organizationId, token } = await createTenant(standing.db)
      const id = await insertJobStatus(standing.db, organizationId, { status: 'working', started_at: standing.clock.now().toISOString() })
      const runtimeOf = (reply: Awaited<ReturnType<typeof request>>) => (Array.isArray(reply.json.data) ? reply.json.data[0] : reply.json.data).attributes.runtime
      for (const path of [`/calendar/v2/job_statuses/${id}?fields[JobStatus]=runtime`, '/calendar/v2/job_statuses?fields[JobStatus]=runtime']) {
        const first = await request(standing.url, path, { token })
        // Again at the same moment: the known caller's statement answers, and the ETag still holds.
        const again = await request(standing.url, path, { token, headers: { 'If-None-Match': first.headers.get('etag')! } })
        assert.equal(again.status, 304, path)
        standing.clock.advance(90_000)
        const later = await request(standing.url, path, { token, headers: { 'If-None-Match': first.headers.get('etag')! } })
        assert.equal(later.status, 200, path)
        assert.equal(runtimeOf(later) - runtimeOf(first), 90, path)
        const last = await request(standing.url, path, { token })
        assert.equal(runtimeOf(last), runtimeOf(later), path)
      }
    } finally {
      await standing.close()
    }
  })

  it('answers 400 in the envelope for a path that is not valid percent-encoding', async () => {
    const { token } = await createTenant(server.db)
    const reply = await request(server.url, '/calendar/v2/job_statuses/%E0%A4%A', { token })
    assert.equal(reply.status, 400)
    assert.equal(reply.json.errors[0].status, '400')
  })
})

describe('the organization', () => {
  it('GET /calendar/v2 is the caller’s Organization with links to its associations', async () => {
    const { organizationId, token } = await createTenant(server.db)
    await server.db('organizations').where({ id: organizationId }).update({ name: 'Grace Church', time_zone: 'Europe/London' })
    const reply = await request(server.url, '/calendar/v2', { token })
    assert.equal(reply.status, 200)
    assert.equal(
      reply.text,
      JSON.stringify({
        data: {
          type: 'Organization',
          id: organizationId,
          attributes: {
            calendar_starts_on: 'Sunday',
            date_format: '%m/%d/%Y',
            name: 'Grace Church',
            time_zone: 'Europe/London',
            twenty_four_hour_time: false,
          },
          relationships: {},
          links: { job_statuses: `${server.url}/calendar/v2/job_statuses`, self: `${server.url}/calendar/v2` },
        },
        included: [],
        meta: {},
      }),
    )
  })
})

describe('routes', () => {
  it('answers 404 for an unknown path under /calendar and elsewhere', async () => {
    const { token } = await createTenant(server.db)
    for (const path of ['/calendar/v2/events', '/calendar/v3/job_statuses', '/nowhere']) {
      const reply = await request(server.url, path, { token })
      assert.equal(reply.status, 404, path)
      assert.equal(reply.text, NOT_FOUND)
    }
  })

  it('answers 405 with Allow for a write to the read-only surface', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const id = await insertJobStatus(server.db, organizationId)
    for (const [method, path] of [
      ['POST', '/calendar/v2/job_statuses'],
      ['DELETE', `/calendar/v2/job_statuses/${id}`],
      ['PATCH', '/calendar/v2'],
    ]) {
      const reply = await request(server.url, path!, { token, method })
      assert.equal(reply.status, 405, `${method} ${path}`)
      assert.equal(reply.headers.get('allow'), 'GET, HEAD, OPTIONS')
      assert.equal(reply.json.errors[0].code, 'method_not_allowed')
    }
    assert.equal((await server.db('job_statuses').where({ id }).first()).id.toString(), id)
  })

  it('takes one trailing slash, and a target in absolute form, as the same route, for a first request and a known token alike; another letter case is no route', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const id = await insertJobStatus(server.db, organizationId)
    // The first request identifies the token; the rest find it known.
    for (let round = 0; round < 2; round++) {
      const list = await request(server.url, '/calendar/v2/job_statuses/', { token })
      assert.equal(list.status, 200)
      assert.deepEqual(list.json.data.map((item: { id: string }) => item.id), [id])
      const read = await request(server.url, `/calendar/v2/job_statuses/${id}/`, { token })
      assert.equal(read.status, 200)
      assert.equal(read.json.data.id, id)
    }
    // A request target in absolute form, as a proxy sends it.
    const absolute = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const sent = httpRequest(server.url, { path: `${server.url}/calendar/v2/job_statuses/${id}?fields[JobStatus]=status`, headers: { Authorization: `Bearer ${token}` } }, (reply) => {
        let body = ''
        reply.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: reply.statusCode, body }))
      })
      sent.on('error', reject).end()
    })
    assert.equal(absolute.status, 200)
    assert.deepEqual(Object.keys(JSON.parse(absolute.body).data.attributes), ['status'])
    for (const path of ['/calendar/v2/JOB_STATUSES', `/calendar/v2/Job_Statuses/${id}`]) {
      const reply = await request(server.url, path, { token })
      assert.equal(reply.status, 404, path)
      assert.equal(reply.text, NOT_FOUND)
    }
  })
})

describe('a row changed by another writer', () => {
  it('shows at once in the list and the read, and changes the ETag, even when updated_at is left alone', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const id = await insertJobStatus(server.db, organizationId, { status: 'working', message: 'before' })
    const paths = ['/calendar/v2/job_statuses', `/calendar/v2/job_statuses/${id}`]
    const before = await Promise.all(paths.map((path) => request(server.url, path, { token })))
    // Twice, so the second answer could come from anything kept from the first.
    await Promise.all(paths.map((path) => request(server.url, path, { token })))
    await server.db('job_statuses').where({ id }).update({ message: 'after', status: 'failed' })
    for (const [i, path] of paths.entries()) {
      const after = await request(server.url, path, { token })
      const data = Array.isArray(after.json.data) ? after.json.data[0] : after.json.data
      assert.equal(data.attributes.message, 'after', path)
      assert.equal(data.attributes.status, 'failed', path)
      assert.notEqual(after.headers.get('etag'), before[i]!.headers.get('etag'), path)
    }
  })
})
