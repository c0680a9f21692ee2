// Webhook deliveries across crashes and beside a second server: the server is SIGKILLed twenty times
// while a delivery is in flight, and no event of an acknowledged change is lost; duplicates come only
// after a kill. Two servers on one database deliver each event once.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import type { Knex } from 'knex'
import pino from 'pino'
import { loadConfig } from '../src/config'
import { openDatabase } from '../src/db/database'
import { createTenant, createToken } from './support/factories'
import { tempDirs } from './support/temp-dirs'

const KILLS = 20
const newDataDir = tempDirs('pco-webhooks-crash-')
const KEY = randomBytes(32).toString('hex')

interface Running {
  child: ChildProcess
  url: string
}

function startServer(backend: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env, ...backend, PORT: '0', DEMO: 'false', LOG_LEVEL: 'warn', RATE_LIMIT: '1000000000',
      WEBHOOK_SECRET_KEY: KEY, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_TIMEOUT: '1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let output = ''
  child.stderr!.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: string) => {
      output += chunk
      const listening = /listening on (http:\/\/\S+)/.exec(output)
      if (listening) resolve({ child, url: listening[1]! })
    })
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${output}`)))
  })
}

async function kill({ child }: Running): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGKILL')
  await once(child, 'exit')
}

interface Receipt {
  uuid: string
  name: string
  message: string
  /** Kills before this receipt arrived. */
  kills: number
}

/** A receiver that can hold the next delivery unanswered, so a kill finds it in flight. */
async function startReceiver() {
  const receipts: Receipt[] = []
  const held: ServerResponse[] = []
  const state = { kills: 0, holdNext: false, onHeld: () => {}, onReceipt: () => {} }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const [item] = JSON.parse(Buffer.concat(chunks).toString('utf8')).data
      const payload = JSON.parse(item.attributes.payload)
      receipts.push({ uuid: item.id, name: item.attributes.name, message: payload.data.attributes.message, kills: state.kills })
      state.onReceipt()
      if (state.holdNext) {
        state.holdNext = false
        held.push(res)
        state.onHeld()
        return
      }
      res.writeHead(200).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    receipts,
    state,
    /** Resolves when a delivery is being held. */
    holdOne: () => new Promise<void>((resolve) => Object.assign(state, { holdNext: true, onHeld: resolve })),
    until: (predicate: () => boolean) =>
      new Promise<void>((resolve) => {
        if (predicate()) return resolve()
        state.onReceipt = () => {
          if (predicate()) resolve()
        }
      }),
    async close() {
      for (const res of held) res.destroy()
      server.closeAllConnections()
      server.close()
    },
  }
}

async function api(base: string, token: string, method: string, path: string, body?: unknown) {
  const reply = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await reply.text()
  return { status: reply.status, json: text ? JSON.parse(text) : undefined }
}

/** A tenant with tokens, made through whatever the backend offers while a server holds it. */
async function setUp(backend: Record<string, string>) {
  const config = loadConfig({ ...backend, DEMO: 'false' })
  const db: Knex = openDatabase(config, { logger: pino({ level: 'silent' }), throughRunningServer: true })
  try {
    const tenant = await createTenant(db)
    return {
      ...tenant,
      hooks: await createToken(db, tenant.personId, { scopes: ['webhooks'] }),
      jobs: await createToken(db, tenant.personId, { scopes: ['jobs'] }),
    }
  } finally {
    await db.destroy()
  }
}

const NAMES = ['calendar.v2.events.job_status.created', 'calendar.v2.events.job_status.updated']

describe('webhook deliveries and crashes', () => {
  it(`loses no event of an acknowledged change across ${KILLS} SIGKILLs with deliveries in flight`, async () => {
    const backend: Record<string, string> = process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATA_DIR: newDataDir() }
    const receiver = await startReceiver()
    let server = await startServer(backend)
    try {
      const who = await setUp(backend)
      for (const name of NAMES) {
        const created = await api(server.url, who.hooks, 'POST', '/webhooks/v2/webhook_subscriptions', { data: { attributes: { name, url: `${receiver.url}/${name}` } } })
        assert.equal(created.status, 201)
      }
      // Every change the API acknowledged, as the event it must produce: name and the job's message then.
      const expected = new Set<string>()
      const jobs: string[] = []
      let writes = 0
      for (let round = 0; round < KILLS; round++) {
        const inFlight = receiver.holdOne()
        for (let i = 0; i < 2; i++) {
          const message = `create ${++writes}`
          const created = await api(server.url, who.jobs, 'POST', '/jobs/v1/job_statuses', { data: { attributes: { message } } })
          assert.equal(created.status, 201)
          expected.add(`${NAMES[0]} ${message}`)
          jobs.push(created.json.data.id)
        }
        for (let i = 0; i < 3; i++) {
          const message = `update ${++writes}`
          const job = jobs[(round * 3 + i) % jobs.length]
          const updated = await api(server.url, who.jobs, 'PATCH', `/jobs/v1/job_statuses/${job}`, { data: { attributes: { message } } })
          assert.equal(updated.status, 200)
          expected.add(`${NAMES[1]} ${message}`)
        }
        await inFlight
        await kill(server)
        receiver.state.kills++
        server = await startServer(backend)
      }
      // Leases of the killed processes run out (the receiver's timeout and a margin), then all goes out.
      const received = () => new Set(receiver.receipts.map((r) => `${r.name} ${r.message}`))
      await receiver.until(() => [...expected].every((event) => received().has(event)))
      const lost = [...expected].filter((event) => !received().has(event))
      const byUuid = new Map<string, Receipt[]>()
      for (const receipt of receiver.receipts) byUuid.set(receipt.uuid, [...(byUuid.get(receipt.uuid) ?? []), receipt])
      const duplicates = [...byUuid.values()].filter((receipts) => receipts.length > 1)
      console.log(`events expected ${expected.size}, lost ${lost.length}, deliveries ${receiver.receipts.length}, duplicated events ${duplicates.length}, kills ${KILLS}`)
      assert.deepEqual(lost, [])
      for (const receipts of duplicates) {
        for (let i = 1; i < receipts.length; i++) {
          assert.ok(receipts[i]!.kills > receipts[i - 1]!.kills, `event ${receipts[0]!.uuid} was sent twice with no kill between: ${JSON.stringify(receipts)}`)
        }
      }
    } finally {
      await kill(server)
      await receiver.close()
    }
  })

  it('delivers each event once with two server processes on one database', async (t) => {
    if (!process.env.DATABASE_URL) return t.skip('no DATABASE_URL: the embedded database opens in one process')
    const backend = { DATABASE_URL: process.env.DATABASE_URL }
    const receiver = await startReceiver()
    const servers = await Promise.all([startServer(backend), startServer(backend)])
    try {
      const who = await setUp(backend)
      const created = await api(servers[0]!.url, who.hooks, 'POST', '/webhooks/v2/webhook_subscriptions', { data: { attributes: { name: NAMES[0], url: `${receiver.url}/two` } } })
      assert.equal(created.status, 201)
      const second = await api(servers[1]!.url, who.hooks, 'POST', '/webhooks/v2/webhook_subscriptions', { data: { attributes: { name: NAMES[0], url: `${receiver.url}/two-more` } } })
      assert.equal(second.status, 201)
      const messages = Array.from({ length: 60 }, (_, i) => `job ${i}`)
      await Promise.all(messages.map((message, i) => api(servers[i % 2]!.url, who.jobs, 'POST', '/jobs/v1/job_statuses', { data: { attributes: { message } } })))
      await receiver.until(() => receiver.receipts.length >= messages.length * 2)
      const uuids = receiver.receipts.map((r) => r.uuid)
      assert.equal(new Set(uuids).size, uuids.length, 'no event was delivered twice')
      assert.deepEqual(new Set(receiver.receipts.map((r) => r.message)), new Set(messages))
    } finally {
      await Promise.all(servers.map(kill))
      await receiver.close()
    }
  })
})
