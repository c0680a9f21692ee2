// The same store read as Zendesk's job_statuses (through the node-zendesk client) and as Xplenty's jobs.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createClient } from 'node-zendesk'
import { createPerson, createPersonalAccessToken } from '../src/auth/credentials'
import { hashPassword } from '../src/auth/passwords'
import { createTenant, createToken, insertJobStatus } from './support/factories'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000' })
})
after(() => server.close())

/** An organization with a person who has an email, a password and an API key, and a few jobs in several states. */
async function account() {
  const tenant = await createTenant(server.db)
  const email = `agent-${tenant.organizationId}@example.org`
  const personId = await createPerson(server.db, tenant.organizationId, { name: 'Agent Smith', email, password_digest: await hashPassword('s3cret-pw') })
  const key = await createPersonalAccessToken(server.db, personId)
  const bearer = await createToken(server.db, personId)
  const completed = await insertJobStatus(server.db, tenant.organizationId, { status: 'completed', message: 'Done', started_at: '2026-01-01T10:00:00Z' })
  await server.db('job_statuses').where({ id: completed }).update({ total: 2, progress: 2, created_by: personId, completed_at: new Date('2026-01-01T10:01:40Z'), outputs: JSON.stringify([{ name: 'tickets', records_count: 2, url: null }]) })
  await server.db('job_status_results').insert([
    { job_status_id: completed, task_id: '380', task_id_is_number: true, action: 'update', success: true, status: 'Updated', errors: JSON.stringify(''), title: 'I accidentally the whole bottle' },
    { job_status_id: completed, task_id: '90', task_id_is_number: true, action: 'update', success: true, status: 'Updated', errors: JSON.stringify(''), title: 'Printer on fire' },
  ])
  await server.db('job_statuses').where({ id: completed }).update({ results_count: 2 })
  const stopping = await insertJobStatus(server.db, tenant.organizationId, { status: 'stopping', started_at: '2026-01-01T11:00:00Z' })
  await server.db('job_statuses').where({ id: stopping }).update({ total: 4, progress: 1 })
  const killed = await insertJobStatus(server.db, tenant.organizationId, { status: 'killed' })
  return { ...tenant, email, personId, key, bearer, completed, stopping, killed }
}

