// The write API under /jobs/v1: create, progress, results, the lifecycle, idempotency and races.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant, createToken, type Tenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000' })
})
after(() => server.close())

interface Writer extends Tenant {
  jobsToken: string
}

async function createWriter(): Promise<Writer> {
  const tenant = await createTenant(server.db)
  return { ...tenant, jobsToken: await createToken(server.db, tenant.personId, { scopes: ['jobs', 'calendar'] }) }
}

async function send(writer: Writer, method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const reply = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${writer.jobsToken}`, 'Content-Type': 'application/vnd.api+json', ...headers },
    body: JSON.stringify(body),
  })
  const text = await reply.text()
  return { status: reply.status, headers: reply.headers, text, json: text ? JSON.parse(text) : undefined }
}

const create = (writer: Writer, attributes: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  send(writer, 'POST', '/jobs/v1/job_statuses', { data: { type: 'JobStatus', attributes } }, headers)
const move = (writer: Writer, id: string, status: string, extra: Record<string, unknown> = {}) =>
  send(writer, 'POST', `/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status, ...extra } } })

describe('creating and reading a job', () => {
  it('answers 201 with every attribute, while the PCO surface keeps its five', async () => {
    const writer = await createWriter()
    const created = await create(writer, { kind: 'import', total: 3, message: 'Waiting', outputs: [{ name: 'events', records_count: 0, url: 'https://example.org/o.csv' }] })
    assert.equal(created.status, 201)
    const id = created.json.data.id
    assert.equal(created.headers.get('location'), `${server.url}/jobs/v1/job_statuses/${id}`)
    assert.deepEqual(Object.keys(created.json.data.attributes), [
      'completed_at', 'created_at', 'created_by', 'errors', 'failed_at', 'kind', 'message', 'outputs', 'progress', 'results_count',
      'retries', 'runtime', 'started_at', 'status', 'total', 'updated_at',
    ])
    assert.equal(created.json.data.attributes.status, 'queued')
    assert.equal(created.json.data.attributes.created_by, writer.personId)

    const pco = await request(server.url, `/calendar/v2/job_statuses/${id}`, { token: writer.token })
    assert.deepEqual(Object.keys(pco.json.data.attributes), ['errors', 'message', 'retries', 'started_at', 'status'])
    const extra = await request(server.url, `/calendar/v2/job_statuses/${id}?fields[JobStatus]=kind,progress,total,outputs,status`, { token: writer.token })
    assert.deepEqual(extra.json.data.attributes, {
      kind: 'import', outputs: [{ name: 'events', records_count: 0, url: 'https://example.org/o.csv' }], progress: 0, status: 'queued', total: 3,
    })
  })

  it('refuses bad documents with the pointer at fault, and tokens without the jobs scope', async () => {
    const writer = await createWriter()
    for (const [attributes, pointer] of [
      [{ total: -1 }, '/data/attributes/total'],
      [{ total: 'ten' }, '/data/attributes/total'],
      [{ outputs: [{ records_count: 1 }] }, '/data/attributes/outputs/0/name'],
      [{ scenario: { duration_seconds: 0, total: 3 } }, '/data/attributes/scenario/duration_seconds'],
      [{ errors: 'oops' }, '/data/attributes/errors'],
    ] as const) {
      const reply = await create(writer, attributes)
      assert.equal(reply.status, 400, JSON.stringify(attributes))
      assert.equal(reply.json.errors[0].source.pointer, pointer)
    }
    const notJson = await fetch(`${server.url}/jobs/v1/job_statuses`, {
      method: 'POST', headers: { Authorization: `Bearer ${writer.jobsToken}`, 'Content-Type': 'application/json' }, body: '{"data":',
    })
    assert.equal(notJson.status, 400)
    const calendarOnly = await fetch(`${server.url}/jobs/v1/job_statuses`, {
      method: 'POST', headers: { Authorization: `Bearer ${writer.token}`, 'Content-Type': 'application/json' }, body: '{"data":{}}',
    })
    assert.equal(calendarOnly.status, 401)
    assert.match(await calendarOnly.text(), /PELICAN/)
  })
})

