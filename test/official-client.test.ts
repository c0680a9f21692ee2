// Planning Center's own JS client (@planningcenter/api-client), pointed at this server unchanged.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant, insertJobStatuses } from './support/factories'
import { startTestServer, type TestServer } from './support/server'

// The client is written for browsers: it sends through XMLHttpRequest, and outside NODE_ENV=test it
// reads a CSRF token from the page. xhr2 is XMLHttpRequest over node:http.
process.env.NODE_ENV = 'test'
// eslint-disable-next-line @typescript-eslint/no-require-imports -- xhr2 ships no types or ES module
;(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = require('xhr2')
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after NODE_ENV is set, which it reads at load
const { Client } = require('@planningcenter/api-client') as {
  Client: new (options: { root: string; version: string; defaultHeaders: Record<string, string> }) => {
    get(request: { url: string; data: Record<string, unknown> }): Promise<{ data: any; meta: any }> // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}

let server: TestServer
before(async () => {
  server = await startTestServer()
})
after(() => server.close())

function clientFor(token: string) {
  return new Client({ root: `${server.url}/calendar/v2`, version: '2022-07-07', defaultHeaders: { Authorization: `Bearer ${token}` } })
}

describe('@planningcenter/api-client', () => {
  it('walks every page by links.next and gets every row once', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const ids = await insertJobStatuses(server.db, organizationId, 237)
    const result = await clientFor(token).get({
      url: '/job_statuses',
      data: { walk: true, perPage: 25, fields: { JobStatus: ['status', 'message', 'retries'] } },
    })
    assert.deepEqual(
      result.data.map((row: { id: number }) => String(row.id)),
      ids,
    )
    assert.deepEqual(result.data[0], {
      id: Number(ids[0]),
      type: 'JobStatus',
      links: { self: `${server.url}/calendar/v2/job_statuses/${ids[0]}` },
      message: 'job 1',
      retries: 0,
      status: 'queued',
    })
    assert.equal(result.meta.totalCount, 237)
    assert.deepEqual(result.meta.parent, { id: organizationId, type: 'Organization' })
  })

  it('reads one job status and the organization', async () => {
    const { organizationId, token } = await createTenant(server.db)
    const [id] = await insertJobStatuses(server.db, organizationId, 1)
    const client = clientFor(token)
    const job = await client.get({ url: `/job_statuses/${id}`, data: { fields: { JobStatus: ['status', 'started_at'] } } })
    assert.deepEqual(job.data, {
      id: Number(id),
      type: 'JobStatus',
      links: { self: `${server.url}/calendar/v2/job_statuses/${id}` },
      startedAt: null,
      status: 'queued',
    })
    const organization = await client.get({ url: '/', data: { fields: { Organization: ['name'] } } })
    assert.equal(organization.data.id, Number(organizationId))
    assert.match(organization.data.name, /^Org /)
  })

  it('rejects with the error document on a 404', async () => {
    const { token } = await createTenant(server.db)
    await assert.rejects(clientFor(token).get({ url: '/job_statuses/999999999', data: { fields: { JobStatus: ['status'] } } }), {
      errors: [{ status: '404', title: 'Not Found', detail: 'The resource you requested could not be found' }],
    })
  })
})
