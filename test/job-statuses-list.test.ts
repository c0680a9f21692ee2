// GET /calendar/v2/job_statuses: documents, pagination edges, clamps, link echo and full walks.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant, insertJobStatus, insertJobStatuses } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer()
})
after(() => server.close())

const list = (path: string, token: string) => request(server.url, path, { token })

describe('the list document', () => {
  it('is PCO’s document, key for key', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const first = await insertJobStatus(server.db, organizationId, {
      status: 'completed',
      message: 'Imported 12 events',
      retries: 1,
      started_at: '2026-03-01T09:30:15.123Z',
      errors: {},
    })
    const second = await insertJobStatus(server.db, organizationId, {
      status: 'failed',
      message: null,
      started_at: null,
      errors: { base: ['Event 7 has no name'], camelCase: { nested_key: 1 } },
    })
    const reply = await list('/calendar/v2/job_statuses', token)
    assert.equal(reply.status, 200)
    assert.equal(reply.headers.get('content-type'), 'application/vnd.api+json; charset=utf-8')
    // Literal text, so key order is checked too.
    const base = server.url
    assert.equal(
      reply.text,
      JSON.stringify({
        links: { self: `${base}/calendar/v2/job_statuses` },
        data: [
          {
            type: 'JobStatus',
            id: first,
            attributes: { errors: {}, message: 'Imported 12 events', retries: 1, started_at: '2026-03-01T09:30:15Z', status: 'completed' },
            relationships: {},
            links: { self: `${base}/calendar/v2/job_statuses/${first}` },
          },
          {
            type: 'JobStatus',
            id: second,
            attributes: {
              errors: { base: ['Event 7 has no name'], camelCase: { nested_key: 1 } },
              message: null,
              retries: 0,
              started_at: null,
              status: 'failed',
            },
            relationships: {},
            links: { self: `${base}/calendar/v2/job_statuses/${second}` },
          },
        ],
        included: [],
        meta: { total_count: 2, count: 2, can_order_by: ['created_at', 'started_at'], can_query_by: ['started_at', 'status'], parent: { id: organizationId, type: 'Organization' } },
      }),
    )
  })

  it('shows only the caller’s organization', async () => {
    const mine = await createTenant(server.db)
    const theirs = await createTenant(server.db)
    const myIds = await insertJobStatuses(server.db, mine.organizationId, 3)
    await insertJobStatuses(server.db, theirs.organizationId, 4)
    const { json } = await list('/calendar/v2/job_statuses', mine.token)
    assert.deepEqual(
      json.data.map((r: { id: string }) => r.id),
      myIds,
    )
    assert.equal(json.meta.total_count, 3)
  })

  it('serves named attributes only when fields[JobStatus] names them', async () => {
    const { organizationId, token } = await createTenant(server.db)
    await insertJobStatus(server.db, organizationId, { status: 'working', message: 'half way' })
    const { json } = await list('/calendar/v2/job_statuses?fields[JobStatus]=status,message,nonsense', token)
    assert.deepEqual(json.data[0].attributes, { message: 'half way', status: 'working' })
  })
})

