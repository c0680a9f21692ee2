// Input no client should be able to turn into a 500: text the database cannot store, numbers past
// their range, JSON too deep or too large, credentials with NUL, a HEAD on a stream that never ends.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { SQLSTATE_ANSWERS } from '../src/db/errors'
import { describeFault, sendFailure, toApiError } from '../src/http/render-error'
import { MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../src/http/json-body'
import { createTenant, createToken, type Tenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
let writer: Tenant & { jobsToken: string }
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000', AUTH_FAILURE_LIMIT: '3' })
  const tenant = await createTenant(server.db)
  writer = { ...tenant, jobsToken: await createToken(server.db, tenant.personId, { scopes: ['jobs', 'calendar'] }) }
})
after(() => server.close())

async function send(method: string, path: string, body: string | unknown, headers: Record<string, string> = {}) {
  const reply = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${writer.jobsToken}`, 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await reply.text()
  return { status: reply.status, headers: reply.headers, text, json: text ? JSON.parse(text) : undefined }
}

const jobs = '/jobs/v1/job_statuses'
const create = (attributes: Record<string, unknown>) => send('POST', jobs, { data: { type: 'JobStatus', attributes } })

async function workingJob(attributes: Record<string, unknown> = {}): Promise<string> {
  const created = await create(attributes)
  assert.equal(created.status, 201)
  const id = created.json.data.id as string
  assert.equal((await send('POST', `${jobs}/${id}/transitions`, { data: { attributes: { status: 'working' } } })).status, 200)
  return id
}

describe('text the database cannot store', () => {
  for (const [name, attributes, pointer] of [
    ['NUL in message', { message: 'a\u0000b' }, '/data/attributes/message'],
    ['NUL in kind', { kind: '\u0000' }, '/data/attributes/kind'],
    ['NUL in an output name', { outputs: [{ name: 'x\u0000' }] }, '/data/attributes/outputs/0/name'],
    ['NUL inside errors', { errors: { base: ['bad \u0000 byte'] } }, '/data/attributes/errors/base/0'],
    ['a lone surrogate inside errors', { errors: { base: ['\ud800'] } }, '/data/attributes/errors/base/0'],
    ['NUL in a member name inside errors', { errors: { 'a\u0000': 1 } }, '/data/attributes/errors/a\u0000'],
  ] as const) {
    it(`${name} answers 400 naming where it is`, async () => {
      const reply = await create(attributes)
      assert.equal(reply.status, 400, reply.text)
      assert.equal(reply.json.errors[0].code, 'invalid_attribute')
      assert.equal(reply.json.errors[0].source.pointer, pointer)
    })
  }

  it('NUL in a result title answers 400, and no result is stored', async () => {
    const id = await workingJob()
    const reply = await send('POST', `${jobs}/${id}/results`, { data: [{ id: 1, title: 'ok' }, { id: 2, title: 'no\u0000' }] })
    assert.equal(reply.status, 400)
    assert.equal(reply.json.errors[0].source.pointer, '/data/1/title')
    const read = await send('GET', `${jobs}/${id}`, undefined as unknown as string)
    assert.equal(read.json.data.attributes.results_count, 0)
  })

  it('a database error a client could provoke maps through the table, never to a 500', async () => {
    // A real error from the real database, as if validation had let the text through.
    const error = await server.db.raw('SELECT ?::text AS t', ['a\u0000b']).then(() => undefined, (e: unknown) => e)
    assert.ok(error, 'the database accepted U+0000 in text')
    const answer = toApiError(error, 5)
    assert.equal(answer.status, SQLSTATE_ANSWERS[(error as { code: string }).code]?.status)
    assert.equal(answer.status, 400)
    assert.doesNotMatch(answer.render(), /select/i)
    assert.ok(!answer.render().includes("\u0000"))
  })

  it("a fault's log line names its cause without the client's data", async () => {
    const error = await server.db.raw("SELECT 'secret-client-value'::bigint").then(() => undefined, (e: unknown) => e)
    const fault = describeFault(error)
    assert.equal(fault.sqlstate, '22P02')
    assert.doesNotMatch(JSON.stringify(fault), /secret-client-value/)
    const lines: string[] = []
    const logger = pino({ base: null }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }))
    const res = { headersSent: false, statusCode: 0, getHeader: () => 'req-1', setHeader() {}, removeHeader() {}, end() {} }
    sendFailure(logger, 5, new TypeError('boom'), res as never)
    assert.equal(res.statusCode, 500)
    assert.match(lines.join(''), /"type":"TypeError"/)
  })
})

describe('numbers past their range', () => {
  it('progress past 2,147,483,647 through increments answers 422 naming the attribute, and changes nothing', async () => {
    const id = await workingJob()
    assert.equal((await send('PATCH', `${jobs}/${id}`, { data: { attributes: { progress: 2_147_483_000 } } })).status, 200)
    const first = await send('POST', `${jobs}/${id}/progress`, { data: { attributes: { increment: 600 } } })
    assert.equal(first.status, 200)
    const second = await send('POST', `${jobs}/${id}/progress`, { data: { attributes: { increment: 600 } } })
    assert.equal(second.status, 422, second.text)
    assert.equal(second.json.errors[0].source.pointer, '/data/attributes/increment')
    assert.match(second.json.errors[0].detail, /2147483647/)
    const read = await send('GET', `${jobs}/${id}`, undefined as unknown as string)
    assert.equal(read.json.data.attributes.progress, 2_147_483_600)
  })

  it('an increment or total past the range is a 400 naming it', async () => {
    const id = await workingJob()
    const increment = await send('POST', `${jobs}/${id}/progress`, { data: { attributes: { increment: 2 ** 31 } } })
    assert.equal(increment.status, 400)
    assert.equal(increment.json.errors[0].source.pointer, '/data/attributes/increment')
    const total = await create({ total: 1e300 })
    assert.equal(total.status, 400)
    assert.equal(total.json.errors[0].source.pointer, '/data/attributes/total')
  })
})

describe('JSON too deep or too large', () => {
  it(`errors nested 10,000 deep answers 400 naming the limit of ${MAX_JSON_DEPTH}`, async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000)
    const reply = await send('POST', jobs, `{"data":{"type":"JobStatus","attributes":{"errors":${deep}}}}`)
    assert.equal(reply.status, 400)
    assert.match(reply.json.errors[0].detail, new RegExp(`at most ${MAX_JSON_DEPTH} levels`))
  })

  it('a 50 MB body answers 413 with the limit in the body', async () => {
    const body = `{"data":{"attributes":{"message":"${'x'.repeat(50 * 1024 * 1024)}"}}}`
    const reply = await send('POST', jobs, body).catch((error: unknown) => ({ status: -1, json: undefined, text: String(error) }))
    assert.equal(reply.status, 413, reply.text)
    assert.equal(reply.json.errors[0].code, 'payload_too_large')
    assert.match(reply.json.errors[0].detail, new RegExp(`${MAX_BODY_BYTES} bytes`))
  })

  it('a body that is not JSON answers 400 in the envelope', async () => {
    const reply = await send('POST', jobs, '{"data":')
    assert.equal(reply.status, 400)
    assert.equal(reply.json.errors[0].code, 'bad_request')
  })
})

describe('credentials with NUL', () => {
  it('HTTP Basic whose user name holds NUL is a 401 that counts as a failed authentication', async () => {
    const local = await startTestServer({ AUTH_FAILURE_LIMIT: '2' })
    try {
      const headers = { Authorization: 'Basic ADoA' }
      for (const path of ['/calendar/v2/job_statuses', '/api/v2/job_statuses.json']) {
        const reply = await request(local.url, path, { headers })
        assert.equal(reply.status, 401, `${path}: ${reply.text}`)
      }
      // Two failures used up the address's allowance: the third is refused before any check.
      const zendesk = Buffer.from('a\u0000@example.org:pw').toString('base64')
      const third = await request(local.url, '/api/v2/job_statuses.json', { headers: { Authorization: `Basic ${zendesk}` } })
      assert.equal(third.status, 429)
    } finally {
      await local.close()
    }
  })

  it("Zendesk's email:password and email/token with NUL are 401s", async () => {
    const local = await startTestServer({ AUTH_FAILURE_LIMIT: '100' })
    try {
      for (const user of ['a\u0000@example.org:pw', 'a\u0000@example.org/token:secret']) {
        const reply = await request(local.url, '/api/v2/job_statuses.json', { headers: { Authorization: `Basic ${Buffer.from(user).toString('base64')}` } })
        assert.equal(reply.status, 401, reply.text)
      }
    } finally {
      await local.close()
    }
  })

  it('a client_id with NUL at the OAuth endpoints is refused, not a 500', async () => {
    const authorize = await request(server.url, '/oauth/authorize?client_id=a%00b&response_type=code')
    assert.equal(authorize.status, 400)
    const token = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=x&client_id=a%00b&client_secret=s',
    })
    // The library checks client_id's characters itself (RFC 6749's VSCHAR): a 400 in RFC 6749's JSON.
    assert.equal(token.status, 400)
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_request')
  })
})

describe('a HEAD on an event stream', () => {
  it('answers its headers and ends while the job still runs', async () => {
    // A scripted job that ends by itself a minute from now: a HEAD held open until the job ends
    // would close its connection only then, and the job would be found completed.
    const created = await create({ scenario: { duration_seconds: 60, total: 1 } })
    const id = created.json.data.id as string
    const host = new URL(server.url)
    const socket = connect(Number(host.port), host.hostname)
    socket.write(`HEAD ${jobs}/${id}/events HTTP/1.1\r\nHost: ${host.host}\r\nAuthorization: Bearer ${writer.jobsToken}\r\nConnection: close\r\n\r\n`)
    let received = ''
    for await (const chunk of socket) received += String(chunk)
    assert.match(received, /^HTTP\/1\.1 200 .*\r\n[^]*content-type: text\/event-stream/i)
    assert.doesNotMatch(received, /event: job_status/)
    const read = await send('GET', `${jobs}/${id}`, undefined as unknown as string)
    assert.notEqual(read.json.data.attributes.status, 'completed')
  })
})
