// Progress reports and PATCHes of a caller the server already knows are answered ahead of the app and
// applied in shared statements: their answers must be the app's own, and every write its own change.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant, createToken } from './support/factories'
import { cacheHits } from './support/http'
import { createStandingClock, startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  // A clock that stands still: the answers compared below carry timestamps and runtimes to the second.
  server = await startTestServer({ RATE_LIMIT: '1000' }, { clock: createStandingClock() })
})
after(() => server.close())

const JOBS = '/jobs/v1/job_statuses'

interface Answer {
  status: number
  headers: Headers
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are asserted against literals
  json: any
  text: string
}

async function send(token: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json', ...headers },
    ...(body === undefined ? {} : { body }),
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, get json() { return JSON.parse(text) } }
}

const document = (attributes: Record<string, unknown>) => JSON.stringify({ data: { type: 'JobStatus', attributes } })

/** A caller with the `jobs` scope, and `count` working jobs of its organization. */
async function caller(count: number, attributes: Record<string, unknown> = {}) {
  const tenant = await createTenant(server.db, server.clock.now())
  const token = await createToken(server.db, tenant.personId, { scopes: ['calendar', 'jobs'] })
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const created = await send(token, 'POST', JOBS, document(attributes))
    assert.equal(created.status, 201, created.text)
    const id = created.json.data.id as string
    assert.equal((await send(token, 'POST', `${JOBS}/${id}/transitions`, document({ status: 'working' }))).status, 200)
    ids.push(id)
  }
  return { ...tenant, token, ids }
}

/** Headers that differ between any two answers. */
const VARYING = new Set(['date', 'x-request-id', 'x-pco-api-request-rate-count', 'content-length', 'etag'])
const headersOf = (answer: Answer) => [...answer.headers].filter(([name]) => !VARYING.has(name))

