// Responses are compressed when the client asks (gzip, and br where preferred), as Planning
// Center's are; event streams never are, so each event arrives when it happens.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import { createTenant, createToken, insertJobStatuses, type Tenant } from './support/factories'
import { cacheHits } from './support/http'
import { backend, startTestServer, type TestServer } from './support/server'

interface RawReply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** A request whose body is read as sent: fetch would undo the compression this test looks at. */
function raw(url: string, headers: Record<string, string>): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    }).on('error', reject).end()
  })
}

describe(`compressed responses (${backend})`, () => {
  let server: TestServer
  let tenant: Tenant
  before(async () => {
    server = await startTestServer()
    tenant = await createTenant(server.db)
    await insertJobStatuses(server.db, tenant.organizationId, 30)
  })
  after(() => server.close())

  it('gzips a list for a client that accepts gzip, on the first request and on the hot path after', async () => {
    const auth = { Authorization: `Bearer ${tenant.token}` }
    const plain = await raw(`${server.url}/calendar/v2/job_statuses?per_page=30`, auth)
    assert.equal(plain.headers['content-encoding'], undefined)
    for (let i = 0; i < 2; i++) {
      const zipped = await raw(`${server.url}/calendar/v2/job_statuses?per_page=30`, { ...auth, 'Accept-Encoding': 'gzip' })
      assert.equal(zipped.status, 200)
      assert.equal(zipped.headers['content-encoding'], 'gzip')
      assert.match(String(zipped.headers.vary), /Accept-Encoding/)
      assert.ok(zipped.body.length < plain.body.length / 2, `${zipped.body.length} bytes against ${plain.body.length}`)
      assert.deepEqual(JSON.parse(gunzipSync(zipped.body).toString()).data, JSON.parse(plain.body.toString()).data)
    }
  })

  it('answers br where the client prefers it, and plain bytes for identity', async () => {
    const auth = { Authorization: `Bearer ${tenant.token}` }
    const br = await raw(`${server.url}/calendar/v2/job_statuses?per_page=30`, { ...auth, 'Accept-Encoding': 'br;q=1, gzip;q=0.5' })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.equal(JSON.parse(brotliDecompressSync(br.body).toString()).meta.total_count, 30)
    const identity = await raw(`${server.url}/calendar/v2/job_statuses`, { ...auth, 'Accept-Encoding': 'identity' })
    assert.equal(identity.headers['content-encoding'], undefined)
  })

  it('sends a held page from bytes compressed once, the same page as sent plain, and compresses it afresh after a write', async () => {
    const auth = { Authorization: `Bearer ${tenant.token}` }
    const path = `${server.url}/calendar/v2/job_statuses?per_page=20&offset=5`
    const headersOf = (reply: RawReply) => Object.fromEntries(Object.entries(reply.headers).filter(([name]) => !['date', 'x-request-id', 'content-length', 'transfer-encoding', 'x-pco-api-request-rate-count'].includes(name)))
    for (const [encoding, decompress] of [['gzip', gunzipSync], ['br', brotliDecompressSync]] as const) {
      // Built twice, the page is held from then on; the first compressed answer fills the cache.
      for (let i = 0; i < 3; i++) await raw(path, { ...auth, 'Accept-Encoding': encoding })
      const hits = await cacheHits(server.url, 'compressed_pages')
      const held = await raw(path, { ...auth, 'Accept-Encoding': encoding })
      assert.ok((await cacheHits(server.url, 'compressed_pages')) > hits, `${encoding}: sent from the compressed bytes kept`)
      const plain = await raw(path, auth)
      assert.equal(held.status, 200)
      assert.equal(held.headers['content-encoding'], encoding)
      assert.equal(Number(held.headers['content-length']), held.body.length)
      assert.deepEqual(decompress(held.body), plain.body, encoding)
      // Every other header as the compression stage sets it on a page it compresses itself (which it streams, without a length).
      const fresh = await raw(`${path}&fields[JobStatus]=status,message,errors,retries,started_at`, { ...auth, 'Accept-Encoding': encoding })
      assert.deepEqual({ ...headersOf(held), etag: undefined }, { ...headersOf(fresh), etag: undefined }, encoding)

      const [row] = JSON.parse(plain.body.toString()).data as Array<{ id: string }>
      await server.db('job_statuses').where({ id: row!.id }).update({ message: `changed for ${encoding}` })
      // Built afresh, then held again and sent from compressed bytes again: each time the page as it is now.
      for (let i = 0; i < 3; i++) {
        const after = await raw(path, { ...auth, 'Accept-Encoding': encoding })
        assert.equal(JSON.parse(decompress(after.body).toString()).data[0].attributes.message, `changed for ${encoding}`, `${encoding}, request ${i + 1} after the write`)
        assert.notEqual(after.headers.etag, held.headers.etag)
      }
    }
  })

  it('never compresses an event stream', async () => {
    const token = await createToken(server.db, tenant.personId, { scopes: ['jobs'] })
    const created = await fetch(`${server.url}/jobs/v1/job_statuses`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'JobStatus', attributes: { message: 'watched' } } }),
    })
    const { data } = (await created.json()) as { data: { id: string } }
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const req = httpRequest(`${server.url}/jobs/v1/job_statuses/${data.id}/events`, { headers: { Authorization: `Bearer ${token}`, 'Accept-Encoding': 'gzip, br' } }, (res) => {
        res.once('data', (chunk: Buffer) => {
          assert.match(chunk.toString(), /^(event|data|id|:)/m, 'the first event arrives as text')
          resolve(res.headers)
          req.destroy()
        })
      })
      req.on('error', reject).end()
    })
    assert.equal(headers['content-type'], 'text/event-stream; charset=utf-8')
    assert.equal(headers['content-encoding'], undefined)
  })
})
