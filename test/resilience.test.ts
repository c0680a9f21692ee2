// Shutdown that finishes requests in flight, and a database that goes away and comes back.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import { applicationName } from '../src/db/database'
import { createTenant, insertJobStatuses } from './support/factories'
import { request } from './support/http'
import { backend, startTestServer } from './support/server'

describe('shutdown', () => {
  it('finishes a request in flight, then refuses new connections and closes', async () => {
    const server = await startTestServer()
    const { organizationId, token } = await createTenant(server.db)
    await insertJobStatuses(server.db, organizationId, 3)

    // Hold the table so the request stays in flight until we let it go.
    const trx = await server.db.transaction()
    await trx.raw('LOCK TABLE job_statuses IN ACCESS EXCLUSIVE MODE')
    const received = once(server.server, 'request')
    const inFlight = request(server.url, '/calendar/v2/job_statuses', { token })
    await received

    const closed = server.close()
    await assert.rejects(fetch(`${server.url}/calendar/v2`), 'a new connection is refused while draining')
    await trx.commit()

    const reply = await inFlight
    assert.equal(reply.status, 200)
    assert.equal(reply.json.meta.total_count, 3)
    await closed
  })

  it('exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: '0', DATA_DIR: 'memory://', DEMO: 'true', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let output = ''
    child.stderr.setEncoding('utf8')
    const started = new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: string) => {
        output += chunk
        const curl = /curl -H "Authorization: Bearer ([0-9a-f]{64})" (http:\/\/\S+)/.exec(output)
        if (curl) resolve(output)
      })
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)))
    })
    const printed = await started
    const [, token, url] = /curl -H "Authorization: Bearer ([0-9a-f]{64})" (http:\/\/\S+)/.exec(printed)!
    // The printed line works as printed.
    const reply = await fetch(url!, { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(reply.status, 200)
    assert.ok(((await reply.json()) as { data: unknown[] }).data.length > 0)

    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited
    assert.equal(code, 0)
  })
})

/** A TCP proxy in front of PostgreSQL that a test can cut and restore, as a restart or network loss would. */
async function startProxy(target: URL) {
  const sockets = new Set<net.Socket>()
  let holding = false
  const server = net.createServer((client) => {
    if (holding) {
      // Accepted and never answered, as a load balancer with no server behind it does.
      sockets.add(client)
      client.on('error', () => client.destroy())
      client.on('close', () => sockets.delete(client))
      return
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => socket.destroy())
      socket.on('close', () => sockets.delete(socket))
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  const viaProxy = new URL(target)
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(port)
  return {
    /** DATABASE_URL through the proxy. */
    databaseUrl: viaProxy.toString(),
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await closed
    },
    async restore() {
      holding = false
      if (server.listening) return
      server.listen(port, '127.0.0.1')
      await once(server, 'listening')
    },
    /** Drops every connection, then accepts new ones and never answers them. */
    hold() {
      holding = true
      for (const socket of sockets) socket.destroy()
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}

async function eventually(check: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail('the condition never held')
}

describe('the database goes away', { skip: backend === 'embedded' && 'the embedded database lives in the process and cannot become unreachable' }, () => {
  it('answers 503 with Retry-After while PostgreSQL is unreachable, and recovers by itself', async () => {
    const proxy = await startProxy(new URL(process.env.DATABASE_URL!))
    const server = await startTestServer({ DATABASE_URL: proxy.databaseUrl, UNAVAILABLE_RETRY_AFTER: '7' })
    try {
      const { token } = await createTenant(server.db)
      assert.equal((await request(server.url, '/calendar/v2/job_statuses', { token })).status, 200)

      await proxy.cut()
      for (let i = 0; i < 3; i++) {
        const reply = await request(server.url, '/calendar/v2/job_statuses', { token })
        assert.equal(reply.status, 503)
        assert.equal(reply.headers.get('retry-after'), '7')
        assert.deepEqual(reply.json.errors[0], {
          status: '503',
          title: 'Service Unavailable',
          code: 'database_unavailable',
          detail: 'The database cannot be reached right now. Please retry after the number of seconds in Retry-After.',
        })
      }

      await proxy.restore()
      await eventually(async () => (await request(server.url, '/calendar/v2/job_statuses', { token })).status === 200)
    } finally {
      await server.close()
      await proxy.close()
    }
  })

  it('answers 503 when a connection is accepted and never answered, as behind a load balancer with no primary', async () => {
    const proxy = await startProxy(new URL(process.env.DATABASE_URL!))
    const server = await startTestServer({ DATABASE_URL: proxy.databaseUrl })
    try {
      const { token } = await createTenant(server.db)
      assert.equal((await request(server.url, '/calendar/v2/job_statuses', { token })).status, 200)
      proxy.hold()
      const replies = await Promise.all(Array.from({ length: 3 }, () => request(server.url, '/calendar/v2/job_statuses', { token })))
      for (const reply of replies) {
        assert.equal(reply.status, 503, reply.text)
        assert.equal(reply.json.errors[0].code, 'database_unavailable')
      }
      await proxy.restore()
      await eventually(async () => (await request(server.url, '/calendar/v2/job_statuses', { token })).status === 200)
    } finally {
      await server.close()
      await proxy.close()
    }
  })

  it('survives its connections being terminated, as a PostgreSQL restart does', async () => {
    const server = await startTestServer()
    try {
      const { token } = await createTenant(server.db)
      await Promise.all(Array.from({ length: 5 }, () => request(server.url, '/calendar/v2/job_statuses', { token })))
      const admin = await startTestServer()
      // This process's servers only: other test files run their own servers on the same database.
      await admin.db.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()', [
        applicationName('pco-job-status'),
      ])
      await admin.close()
      // Requests right after may see 503 while dead connections are discarded; none may be a 500.
      for (let i = 0; i < 5; i++) {
        const { status } = await request(server.url, '/calendar/v2/job_statuses', { token })
        assert.ok(status === 200 || status === 503 || status === 401, `status ${status} ${server.logs.filter((l) => l.includes('failed')).join('\n')}`)
      }
      await eventually(async () => (await request(server.url, '/calendar/v2/job_statuses', { token })).status === 200)
    } finally {
      await server.close()
    }
  })
})