describe("a known caller's writes", () => {
  it("answer exactly as the app's own, successes and refusals alike", async () => {
    // Two callers with two identical jobs each: the first request of each token goes through the app.
    const first = await caller(2, { total: 3 })
    const writes: Array<[string, (id: string) => string, string | undefined]> = [
      ['PATCH', (id) => `${JOBS}/${id}`, document({ message: 'Halfway', kind: 'import' })],
      ['POST', (id) => `${JOBS}/${id}/progress`, document({ increment: 2, message: 'Two done' })],
      ['POST', (id) => `${JOBS}/${id}/progress`, document({ increment: 2 })],
      ['PATCH', (id) => `${JOBS}/${id}`, document({ progress: 4 })],
      ['PATCH', (id) => `${JOBS}/${id}`, document({ status: 'completed' })],
      ['PATCH', (id) => `${JOBS}/${id}`, '{"data": '],
      ['POST', (id) => `${JOBS}/${id}/progress`, JSON.stringify({ data: { attributes: { increment: 0 } } })],
      ['PATCH', () => `${JOBS}/999999999999`, document({ message: 'Nobody' })],
    ]
    const [a, b] = first.ids as [string, string]
    const known = await createToken(server.db, first.personId, { scopes: ['jobs'] })
    assert.equal((await send(known, 'GET', `${JOBS}/${b}`)).status, 200)
    for (const [method, path, body] of writes) {
      // A token the app has not seen: the app answers and remembers it.
      const token = await createToken(server.db, first.personId, { scopes: ['jobs'] })
      const hitsBefore = await cacheHits(server.url, 'known_tokens')
      const byApp = await send(token, method, path(a), body)
      const ahead = await send(known, method, path(b), body)
      assert.ok((await cacheHits(server.url, 'known_tokens')) > hitsBefore, `${method} ${path('{id}')}: the known token answered ahead of the app`)
      assert.equal(ahead.status, byApp.status, `${method} ${path('{id}')} ${body}: ${ahead.text}`)
      assert.deepEqual(headersOf(ahead), headersOf(byApp), `${method} ${path('{id}')}`)
      const same = (text: string) => text.replaceAll(`/${a}`, '/ID').replaceAll(`"${a}"`, '"ID"').replaceAll(`/${b}`, '/ID').replaceAll(`"${b}"`, '"ID"')
      assert.equal(same(ahead.text), same(byApp.text), `${method} ${path('{id}')}`)
    }
    const [jobA, jobB] = await Promise.all([a, b].map((id) => server.db('job_statuses').where({ id }).first('progress', 'message', 'kind', 'total')))
    assert.deepEqual(jobB, jobA)
    assert.deepEqual(jobA, { progress: 2, message: 'Two done', kind: 'import', total: 3 })
  })

  it('that arrive together all add up, each answered with the progress it made', async () => {
    const { token, ids } = await caller(4)
    // The token is known from here on.
    const reports = Array.from({ length: 60 }, (_, i) => ids[i % 3 === 0 ? 0 : 1 + (i % 3)]!)
    const answers = await Promise.all(reports.map((id) => send(token, 'POST', `${JOBS}/${id}/progress`, document({ increment: 1 }))))
    for (const answer of answers) assert.equal(answer.status, 200, answer.text)
    for (const id of ids) {
      const seen = answers.filter((answer) => answer.json.data.id === id).map((answer) => answer.json.data.attributes.progress as number).sort((x, y) => x - y)
      const made = reports.filter((report) => report === id).length
      // Every report is its own step: 1, 2, … n, none lost and none shared.
      assert.deepEqual(seen, Array.from({ length: made }, (_, i) => i + 1), `job ${id}`)
      assert.equal((await server.db('job_statuses').where({ id }).first('progress')).progress, made)
    }
  })

  it('that arrive together are refused one by one, without failing the others', async () => {
    const { token, ids } = await caller(3, { total: 1 })
    const [open, full, done] = ids as [string, string, string]
    await send(token, 'POST', `${JOBS}/${full}/progress`, document({}))
    await send(token, 'POST', `${JOBS}/${done}/transitions`, document({ status: 'completed' }))
    const answers = await Promise.all([
      send(token, 'POST', `${JOBS}/${open}/progress`, document({})),
      send(token, 'POST', `${JOBS}/${full}/progress`, document({})),
      send(token, 'POST', `${JOBS}/${done}/progress`, document({})),
      send(token, 'PATCH', `${JOBS}/999999999999`, document({ message: 'x' })),
      send(token, 'PATCH', `${JOBS}/${full}`, document({ total: 0 })),
      send(token, 'PATCH', `${JOBS}/${done}`, document({ message: 'Still here' })),
    ])
    assert.deepEqual(answers.map((answer) => answer.status), [200, 422, 409, 404, 422, 200])
    assert.equal(answers[1]!.json.errors[0].code, 'progress_above_total')
    assert.equal(answers[2]!.json.errors[0].code, 'invalid_state')
    assert.equal(answers[4]!.json.errors[0].source.pointer, '/data/attributes/total')
    assert.equal(answers[5]!.json.data.attributes.message, 'Still here')
  })

  it('past the rate limit are refused and change nothing', async () => {
    const limited = await startTestServer({ RATE_LIMIT: '3' }, { db: server.db })
    try {
      const tenant = await createTenant(server.db, server.clock.now())
      const token = await createToken(server.db, tenant.personId, { scopes: ['jobs'] })
      const [{ id }] = await server.db('job_statuses')
        .insert({ organization_id: tenant.organizationId, status: 'working', progress: 0, created_at: new Date(), updated_at: new Date() })
        .returning('id')
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${limited.url}${JOBS}/${id}/progress`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: document({}),
        })
        statuses.push(response.status)
        await response.arrayBuffer()
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429])
      assert.equal((await server.db('job_statuses').where({ id }).first('progress')).progress, 3)
    } finally {
      await limited.close()
    }
  })
})
