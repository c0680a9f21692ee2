// Every in-process cache stays true when another process writes: a change made through one server is
// what the next request to another server on the same database answers. Each cache is first filled
// by reading through the spawned server, then the write goes through this process's server.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { createAccessToken } from '../src/auth/credentials'
import { createTenant, createToken, insertJobStatuses, type Tenant } from './support/factories'
import { cacheHits, request } from './support/http'
import { postForm, registerApplication } from './support/oauth'
import { startTestServer, type TestServer } from './support/server'

const skip = process.env.DATABASE_URL ? false : 'no DATABASE_URL: the embedded database opens in one process'

let writer: TestServer
let reader: { child: ChildProcess; url: string }
before(async () => {
  if (skip) return
  writer = await startTestServer({ RATE_LIMIT: '1000000' })
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', DEMO: 'false', LOG_LEVEL: 'warn', RATE_LIMIT: '1000000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let output = ''
  child.stderr.setEncoding('utf8')
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      output += chunk
      const listening = /listening on (http:\/\/\S+)/.exec(output)
      if (listening) resolve(listening[1]!)
    })
    child.once('exit', (code) => reject(new Error(`the reading server exited with ${code}: ${output}`)))
  })
  reader = { child, url }
})
after(async () => {
  if (skip) return
  reader.child.kill('SIGTERM')
  await once(reader.child, 'exit')
  await writer.close()
})

const LIST = '/calendar/v2/job_statuses'

async function writerFor(tenant: Tenant) {
  const jobs = await createToken(writer.db, tenant.personId, { scopes: ['jobs'] })
  return (method: string, path: string, attributes: Record<string, unknown>) =>
    fetch(`${writer.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${jobs}`, 'Content-Type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { attributes } }),
    }).then((reply) => reply.status)
}