describe('Zendesk, through node-zendesk', () => {
  it('shows a job status with its results, in Zendesk’s fields', async () => {
    const a = await account()
    const client = createClient({ username: a.email, token: a.key.secret, endpointUri: `${server.url}/api/v2` })
    const { result } = (await client.jobstatuses.show(a.completed)) as { result: { job_status: unknown } }
    // Zendesk wraps one job status in job_status, and node-zendesk hands the body over as it is.
    assert.deepEqual(result.job_status, {
      id: a.completed,
      url: `${server.url}/api/v2/job_statuses/${a.completed}.json`,
      total: 2,
      progress: 2,
      status: 'completed',
      message: 'Done',
      results: [
        { id: 380, action: 'update', success: true, status: 'Updated', errors: '', title: 'I accidentally the whole bottle' },
        { id: 90, action: 'update', success: true, status: 'Updated', errors: '', title: 'Printer on fire' },
      ],
    })
  })

  it('gives result ids back in the type the worker sent, and answers a read without .json like the list', async () => {
    const a = await account()
    const jobsToken = await createToken(server.db, a.personId, { scopes: ['jobs'] })
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}/jobs/v1/job_statuses${path}`, { method: 'POST', headers: { Authorization: `Bearer ${jobsToken}`, 'Content-Type': 'application/vnd.api+json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ data: { id: string } }>)
    const { data } = await post('', { data: { type: 'JobStatus', attributes: { total: 2 } } })
    await post(`/${data.id}/transitions`, { data: { attributes: { status: 'working' } } })
    await post(`/${data.id}/results`, { data: [{ id: 7, action: 'create', success: true }, { id: '8', action: 'create', success: true }] })
    const auth = { Authorization: `Bearer ${a.bearer}` }
    const withJson = (await (await fetch(`${server.url}/api/v2/job_statuses/${data.id}.json`, { headers: auth })).json()) as { job_status: { results: Array<{ id: unknown }> } }
    assert.deepEqual(withJson.job_status.results.map((result) => result.id), [7, '8'])
    const without = await fetch(`${server.url}/api/v2/job_statuses/${data.id}`, { headers: auth })
    assert.equal(without.status, 200)
    assert.deepEqual(await without.json(), withJson)
    const many = await fetch(`${server.url}/api/v2/job_statuses/show_many?ids=${data.id}`, { headers: auth })
    assert.equal(many.status, 200)
  })

  it('lists every job status across pages, and shows many by id, with an OAuth token', async () => {
    const a = await account()
    for (let i = 0; i < 120; i++) await insertJobStatus(server.db, a.organizationId)
    const client = createClient({ token: a.bearer, oauth: true, endpointUri: `${server.url}/api/v2` })
    const first = (await client.jobstatuses.list()).result as unknown as { job_statuses: unknown[]; next_page: string | null; count: number }
    assert.equal(first.job_statuses.length, 100)
    assert.equal(first.count, 123)
    assert.equal(first.next_page, `${server.url}/api/v2/job_statuses.json?page=2&per_page=100`)
    // Follow next_page with the client's own request method, as a script paging through would.
    const raw = client.jobstatuses as unknown as { get(path: string[]): Promise<{ result: { job_statuses: Array<{ id: string }>; next_page: string | null } }> }
    const all = [...(first.job_statuses as Array<{ id: string }>)]
    let next: string | null = first.next_page
    while (next) {
      const { result } = await raw.get(['job_statuses', `?${new URL(next).searchParams}`])
      all.push(...result.job_statuses)
      next = result.next_page
    }
    assert.equal(all.length, 123)
    assert.equal(new Set(all.map((job) => job.id)).size, 123)
    const { result } = await client.jobstatuses.showMany([a.killed, a.stopping, '999999999'])
    assert.deepEqual(
      (result as unknown as { job_statuses: Array<{ id: string; status: string }> }).job_statuses.map((job) => [job.id, job.status]),
      [[a.killed, 'killed'], [a.stopping, 'working']],
    )
  })

  it('accepts a password, refuses bad credentials, and hides other organizations’ jobs', async () => {
    const a = await account()
    const b = await account()
    const withPassword = createClient({ username: a.email, password: 's3cret-pw', endpointUri: `${server.url}/api/v2` })
    assert.equal(((await withPassword.jobstatuses.show(a.completed)).result as { job_status: { status: string } }).job_status.status, 'completed')
    await assert.rejects(withPassword.jobstatuses.show(b.completed), /404|Not Found|RecordNotFound/i)
    const wrong = createClient({ username: a.email, token: 'f'.repeat(64), endpointUri: `${server.url}/api/v2` })
    await assert.rejects(wrong.jobstatuses.show(a.completed), /401|authenticate/i)
    const raw = await fetch(`${server.url}/api/v2/job_statuses/${a.completed}.json`, {
      headers: { Authorization: `Basic ${Buffer.from(`${a.email}/token:wrong`).toString('base64')}` },
    })
    assert.equal(raw.status, 401)
    assert.deepEqual(await raw.json(), { error: "Couldn't authenticate you" })
  })
})

describe('Xplenty', () => {
  const get = (path: string, key: string, accept = 'application/vnd.xplenty+json; version=2') =>
    fetch(`${server.url}${path}`, { headers: { Accept: accept, Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` } })

  it('shows a job in Xplenty’s fields and media type, with progress as a fraction', async () => {
    const a = await account()
    const reply = await get(`/${a.organizationId}/api/jobs/${a.completed}`, a.key.secret)
    assert.equal(reply.status, 200)
    assert.equal(reply.headers.get('content-type'), 'application/vnd.xplenty+json; version=2')
    const job = (await reply.json()) as Record<string, unknown>
    assert.deepEqual(Object.keys(job), [
      'id', 'status', 'owner_id', 'progress', 'outputs_count', 'outputs', 'variables', 'dynamic_variables', 'started_at', 'created_at',
      'failed_at', 'updated_at', 'cluster_id', 'package_id', 'errors', 'runtime_in_seconds', 'url', 'html_url', 'log_url', 'creator',
      'package', 'cluster',
    ])
    assert.equal(job.id, Number(a.completed))
    assert.equal(job.status, 'completed')
    assert.equal(job.progress, 1)
    assert.equal(job.owner_id, Number(a.personId))
    assert.equal(job.runtime_in_seconds, 100)
    assert.equal(job.outputs_count, 1)
    assert.deepEqual((job.creator as { display_name: string }).display_name, 'Agent Smith')
  })

  it('lists jobs newest first with Xplenty’s statuses', async () => {
    const a = await account()
    const reply = await get(`/${a.organizationId}/api/jobs?limit=10`, a.key.secret)
    const jobs = (await reply.json()) as Array<{ id: number; status: string; progress: number }>
    assert.deepEqual(jobs.map((job) => [job.id, job.status, job.progress]), [
      [Number(a.killed), 'stopped', 0],
      [Number(a.stopping), 'stopping', 0.25],
      [Number(a.completed), 'completed', 1],
    ])
  })

  it('refuses a bad key, another account, and a media type it cannot answer in', async () => {
    const a = await account()
    const b = await account()
    assert.equal((await get(`/${a.organizationId}/api/jobs`, 'nope')).status, 401)
    const other = await get(`/${b.organizationId}/api/jobs/${b.completed}`, a.key.secret)
    assert.equal(other.status, 404)
    assert.deepEqual(await other.json(), { message: 'Resource not found' })
    assert.equal((await get(`/${a.organizationId}/api/jobs/${b.completed}`, a.key.secret)).status, 404)
    assert.equal((await get(`/${a.organizationId}/api/jobs`, a.key.secret, 'text/html')).status, 406)
  })

  it('refuses another version of its media type like another media type, in the media type of its successes', async () => {
    const a = await account()
    for (const accept of ['application/vnd.xplenty+json; version=1', 'application/vnd.xplenty+json; version=3, text/html']) {
      const refused = await get(`/${a.organizationId}/api/jobs`, a.key.secret, accept)
      assert.equal(refused.status, 406, accept)
      assert.equal(refused.headers.get('content-type'), 'application/vnd.xplenty+json; version=2')
    }
    for (const accept of ['application/vnd.xplenty+json', 'application/vnd.xplenty+json; version=1, application/vnd.xplenty+json; version=2', '*/*']) {
      assert.equal((await get(`/${a.organizationId}/api/jobs`, a.key.secret, accept)).status, 200, accept)
    }
    const unauthorized = await get(`/${a.organizationId}/api/jobs`, 'nope')
    assert.equal(unauthorized.headers.get('content-type'), 'application/vnd.xplenty+json; version=2')
  })

  it('filters the list by Xplenty status and sorts it by created or updated, either way', async () => {
    const a = await account()
    await server.db('job_statuses').where({ id: a.completed }).update({ updated_at: new Date('2030-01-01T00:00:00Z') })
    const ids = async (query: string) => ((await (await get(`/${a.organizationId}/api/jobs?${query}`, a.key.secret)).json()) as Array<{ id: number }>).map((job) => job.id)
    assert.deepEqual(await ids('status=completed'), [Number(a.completed)])
    assert.deepEqual(await ids('status=stopped'), [Number(a.killed)])
    assert.deepEqual(await ids('status=idle'), [])
    assert.deepEqual(await ids('sort=created&direction=asc'), [Number(a.completed), Number(a.stopping), Number(a.killed)])
    assert.deepEqual((await ids('sort=updated&direction=desc'))[0], Number(a.completed))
    const bad = await get(`/${a.organizationId}/api/jobs?status=done`, a.key.secret)
    assert.equal(bad.status, 400)
    assert.match(((await bad.json()) as { message: string }).message, /status must be one of all, idle/)
  })

  it('names the person who created a job as its owner and creator, from the write API as from the command-line tool', async () => {
    const a = await account()
    const jobsToken = await createToken(server.db, a.personId, { scopes: ['jobs'] })
    const created = await fetch(`${server.url}/jobs/v1/job_statuses`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${jobsToken}`, 'Content-Type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'JobStatus', attributes: {} } }),
    })
    const { data } = (await created.json()) as { data: { id: string } }
    const job = (await (await get(`/${a.organizationId}/api/jobs/${data.id}`, a.key.secret)).json()) as { owner_id: number; creator: { id: number; display_name: string } }
    assert.equal(job.owner_id, Number(a.personId))
    assert.deepEqual([job.creator.id, job.creator.display_name], [Number(a.personId), 'Agent Smith'])
  })
})