describe('the lifecycle', () => {
  it('moves queued → working → completed and stamps the times', async () => {
    const writer = await createWriter()
    const id = (await create(writer)).json.data.id
    const working = await move(writer, id, 'working')
    assert.equal(working.status, 200)
    assert.ok(working.json.data.attributes.started_at)
    const done = await move(writer, id, 'completed', { message: 'All done' })
    assert.equal(done.json.data.attributes.status, 'completed')
    assert.equal(done.json.data.attributes.message, 'All done')
    assert.ok(done.json.data.attributes.completed_at)
    assert.equal(typeof done.json.data.attributes.runtime, 'number')
  })

  it('refuses an illegal move with 409 and changes nothing', async () => {
    const writer = await createWriter()
    const created = (await create(writer)).json.data
    for (const to of ['completed', 'failed', 'killed', 'stopping', 'queued']) {
      const refused = await move(writer, created.id, to)
      assert.equal(refused.status, 409, to)
      assert.equal(refused.json.errors[0].code, 'invalid_transition')
      assert.match(refused.json.errors[0].detail, /A queued job cannot become/)
    }
    const unchanged = await send(writer, 'GET', `/jobs/v1/job_statuses/${created.id}`, undefined)
    assert.equal(unchanged.json.data.attributes.status, 'queued')
    assert.equal(unchanged.json.data.attributes.updated_at, created.attributes.updated_at)
    const bad = await move(writer, created.id, 'exploded')
    assert.equal(bad.status, 400)
  })

  it('retries a failed job with retries + 1, and stops a working one through stopping', async () => {
    const writer = await createWriter()
    const id = (await create(writer)).json.data.id
    await move(writer, id, 'working')
    const failed = await move(writer, id, 'failed', { errors: { base: ['disk full'] } })
    assert.ok(failed.json.data.attributes.failed_at)
    const again = await move(writer, id, 'queued')
    assert.equal(again.json.data.attributes.retries, 1)
    assert.equal(again.json.data.attributes.failed_at, null)
    await move(writer, id, 'working')
    assert.equal((await move(writer, id, 'stopping')).json.data.attributes.status, 'stopping')
    assert.equal((await move(writer, id, 'completed')).status, 409)
    assert.equal((await move(writer, id, 'killed')).json.data.attributes.status, 'killed')
    assert.equal((await move(writer, id, 'queued')).status, 409)
  })

  it('ends a race between completed and failed in exactly one terminal state', async () => {
    const writer = await createWriter()
    for (let round = 0; round < 10; round++) {
      const id = (await create(writer)).json.data.id
      await move(writer, id, 'working')
      const [completed, failed] = await Promise.all([move(writer, id, 'completed'), move(writer, id, 'failed')])
      assert.deepEqual([completed.status, failed.status].sort(), [200, 409])
      const winner = completed.status === 200 ? 'completed' : 'failed'
      const final = await send(writer, 'GET', `/jobs/v1/job_statuses/${id}`, undefined)
      assert.equal(final.json.data.attributes.status, winner)
    }
  })
})

