// What one client can make the server hold: a job's results are paged, a job keeps a bounded
// number of them, and an event stream whose client does not read is sent the latest state, not a backlog.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { MAX_RESULTS_PER_JOB } from '../src/job-statuses/commands'
import { RESULTS_SHOWN } from '../src/job-statuses/query'
import { createTenant, createToken, type Tenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
let writer: Tenant & { jobsToken: string }
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000' })
  const tenant = await createTenant(server.db)
  writer = { ...tenant, jobsToken: await createToken(server.db, tenant.personId, { scopes: ['jobs', 'calendar'] }) }
})
after(() => server.close())

const jobs = '/jobs/v1/job_statuses'

async function send(method: string, path: string, body?: unknown) {
  const reply = await fetch(path.startsWith('http') ? path : `${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${writer.jobsToken}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await reply.text()
  return { status: reply.status, text, json: text ? JSON.parse(text) : undefined }
}

async function workingJob(): Promise<string> {
  const id = (await send('POST', jobs, { data: { type: 'JobStatus', attributes: {} } })).json.data.id as string
  assert.equal((await send('POST', `${jobs}/${id}/transitions`, { data: { attributes: { status: 'working' } } })).status, 200)
  return id
}

const results = (from: number, count: number) => ({ data: Array.from({ length: count }, (_, i) => ({ id: String(from + i), title: `task ${from + i}` })) })

describe("a job's results", () => {
  it(`a document of a job carries its first ${RESULTS_SHOWN}, with the count and a link to page through all`, async () => {
    const id = await workingJob()
    for (const [from, count] of [[1, 100], [101, 100], [201, 50]] as const) assert.equal((await send('POST', `${jobs}/${id}/results`, results(from, count))).status, 200)

    const read = await send('GET', `${jobs}/${id}`)
    assert.equal(read.json.data.attributes.results.length, RESULTS_SHOWN)
    assert.equal(read.json.data.attributes.results_count, 250)
    assert.equal(read.json.data.links.results, `${server.url}${jobs}/${id}/results`)

    const calendar = await request(server.url, `/calendar/v2/job_statuses/${id}?fields[JobStatus]=results,results_count`, { token: writer.token })
    assert.equal(calendar.json.data.attributes.results.length, RESULTS_SHOWN)
    const zendesk = await request(server.url, `/api/v2/job_statuses/${id}.json`, { token: writer.token })
    assert.equal(zendesk.json.job_status.results.length, RESULTS_SHOWN)

    // Every result once, in order, by following links.next.
    const seen: string[] = []
    let next: string | undefined = read.json.data.links.results + '?per_page=100'
    while (next) {
      const page = await send('GET', next)
      assert.equal(page.status, 200)
      assert.equal(page.json.meta.total_count, 250)
      assert.deepEqual(page.json.meta.parent, { id, type: 'JobStatus' })
      for (const result of page.json.data) {
        assert.equal(result.type, 'JobStatusResult')
        seen.push(result.attributes.task_id)
      }
      next = page.json.links.next
    }
    assert.deepEqual(seen, Array.from({ length: 250 }, (_, i) => String(i + 1)))

    const last = await send('GET', `${jobs}/${id}/results?per_page=100&offset=200`)
    assert.equal(last.json.meta.count, 50)
    assert.equal(last.json.links.prev, `${server.url}${jobs}/${id}/results?offset=100&per_page=100`)
    assert.equal(last.json.links.next, undefined)
  })

  it(`a job keeps at most ${MAX_RESULTS_PER_JOB} results: an append past it is a 422 and adds none`, async () => {
    const id = await workingJob()
    await server.db('job_statuses').where({ id }).update({ results_count: MAX_RESULTS_PER_JOB - 1 })
    const past = await send('POST', `${jobs}/${id}/results`, results(1, 2))
    assert.equal(past.status, 422, past.text)
    assert.equal(past.json.errors[0].source.pointer, '/data')
    assert.equal(past.json.errors[0].code, 'too_many_results')
    assert.equal(Number((await server.db('job_status_results').where({ job_status_id: id }).count({ n: '*' }))[0]!.n), 0)
    assert.equal((await send('POST', `${jobs}/${id}/results`, results(1, 1))).status, 200)
  })

  it('the results of another organization’s job answer 404', async () => {
    const id = await workingJob()
    const other = await createTenant(server.db)
    const otherToken = await createToken(server.db, other.personId, { scopes: ['jobs'] })
    const reply = await fetch(`${server.url}${jobs}/${id}/results`, { headers: { Authorization: `Bearer ${otherToken}` } })
    assert.equal(reply.status, 404)
  })
})

describe('an event stream whose client does not read', () => {
  it('is sent the latest state when it reads again, not every change it missed', async () => {
    const id = await workingJob()
    const host = new URL(server.url)
    const socket = connect(Number(host.port), host.hostname)
    socket.write(`GET ${jobs}/${id}/events HTTP/1.1\r\nHost: ${host.host}\r\nAuthorization: Bearer ${writer.jobsToken}\r\n\r\n`)
    // Read until the first event has arrived, then stop reading: the socket's buffers fill.
    let received = ''
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        received += String(chunk)
        if (received.includes('\n\n', received.indexOf('event: job_status'))) {
          socket.off('data', onData)
          socket.pause()
          resolve()
        }
      }
      socket.on('data', onData)
    })
    // 100 changes of about 200 KB each: 20 MB, more than loopback's socket buffers hold.
    const changes = 100
    const filler = 'x'.repeat(200 * 1024)
    // A second client that reads tells when the server has dealt with each change: the stream that
    // does not read was told of it at the same moment.
    const reader = await fetch(`${server.url}${jobs}/${id}/events`, { headers: { Authorization: `Bearer ${writer.jobsToken}` } })
    const chunks = reader.body![Symbol.asyncIterator]()
    let read = ''
    const readerSees = async (message: string) => {
      while (!read.includes(`"message":"${message}"`)) read = read.slice(-1000) + String(Buffer.from((await chunks.next()).value as Uint8Array))
    }
    for (let i = 1; i <= changes; i++) {
      assert.equal((await send('PATCH', `${jobs}/${id}`, { data: { attributes: { message: `change ${i}`, errors: { base: [filler] } } } })).status, 200)
      await readerSees(`change ${i}`)
    }
    assert.equal((await send('POST', `${jobs}/${id}/transitions`, { data: { attributes: { status: 'completed' } } })).status, 200)
    socket.resume()
    for await (const chunk of socket) {
      received += String(chunk)
      // The stream ends after the completed job's event (chunked encoding's last chunk).
      if (received.endsWith('0\r\n\r\n')) break
    }
    socket.destroy()
    await chunks.return?.()
    const messages = [...received.matchAll(/"message":"([^"]*)"/g)].map((match) => match[1])
    const statuses = [...received.matchAll(/"status":"([a-z]+)"/g)].map((match) => match[1])
    assert.equal(statuses.at(-1), 'completed')
    assert.equal(messages.at(-1), `change ${changes}`)
    assert.ok(messages.length < changes, `${messages.length} events for ${changes} changes: the missed ones were queued, not coalesced`)
  })
})

describe('many streams on one job', () => {
  it('each sees every change in order and ends on the final state, though they share reads', async () => {
    const id = await workingJob()
    const watch = async () => {
      const reply = await fetch(`${server.url}${jobs}/${id}/events`, { headers: { Authorization: `Bearer ${writer.jobsToken}` } })
      let text = ''
      for await (const chunk of reply.body!) text += Buffer.from(chunk).toString()
      return [...text.matchAll(/"message":("change \d+"|null)/g)].map((match) => (match[1] === 'null' ? 0 : Number(/\d+/.exec(match[1]!)![0])))
    }
    const watchers = Array.from({ length: 8 }, () => watch())
    // Changes as fast as they commit, while the watchers read.
    for (let i = 1; i <= 30; i++) assert.equal((await send('PATCH', `${jobs}/${id}`, { data: { attributes: { message: `change ${i}` } } })).status, 200)
    assert.equal((await send('POST', `${jobs}/${id}/transitions`, { data: { attributes: { status: 'completed' } } })).status, 200)
    for (const seen of await Promise.all(watchers)) {
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'events went backwards')
      assert.equal(seen.at(-1), 30)
    }
  })
})