describe('caches across processes', { skip }, () => {
  it('known tokens: a token revoked through another server is refused at the next request', async () => {
    const tenant = await createTenant(writer.db)
    const { clientId, clientSecret } = await registerApplication(writer.db)
    const application = await writer.db('oauth_applications').where({ client_id: clientId }).first('id')
    const token = await createAccessToken(writer.db, { personId: tenant.personId, applicationId: String(application.id), scopes: ['calendar'], expiresAt: null })
    const [id] = await insertJobStatuses(writer.db, tenant.organizationId, 1)
    // Known to the reader: its fast path has seen the token valid.
    for (let i = 0; i < 3; i++) assert.equal((await request(reader.url, `${LIST}/${id}`, { token })).status, 200)
    const revoked = await postForm(`${writer.url}/oauth/revoke`, { token, client_id: clientId, client_secret: clientSecret })
    assert.equal(revoked.status, 200)
    assert.equal((await request(reader.url, `${LIST}/${id}`, { token })).status, 401)
    assert.equal((await request(reader.url, LIST, { token })).status, 401)
  })

  it('known tokens: a personal access token revoked in another process is refused at the next request', async () => {
    const tenant = await createTenant(writer.db)
    const [id] = await insertJobStatuses(writer.db, tenant.organizationId, 1)
    for (let i = 0; i < 3; i++) assert.equal((await request(reader.url, `${LIST}/${id}`, { basic: tenant.pat })).status, 200)
    await writer.db('personal_access_tokens').where({ app_id: tenant.pat.appId }).update({ revoked_at: new Date() })
    assert.equal((await request(reader.url, `${LIST}/${id}`, { basic: tenant.pat })).status, 401)
    assert.equal((await request(reader.url, LIST, { basic: tenant.pat })).status, 401)
  })

  it('held pages and pages built ahead: a page shows another server’s write at once', async () => {
    const tenant = await createTenant(writer.db)
    const write = await writerFor(tenant)
    const ids = await insertJobStatuses(writer.db, tenant.organizationId, 120)
    const walk = async () => {
      const pages = []
      for (let offset = 0; offset < 150; offset += 25) pages.push((await request(reader.url, `${LIST}?offset=${offset}`, { token: tenant.token })).json)
      return pages
    }
    // Twice: the second walk is served from held pages and pages built ahead.
    await walk()
    await walk()
    assert.equal(await write('PATCH', `/jobs/v1/job_statuses/${ids[60]}`, { message: 'changed elsewhere' }), 200)
    assert.equal(await write('POST', '/jobs/v1/job_statuses', { message: 'added elsewhere' }), 201)
    const after = await walk()
    assert.equal(after[2].data.find((row: { id: string }) => row.id === ids[60]).attributes.message, 'changed elsewhere')
    assert.equal(after[0].meta.total_count, 121)
    assert.equal(after[4].data.at(-1).attributes.message, 'added elsewhere')
    // A job deleted elsewhere moves every later row up one place.
    await writer.db('job_statuses').where({ id: ids[10] }).delete()
    const shifted = await walk()
    assert.equal(shifted[0].meta.total_count, 120)
    assert.equal(shifted[0].data[10].id, ids[11])
    assert.equal(shifted[1].data[0].id, ids[26])
  })

  it('compressed pages: a page asked for gzipped shows another server’s write at once', async () => {
    const tenant = await createTenant(writer.db)
    const write = await writerFor(tenant)
    const ids = await insertJobStatuses(writer.db, tenant.organizationId, 30)
    // fetch undoes the gzip; the reader's metrics tell whether the kept compressed bytes answered.
    const page = () => request(reader.url, `${LIST}?per_page=30`, { token: tenant.token, headers: { 'Accept-Encoding': 'gzip' } })
    for (let i = 0; i < 3; i++) await page()
    const hits = await cacheHits(reader.url, 'compressed_pages')
    assert.equal((await page()).status, 200)
    assert.ok((await cacheHits(reader.url, 'compressed_pages')) > hits)
    for (const message of ['changed elsewhere', 'changed again']) {
      assert.equal(await write('PATCH', `/jobs/v1/job_statuses/${ids[7]}`, { message }), 200)
      for (let i = 0; i < 3; i++) {
        const reply = await page()
        assert.equal(reply.json.data.find((row: { id: string }) => row.id === ids[7]).attributes.message, message, `request ${i + 1} after "${message}"`)
      }
    }
  })

  it('page positions: a deep page follows another process’s deletes and another server’s creates at once', async () => {
    const tenant = await createTenant(writer.db)
    const write = await writerFor(tenant)
    const ids = await insertJobStatuses(writer.db, tenant.organizationId, 1_300)
    const deep = async (offset: number) => (await request(reader.url, `${LIST}?offset=${offset}`, { token: tenant.token })).json
    const positionHits = () => cacheHits(reader.url, 'positions')
    // The first deep page takes the organization's positions; the next pages start from them.
    assert.equal((await deep(1_200)).data[0].id, ids[1_200])
    const hits = await positionHits()
    assert.equal((await deep(1_225)).data[0].id, ids[1_225])
    assert.ok((await positionHits()) > hits, 'the reader started the page from its positions')
    // A job deleted through another connection moves every later row up one place.
    await writer.db('job_statuses').where({ id: ids[5] }).delete()
    const shifted = await deep(1_200)
    assert.equal(shifted.meta.total_count, 1_299)
    assert.equal(shifted.data[0].id, ids[1_201])
    assert.equal((await deep(1_225)).data[0].id, ids[1_226])
    // A job created through the other server is the last row at once.
    assert.equal(await write('POST', '/jobs/v1/job_statuses', { message: 'added elsewhere' }), 201)
    const last = await deep(1_275)
    assert.equal(last.meta.total_count, 1_300)
    assert.equal(last.data.length, 25)
    assert.equal(last.data.at(-1).attributes.message, 'added elsewhere')
  })

  it('reads: a read shows another server’s write at once', async () => {
    const tenant = await createTenant(writer.db)
    const write = await writerFor(tenant)
    const [id] = await insertJobStatuses(writer.db, tenant.organizationId, 1)
    // Read three times: a row is kept once it is asked for again.
    for (let i = 0; i < 3; i++) await request(reader.url, `${LIST}/${id}`, { token: tenant.token })
    await request(reader.url, LIST, { token: tenant.token })
    await request(reader.url, LIST, { token: tenant.token })
    assert.equal(await write('PATCH', `/jobs/v1/job_statuses/${id}`, { message: 'seen everywhere' }), 200)
    assert.equal((await request(reader.url, `${LIST}/${id}`, { token: tenant.token })).json.data.attributes.message, 'seen everywhere')
    assert.equal((await request(reader.url, LIST, { token: tenant.token })).json.data[0].attributes.message, 'seen everywhere')
  })
})
