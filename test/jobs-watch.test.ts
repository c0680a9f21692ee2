// Scripted jobs that move by themselves, watched over Server-Sent Events, across processes and restarts.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Knex } from 'knex'
import { openDatabase } from '../src/db/database'
import { migrate } from '../src/db/migrate'
import { createTenant, createToken } from './support/factories'
import { backend, startTestServer, testConfig, type TestServer } from './support/server'

// Both servers of a test share one database: PostgreSQL's, or one embedded database in this process.
let shared: Knex | undefined
before(async () => {
  if (backend === 'embedded') {
    shared = openDatabase(testConfig())
    await migrate(shared)
  }
})
after(() => shared?.destroy())

const start = () => startTestServer({ RATE_LIMIT: '1000000' }, shared ? { db: shared } : {})

async function writer(server: TestServer) {
  const tenant = await createTenant(server.db)
  return { ...tenant, jobsToken: await createToken(server.db, tenant.personId, { scopes: ['jobs'] }) }
}

async function createScenario(server: TestServer, token: string, scenario: Record<string, number>) {
  const reply = await fetch(`${server.url}/jobs/v1/job_statuses`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { type: 'JobStatus', attributes: { scenario } } }),
  })
  assert.equal(reply.status, 201)
  return ((await reply.json()) as { data: { id: string } }).data.id
}

interface Event {
  status: string
  progress: number
  results_count: number
}

/** Reads a job's event stream until the server ends it, returning each event's attributes. */
async function watch(server: TestServer, token: string, id: string, onEvent?: (event: Event) => void): Promise<Event[]> {
  const reply = await fetch(`${server.url}/jobs/v1/job_statuses/${id}/events`, { headers: { Authorization: `Bearer ${token}` } })
  assert.equal(reply.status, 200)
  assert.match(reply.headers.get('content-type') ?? '', /^text\/event-stream/)
  const events: Event[] = []
  let buffer = ''
  const decoder = new TextDecoder()
  for await (const chunk of reply.body!) {
    buffer += decoder.decode(chunk, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block.split('\n').find((line) => line.startsWith('data: '))
      if (!data) continue
      const event = JSON.parse(data.slice(6)).data.attributes as Event
      events.push(event)
      onEvent?.(event)
    }
  }
  return events
}

async function readJob(db: Knex, id: string) {
  return db('job_statuses').where({ id }).first('status', 'progress', 'results_count', 'errors')
}

describe('scenario jobs', () => {
  it('complete by themselves, and a watcher sees every step until the end', async () => {
    const server = await start()
    try {
      const { jobsToken } = await writer(server)
      const id = await createScenario(server, jobsToken, { duration_seconds: 1, total: 5 })
      const events = await watch(server, jobsToken, id)
      const last = events.at(-1)!
      assert.deepEqual({ status: last.status, progress: last.progress, results_count: last.results_count }, { status: 'completed', progress: 5, results_count: 5 })
      const progress = events.map((event) => event.progress)
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'events never go backwards')
      assert.ok(events.some((event) => event.status === 'working'))
    } finally {
      await server.close()
    }
  })

  it('fail or are killed at the task their script names', async () => {
    const server = await start()
    try {
      const { jobsToken } = await writer(server)
      const failing = await createScenario(server, jobsToken, { duration_seconds: 1, total: 5, fail_at_task: 3 })
      const killed = await createScenario(server, jobsToken, { duration_seconds: 1, total: 5, kill_at_task: 2 })
      const [failedEvents, killedEvents] = await Promise.all([watch(server, jobsToken, failing), watch(server, jobsToken, killed)])
      assert.equal(failedEvents.at(-1)!.status, 'failed')
      assert.equal(failedEvents.at(-1)!.progress, 2)
      assert.deepEqual((await readJob(server.db, failing)).errors, { base: ['Task 3 failed'] })
      assert.equal(killedEvents.at(-1)!.status, 'killed')
      assert.ok(killedEvents.some((event) => event.status === 'stopping'))
    } finally {
      await server.close()
    }
  })

  it('carry on after a restart and are driven exactly once by two servers', async () => {
    const first = await start()
    const { jobsToken } = await writer(first)
    const id = await createScenario(first, jobsToken, { duration_seconds: 3, total: 15 })
    // Watch from the first server until the job is a few tasks in, then stop that server.
    await new Promise<void>((resolve) => {
      void watch(first, jobsToken, id, (event) => {
        if (event.progress >= 3) resolve()
      }).catch(() => resolve())
    })
    await first.close()

    const second = await start()
    const third = await start()
    try {
      const events = await watch(second, jobsToken, id)
      assert.equal(events.at(-1)!.status, 'completed')
      const job = await readJob(second.db, id)
      assert.equal(job.progress, 15)
      assert.equal(job.results_count, 15)
      const tasks = await second.db('job_status_results').where({ job_status_id: id }).orderBy('id').pluck('task_id')
      assert.deepEqual(tasks, Array.from({ length: 15 }, (_, i) => String(i + 1)), 'every task ran exactly once')
    } finally {
      await third.close()
      await second.close()
    }
  })
})

describe('watching', () => {
  it('hears a change made through another server', async () => {
    const watched = await start()
    const other = await start()
    try {
      const { jobsToken } = await writer(watched)
      const create = await fetch(`${other.url}/jobs/v1/job_statuses`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${jobsToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { attributes: { total: 2 } } }),
      })
      const id = ((await create.json()) as { data: { id: string } }).data.id
      const move = (status: string) =>
        fetch(`${other.url}/jobs/v1/job_statuses/${id}/transitions`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${jobsToken}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ data: { attributes: { status } } }),
        })
      let moved = false
      const events = await watch(watched, jobsToken, id, (event) => {
        if (!moved && event.status === 'queued') {
          moved = true
          void move('working').then(() => move('completed'))
        }
      })
      assert.deepEqual(events.map((event) => event.status), ['queued', 'working', 'completed'])
    } finally {
      await other.close()
      await watched.close()
    }
  })
})
