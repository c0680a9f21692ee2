// Idempotency keys expire after IDEMPOTENCY_KEY_TTL: a key past it is a new request, and the sweep deletes it.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sweepExpiredKeys } from '../src/http/idempotency'
import { createTenant, createToken } from './support/factories'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000', IDEMPOTENCY_KEY_TTL: '3600' })
})
after(() => server.close())

describe('idempotency keys expire', () => {
  it('replays within the lifetime, creates anew after it, and the sweep deletes only expired keys', async () => {
    const tenant = await createTenant(server.db)
    const token = await createToken(server.db, tenant.personId, { scopes: ['jobs'] })
    const create = async (key: string) => {
      const reply = await fetch(`${server.url}/jobs/v1/job_statuses`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify({ data: { type: 'JobStatus', attributes: { message: 'once' } } }),
      })
      return { status: reply.status, replayed: reply.headers.get('idempotent-replayed'), id: ((await reply.json()) as { data: { id: string } }).data.id }
    }
    const first = await create('order-1')
    assert.equal(first.status, 201)
    server.clock.advance(3_599_000)
    const replay = await create('order-1')
    assert.deepEqual([replay.id, replay.replayed], [first.id, 'true'])
    const other = await create('order-2')

    server.clock.advance(2_000)
    const again = await create('order-1')
    assert.equal(again.status, 201)
    assert.notEqual(again.id, first.id)
    assert.equal(again.replayed, null)

    // The sweep is run on the real clock, so other files' fresh keys on a shared database are left
    // alone; order-2 is made two hours older than it is, order-1 is as just claimed.
    await server.db('idempotency_keys').where({ person_id: tenant.personId, key: 'order-2' }).update({ created_at: server.db.raw("created_at - interval '2 hours'") })
    assert.ok((await sweepExpiredKeys(server.db, { now: () => new Date(), ttlSeconds: 3600 }, 1)) >= 1)
    const left = await server.db('idempotency_keys').where({ person_id: tenant.personId }).pluck('key')
    assert.deepEqual(left, ['order-1'])
    assert.equal((await create('order-2')).id === other.id, false)
  })
})
