// /healthz and /readyz: without credentials, outside the request log, and /readyz honest about the database.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer()
})
after(() => server.close())

describe('health checks', () => {
  it('/healthz and /readyz answer 200 without credentials, and write no log line', async () => {
    const logged = server.logs.length
    const alive = await request(server.url, '/healthz')
    assert.equal(alive.status, 200)
    assert.deepEqual(alive.json, { status: 'alive' })
    assert.equal(alive.headers.get('cache-control'), 'no-store')
    const ready = await request(server.url, '/readyz')
    assert.equal(ready.status, 200)
    assert.deepEqual(ready.json, { status: 'ready' })
    const head = await request(server.url, '/readyz', { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(server.logs.length, logged, server.logs.slice(logged).join('\n'))
  })

  it('/readyz answers 503 while a migration this server knows is not applied', async () => {
    const own = await startTestServer({ DATABASE_URL: '' })
    try {
      const [last] = await own.db('knex_migrations').orderBy('id', 'desc').limit(1).pluck('name')
      const row = await own.db('knex_migrations').where({ name: last }).first()
      await own.db('knex_migrations').where({ name: last }).delete()
      const behind = await request(own.url, '/readyz')
      assert.equal(behind.status, 503)
      assert.equal(behind.json.errors[0].code, 'migrations_pending')
      assert.ok(Number(behind.headers.get('retry-after')) >= 1)
      await own.db('knex_migrations').insert(row)
      assert.equal((await request(own.url, '/readyz')).status, 200)
      // The process is alive whatever the database says.
      assert.equal((await request(own.url, '/healthz')).status, 200)
    } finally {
      await own.close()
    }
  })
})