describe('progress and results', () => {
  it('loses none of 50 concurrent progress reports', async () => {
    const writer = await createWriter()
    const id = (await create(writer, { total: 50 })).json.data.id
    await move(writer, id, 'working')
    const replies = await Promise.all(Array.from({ length: 50 }, () => send(writer, 'POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 1 } } })))
    assert.ok(replies.every((reply) => reply.status === 200))
    const final = await send(writer, 'GET', `/jobs/v1/job_statuses/${id}`, undefined)
    assert.equal(final.json.data.attributes.progress, 50)
  })

  it('never lets progress pass total: by an increment, a PATCH of progress or of total', async () => {
    const writer = await createWriter()
    const id = (await create(writer, { total: 3 })).json.data.id
    await move(writer, id, 'working')
    assert.equal((await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 2 } } })).status, 200)
    const past = await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 2 } } })
    assert.equal(past.status, 422)
    assert.deepEqual([past.json.errors[0].code, past.json.errors[0].source], ['progress_above_total', { pointer: '/data/attributes/increment' }])
    const patched = await send(writer, 'PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { progress: 4 } } })
    assert.equal(patched.status, 422)
    assert.deepEqual(patched.json.errors[0].source, { pointer: '/data/attributes/progress' })
    const shrunk = await send(writer, 'PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { total: 1 } } })
    assert.equal(shrunk.status, 422)
    assert.deepEqual(shrunk.json.errors[0].source, { pointer: '/data/attributes/total' })
    // Both at once, consistent, is fine; so is a job without a total.
    assert.equal((await send(writer, 'PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { total: 10, progress: 10 } } })).status, 200)
    assert.equal((await send(writer, 'PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { total: null, progress: 99 } } })).status, 200)
    const final = await send(writer, 'GET', `/jobs/v1/job_statuses/${id}`, undefined)
    assert.deepEqual([final.json.data.attributes.progress, final.json.data.attributes.total], [99, null])
    // A row already past its total (written before the rule) can still have its message changed.
    await server.db('job_statuses').where({ id }).update({ total: 5 })
    assert.equal((await send(writer, 'PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { message: 'still editable' } } })).status, 200)
  })

  it('answers 415 naming the media type of a body that is not JSON', async () => {
    const writer = await createWriter()
    const reply = await send(writer, 'POST', '/jobs/v1/job_statuses', { data: { type: 'JobStatus', attributes: {} } }, { 'Content-Type': 'text/plain' })
    assert.equal(reply.status, 415)
    assert.match(reply.json.errors[0].detail, /text\/plain/)
  })

  it('refuses progress before a job works', async () => {
    const writer = await createWriter()
    const id = (await create(writer)).json.data.id
    const refused = await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 1 } } })
    assert.equal(refused.status, 409)
    assert.equal(refused.json.errors[0].code, 'invalid_state')
  })

  it('appends thousands of results in order and serves them a page at a time', async () => {
    const writer = await createWriter()
    const id = (await create(writer, { total: 2500 })).json.data.id
    await move(writer, id, 'working')
    for (let batch = 0; batch < 5; batch++) {
      const results = Array.from({ length: 500 }, (_, i) => ({ id: String(batch * 500 + i), action: 'update', success: true, status: 'Updated', errors: '', title: `Task ${batch * 500 + i}` }))
      assert.equal((await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/results`, { data: results })).status, 200)
    }
    const read = await request(server.url, `/calendar/v2/job_statuses/${id}?fields[JobStatus]=results,results_count`, { token: writer.token })
    assert.equal(read.json.data.attributes.results_count, 2500)
    // A document of the job carries the first 100; the rest are paged.
    assert.equal(read.json.data.attributes.results.length, 100)
    assert.deepEqual(read.json.data.attributes.results[12], { id: '12', action: 'update', success: true, status: 'Updated', errors: '', title: 'Task 12' })
    const page = await send(writer, 'GET', `/jobs/v1/job_statuses/${id}/results?per_page=100&offset=1200`, undefined)
    assert.equal(page.json.meta.total_count, 2500)
    assert.deepEqual(page.json.data[34].attributes, { action: 'update', created_at: page.json.data[34].attributes.created_at, errors: '', status: 'Updated', success: true, task_id: '1234', title: 'Task 1234' })
  })
})

describe('Idempotency-Key', () => {
  it('replays the first response to a create and an append, and refuses the key for another request', async () => {
    const writer = await createWriter()
    const first = await create(writer, { kind: 'sync' }, { 'Idempotency-Key': 'create-1' })
    const again = await create(writer, { kind: 'sync' }, { 'Idempotency-Key': 'create-1' })
    assert.equal(again.status, 201)
    assert.equal(again.text, first.text)
    assert.equal(again.headers.get('idempotent-replayed'), 'true')
    const count = await server.db('job_statuses').where({ organization_id: writer.organizationId }).count({ n: '*' }).first()
    assert.equal(Number(count?.n), 1)

    const id = first.json.data.id
    await move(writer, id, 'working')
    const body = { data: [{ id: '1', title: 'one' }, { id: '2', title: 'two' }] }
    const appended = await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/results`, body, { 'Idempotency-Key': 'append-1' })
    const replayed = await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/results`, body, { 'Idempotency-Key': 'append-1' })
    assert.equal(replayed.text, appended.text)
    const stored = await server.db('job_status_results').where({ job_status_id: id }).count({ n: '*' }).first()
    assert.equal(Number(stored?.n), 2)

    const reused = await create(writer, { kind: 'other' }, { 'Idempotency-Key': 'create-1' })
    assert.equal(reused.status, 422)
    assert.equal(reused.json.errors[0].code, 'idempotency_key_reused')
  })

  it('makes a retried progress report, transition or PATCH happen once', async () => {
    const writer = await createWriter()
    const id = (await create(writer, { total: 10 })).json.data.id
    const twice = async (method: string, path: string, body: unknown, key: string) => {
      const first = await send(writer, method, path, body, { 'Idempotency-Key': key })
      const again = await send(writer, method, path, body, { 'Idempotency-Key': key })
      assert.equal(first.status, 200, first.text)
      assert.equal(again.status, 200)
      assert.equal(again.text, first.text, `${method} ${path}: the first answer, again`)
      assert.equal(again.headers.get('idempotent-replayed'), 'true')
    }
    await twice('POST', `/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'working' } } }, 'start')
    await twice('POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 3 } } }, 'three')
    await twice('PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { message: 'Three done' } } }, 'say')
    const job = await send(writer, 'GET', `/jobs/v1/job_statuses/${id}`, undefined)
    assert.equal(job.json.data.attributes.progress, 3)
    assert.equal(job.json.data.attributes.status, 'working')
    const reused = await send(writer, 'POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 1 } } }, { 'Idempotency-Key': 'three' })
    assert.equal(reused.status, 422)
    assert.equal(reused.json.errors[0].code, 'idempotency_key_reused')
  })

  it('creates once when the same key arrives ten times at once', async () => {
    const writer = await createWriter()
    const replies = await Promise.all(Array.from({ length: 10 }, () => create(writer, { kind: 'race' }, { 'Idempotency-Key': 'same' })))
    assert.ok(replies.every((reply) => reply.status === 201))
    assert.equal(new Set(replies.map((reply) => reply.json.data.id)).size, 1)
    const count = await server.db('job_statuses').where({ organization_id: writer.organizationId }).count({ n: '*' }).first()
    assert.equal(Number(count?.n), 1)
  })
})

describe('reading and watching on the PCO surface', () => {
  it('filters by status and started_at, orders by started_at, and lists what it can', async () => {
    const writer = await createWriter()
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const id = (await create(writer)).json.data.id
      ids.push(id)
      if (i > 0) {
        await move(writer, id, 'working')
        server.clock.advance(1_000)
      }
    }
    await move(writer, ids[3]!, 'failed')
    const list = (query: string) => request(server.url, `/calendar/v2/job_statuses?${query}`, { token: writer.token })
    const idsOf = (reply: { json: { data: Array<{ id: string }> } }) => reply.json.data.map((row) => row.id)

    const working = await list('where[status]=working')
    assert.deepEqual(idsOf(working), [ids[1], ids[2]])
    assert.equal(working.json.meta.total_count, 2)
    assert.deepEqual(working.json.meta.can_query_by, ['started_at', 'status'])
    assert.deepEqual(working.json.meta.can_order_by, ['created_at', 'started_at'])
    assert.deepEqual(idsOf(await list('where[status]=working,failed&order=-started_at')), [ids[3], ids[2], ids[1]])
    assert.deepEqual(idsOf(await list('order=started_at')), [ids[1], ids[2], ids[3], ids[0]])
    const secondStart = (await request(server.url, `/calendar/v2/job_statuses/${ids[2]}`, { token: writer.token })).json.data.attributes.started_at
    assert.deepEqual(idsOf(await list(`where[started_at][gte]=${secondStart}`)), [ids[2], ids[3]])
    assert.deepEqual(idsOf(await list(`where[started_at][lt]=${secondStart}`)), [ids[1]])
    assert.deepEqual(idsOf(await list('where[unknown]=x&where[status]=queued')), [ids[0]])

    for (const [query, parameter] of [
      ['where[status]=done', 'where[status]'],
      ['where[started_at][gte]=yesterday', 'where[started_at][gte]'],
      ['order=message', 'order'],
    ]) {
      const refused = await list(query!)
      assert.equal(refused.status, 400)
      assert.equal(refused.json.errors[0].source.parameter, parameter)
    }
  })

  it('answers If-None-Match with 304 until the job changes', async () => {
    const writer = await createWriter()
    const id = (await create(writer)).json.data.id
    for (const path of [`/calendar/v2/job_statuses/${id}`, '/calendar/v2/job_statuses']) {
      const first = await request(server.url, path, { token: writer.token })
      const etag = first.headers.get('etag')!
      assert.match(etag, /^W\/"/)
      const conditional = { 'If-None-Match': etag, 'Cache-Control': 'max-age=0' }
      const unchanged = await request(server.url, path, { token: writer.token, headers: conditional })
      assert.equal(unchanged.status, 304)
      assert.equal(unchanged.text, '')
      server.clock.advance(1_000)
      await send(writer, 'PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { message: `changed ${path}` } } })
      const changed = await request(server.url, path, { token: writer.token, headers: conditional })
      assert.equal(changed.status, 200)
      assert.notEqual(changed.headers.get('etag'), etag)
    }
  })
})