describe('pagination', () => {
  const cases: Array<[rows: number, perPage: number | undefined, offset: number | undefined, expected: Record<string, unknown>]> = [
    [0, undefined, undefined, { total_count: 0, count: 0 }],
    [1, undefined, undefined, { total_count: 1, count: 1 }],
    [25, undefined, undefined, { total_count: 25, count: 25 }],
    [26, undefined, undefined, { total_count: 26, count: 25, next: { offset: 25 } }],
    [26, undefined, 25, { total_count: 26, count: 1, prev: { offset: 0 } }],
    [100, 100, undefined, { total_count: 100, count: 100 }],
    [101, 100, undefined, { total_count: 101, count: 100, next: { offset: 100 } }],
    [101, 100, 100, { total_count: 101, count: 1, prev: { offset: 0 } }],
    [26, 10, 12, { total_count: 26, count: 10, prev: { offset: 2 }, next: { offset: 22 } }],
    [26, 10, 5, { total_count: 26, count: 10, prev: { offset: 0 }, next: { offset: 15 } }],
    [3, undefined, 50, { total_count: 3, count: 0, prev: { offset: 25 } }],
  ]
  for (const [rows, perPage, offset, expected] of cases) {
    it(`${rows} rows, per_page=${perPage ?? '(default)'}, offset=${offset ?? '(none)'}`, async () => {
      const { organizationId, token } = await createTenant(server.db)
      const ids = await insertJobStatuses(server.db, organizationId, rows)
      const query = new URLSearchParams()
      if (perPage !== undefined) query.set('per_page', String(perPage))
      if (offset !== undefined) query.set('offset', String(offset))
      const { json } = await list(`/calendar/v2/job_statuses${query.size ? `?${query}` : ''}`, token)
      const { total_count, count, prev, next } = json.meta
      assert.deepEqual(JSON.parse(JSON.stringify({ total_count, count, prev, next })), expected)
      const start = offset ?? 0
      assert.deepEqual(
        json.data.map((r: { id: string }) => r.id),
        ids.slice(start, start + (perPage ?? 25)),
      )
      assert.equal('prev' in json.links, 'prev' in expected)
      assert.equal('next' in json.links, 'next' in expected)
    })
  }

  it('clamps per_page to 1..100 and a negative offset to 0', async () => {
    const { organizationId, token } = await createTenant(server.db)
    await insertJobStatuses(server.db, organizationId, 120)
    const metaOf = async (query: string) => {
      const { json } = await list(`/calendar/v2/job_statuses?${query}`, token)
      return { count: json.meta.count, prev: json.meta.prev, next: json.meta.next }
    }
    assert.deepEqual(await metaOf('per_page=0'), { count: 1, prev: undefined, next: { offset: 1 } })
    assert.deepEqual(await metaOf('per_page=-7'), { count: 1, prev: undefined, next: { offset: 1 } })
    assert.deepEqual(await metaOf('per_page=101'), { count: 100, prev: undefined, next: { offset: 100 } })
    assert.deepEqual(await metaOf('per_page=99999999999999999999999999'), { count: 100, prev: undefined, next: { offset: 100 } })
    assert.deepEqual(await metaOf('offset=-5'), { count: 25, prev: undefined, next: { offset: 25 } })
    const deep = await list('/calendar/v2/job_statuses?offset=99999999999999999999999999', token)
    assert.equal(deep.status, 200)
    assert.deepEqual(deep.json.data, [])
    assert.equal(deep.json.meta.total_count, 120)
  })

  for (const [parameter, value] of [
    ['per_page', 'abc'],
    ['per_page', '2.5'],
    ['per_page', ''],
    ['per_page', '1e3'],
    ['offset', '0x10'],
    ['offset', ' 5'],
    ['offset', '１２'],
  ] as const) {
    it(`answers 400 for ${parameter}=${JSON.stringify(value)}`, async () => {
      const { token } = await createTenant(server.db)
      const reply = await list(`/calendar/v2/job_statuses?${parameter}=${encodeURIComponent(value)}`, token)
      assert.equal(reply.status, 400)
      assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8')
      assert.deepEqual(reply.json, {
        errors: [
          { status: '400', title: 'Bad Request', code: 'invalid_parameter', detail: `${parameter} must be an integer`, source: { parameter } },
        ],
      })
    })
  }

  it('answers 400 when per_page is given twice', async () => {
    const { token } = await createTenant(server.db)
    const reply = await list('/calendar/v2/job_statuses?per_page=2&per_page=3', token)
    assert.equal(reply.status, 400)
    assert.equal(reply.json.errors[0].source.parameter, 'per_page')
  })
})

describe('links', () => {
  it('echo the query sorted by key, brackets literal, with only offset changed', async () => {
    const { organizationId, token } = await createTenant(server.db)
    await insertJobStatuses(server.db, organizationId, 9)
    const base = `${server.url}/calendar/v2/job_statuses`
    const literal = await list('/calendar/v2/job_statuses?where[status]=queued&per_page=2&offset=4&include=foo&fields[JobStatus]=status,message', token)
    const encoded = await list(
      '/calendar/v2/job_statuses?where%5Bstatus%5D=queued&per_page=2&offset=4&include=foo&fields%5BJobStatus%5D=status%2Cmessage',
      token,
    )
    const expected = {
      self: `${base}?fields[JobStatus]=status,message&include=foo&offset=4&per_page=2&where[status]=queued`,
      prev: `${base}?fields[JobStatus]=status,message&include=foo&offset=2&per_page=2&where[status]=queued`,
      next: `${base}?fields[JobStatus]=status,message&include=foo&offset=6&per_page=2&where[status]=queued`,
    }
    assert.deepEqual(literal.json.links, expected)
    assert.deepEqual(encoded.json.links, expected)
  })

  it('add offset when the request had none, and keep per_page', async () => {
    const { organizationId, token } = await createTenant(server.db)
    await insertJobStatuses(server.db, organizationId, 5)
    const { json } = await list('/calendar/v2/job_statuses?per_page=2', token)
    const base = `${server.url}/calendar/v2/job_statuses`
    assert.deepEqual(json.links, { self: `${base}?per_page=2`, next: `${base}?offset=2&per_page=2` })
  })

  it('encode values that need it', async () => {
    const { token } = await createTenant(server.db)
    const { json } = await list('/calendar/v2/job_statuses?q=a%20b%26c%3D', token)
    assert.equal(json.links.self, `${server.url}/calendar/v2/job_statuses?q=a%20b%26c%3D`)
  })
})

describe('walking every page', () => {
  it('returns every row exactly once, by links.next and by meta.next.offset', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const ids = await insertJobStatuses(server.db, organizationId, 237)

    const byLinks: string[] = []
    let next: string | undefined = `${server.url}/calendar/v2/job_statuses?per_page=20`
    while (next) {
      const { json }: { json: { data: { id: string }[]; links: { next?: string } } } = await request(next, '', { token })
      byLinks.push(...json.data.map((r) => r.id))
      next = json.links.next
    }
    assert.deepEqual(byLinks, ids)

    const byOffset: string[] = []
    let offset: number | undefined = 0
    while (offset !== undefined) {
      const { json }: { json: { data: { id: string }[]; meta: { next?: { offset: number } } } } = await list(
        `/calendar/v2/job_statuses?per_page=33&offset=${offset}`,
        token,
      )
      byOffset.push(...json.data.map((r) => r.id))
      offset = json.meta.next?.offset
    }
    assert.deepEqual(byOffset, ids)
  })
})
