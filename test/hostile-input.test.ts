// Generated hostile query strings and ids: never a 5xx, never SQL or a stack frame, only the caller's rows.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { createTenant, insertJobStatuses, type Tenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
let mine: Tenant
let myIds: Set<string>
let theirIds: string[]

before(async () => {
  // A limit no generated run can reach: this file is about input, not throttling.
  server = await startTestServer({ RATE_LIMIT: '1000000', RATE_LIMIT_DEEP_OFFSET: '1000000', AUTH_FAILURE_LIMIT: '1000000' })
  mine = await createTenant(server.db)
  const theirs = await createTenant(server.db)
  myIds = new Set(await insertJobStatuses(server.db, mine.organizationId, 40))
  theirIds = await insertJobStatuses(server.db, theirs.organizationId, 40)
})
after(() => server.close())

// What SQL, a driver error or a stack trace would put in a body. Links echo the query, so a 200 is
// checked without them; no error detail echoes input.
const LEAKS = [/\bselect\b.+\bfrom\b/i, /syntax error/i, /\brelation\b/i, /"job_statuses"/, /\n\s+at /, /\.ts:\d+/, /\.js:\d+/, /knex/i]

const hostileText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    "' OR '1'='1", '1; DROP TABLE job_statuses; --', '1) UNION SELECT * FROM oauth_access_tokens --', '%', '%%', '%zz', '\\',
    '\u0000', '\ud800', '😀', '１２', '-0', '+1', '1e309', '0x1f', 'NaN', 'Infinity', '[]', '{}', 'null', 'true',
    '9223372036854775807', '9223372036854775808', '-9223372036854775809', '1'.repeat(400), '', ' ', '\t', '\n',
  ),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.integer().map(String),
)

const keys = fc.oneof(
  fc.constantFrom(
    'per_page', 'offset', 'order', 'include', 'filter', 'fields[JobStatus]', 'fields[Organization]', 'where[status]',
    'where[started_at][gte]', 'where[id]', 'where[organization_id]', 'per_page[]', 'per_page[a]', 'offset[0]', 'where', 'fields',
    'where[status][]', 'where[]', '[', ']', 'a[b][c][d]',
  ),
  fc.string(),
)

const queries = fc.array(fc.tuple(keys, hostileText, fc.boolean()), { maxLength: 6 }).map((pairs) =>
  pairs
    .map(([key, value, literalBrackets]) => {
      const encodedKey = encode(key)
      return `${literalBrackets ? encodedKey.replace(/%5B/g, '[').replace(/%5D/g, ']') : encodedKey}=${encode(value)}`
    })
    .join('&'),
)

// Lone surrogates cannot be percent-encoded as UTF-8: send what a client would, U+FFFD.
const encode = (text: string) => encodeURIComponent(text.toWellFormed())

function assertNoLeak(text: string) {
  for (const leak of LEAKS) assert.doesNotMatch(text, leak)
}

describe('hostile input', () => {
  it('1,000 generated list queries answer 200 or 400, with only the caller’s rows', async () => {
    await fc.assert(
      fc.asyncProperty(queries, async (query) => {
        const reply = await request(server.url, `/calendar/v2/job_statuses?${query}`, { token: mine.token })
        assert.ok(reply.status === 200 || reply.status === 400, `status ${reply.status} for ${query}`)
        const body = reply.json
        assertNoLeak(JSON.stringify({ ...body, links: undefined }))
        if (reply.status === 200) {
          for (const row of body.data) assert.ok(myIds.has(row.id), `foreign row ${row.id}`)
          assert.equal(body.meta.total_count, myIds.size)
          assert.equal(body.meta.parent.id, mine.organizationId)
        } else {
          assert.equal(body.errors[0].code, 'invalid_parameter')
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('1,000 generated ids answer the caller’s row or 404, never another organization’s', async () => {
    const ids = fc.oneof(
      hostileText,
      fc.constantFrom(...theirIds),
      fc.constantFrom(...myIds),
      fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
    // '', '.' and '..' are not ids in a URL: they name the list and its parents.
    ).filter((id) => !['', '.', '..'].includes(id))
    await fc.assert(
      fc.asyncProperty(ids, fc.boolean(), async (id, withQuery) => {
        const path = `/calendar/v2/job_statuses/${encode(id)}${withQuery ? `?per_page=${encode(id)}` : ''}`
        const reply = await request(server.url, path, { token: mine.token })
        assertNoLeak(JSON.stringify({ ...reply.json, data: { ...reply.json.data, links: undefined } }))
        if (myIds.has(id)) {
          assert.equal(reply.status, 200)
          assert.equal(reply.json.data.id, id)
        } else {
          assert.ok(reply.status === 404 || reply.status === 400, `status ${reply.status} for ${JSON.stringify(id)}`)
          if (reply.status === 404) assert.equal(reply.json.errors[0].status, '404')
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('hostile headers never cause a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostileText, hostileText, async (version, authorization) => {
        const headers: Record<string, string> = {}
        // Header values cannot hold control characters or non-Latin-1 text on the wire.
        const clean = (value: string) => value.replace(/[^\x20-\x7e]/g, '')
        headers['X-PCO-API-Version'] = clean(version)
        headers.Authorization = clean(authorization)
        const reply = await request(server.url, '/calendar/v2/job_statuses', { headers })
        assert.ok(reply.status === 400 || reply.status === 401, `status ${reply.status}`)
        assertNoLeak(reply.text)
      }),
      { numRuns: 300 },
    )
  })
})
