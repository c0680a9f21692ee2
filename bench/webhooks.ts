// The webhook delivery scenario of npm run bench: 10 subscriptions, 100 job updates a second, the time
// from each update to each receiver's 200, and the API's list and read figures with deliveries beside them.
import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Knex } from 'knex'
import { createAccessToken, createPerson, findOrCreateCommandLineApplication } from '../src/auth/credentials'

export const SUBSCRIPTIONS = 10
export const UPDATES_PER_SECOND = 100

export interface DeliveryFigures {
  updates: number
  expected: number
  delivered: number
  lost: number
  p50: number
  p99: number
  max: number
}

interface Organization {
  organization: string
  min: number
  max: number
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

/**
 * The receiver, in a process of its own so that its work does not slow the load generator: it
 * answers 200 at once and notes, per event and subscription, the time since its update was sent.
 */
function receiverMain(): void {
  const latencies: number[] = []
  const seen = new Set<string>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      res.writeHead(200).end()
      const [item] = JSON.parse(Buffer.concat(chunks).toString('utf8')).data
      const message = JSON.parse(item.attributes.payload).data.attributes.message as string
      const sent = /^bench (\d+(?:\.\d+)?)$/.exec(message)?.[1]
      // A redelivery is not a new figure.
      if (sent === undefined || seen.has(item.id)) return
      seen.add(item.id)
      // performance.timeOrigin differs between processes: the update's time is on the wall clock.
      latencies.push(performance.timeOrigin + performance.now() - Number(sent))
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
  process.on('message', (message: string) => {
    if (message === 'take') process.send!({ latencies: latencies.splice(0) })
    if (message === 'count') process.send!({ count: latencies.length })
  })
}

async function startReceiver() {
  const child = fork(__filename, ['receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ask = <T>(message: string, key: string) =>
    new Promise<T>((resolve) => {
      const listen = (reply: Record<string, unknown>) => {
        if (!(key in reply)) return
        child.off('message', listen)
        resolve(reply[key] as T)
      }
      child.on('message', listen)
      child.send(message)
    })
  const url = await new Promise<string>((resolve) => child.once('message', (reply: { url: string }) => resolve(reply.url)))
  return {
    url,
    pid: child.pid!,
    count: () => ask<number>('count', 'count'),
    take: () => ask<number[]>('take', 'latencies'),
    close: () => child.kill(),
  }
}

if (process.argv[2] === 'receiver') receiverMain()

export interface WebhookBench {
  /** The organization's token for the Calendar API's list and read. */
  token: string
  /** The receiver's process, for its CPU time. */
  receiverPid: number
  /** Starts the updates; resolves with how many were acknowledged once stopped. */
  updating(): { stop(): Promise<number> }
  /** Subscriptions on (deliveries run) or off (the same updates, no deliveries). */
  subscribe(active: boolean): Promise<void>
  /** Waits for every delivery of the updates made while subscribed since the last call, and reports. */
  figures(updates: number): Promise<DeliveryFigures>
  close(): Promise<void>
}

export async function webhookBench(db: Knex, serverUrl: string, { organization, min, max }: Organization): Promise<WebhookBench> {
  const receiver = await startReceiver()
  const person = await createPerson(db, organization, { name: 'Bench webhooks' })
  const token = await createAccessToken(db, { personId: person, applicationId: await findOrCreateCommandLineApplication(db), scopes: ['calendar', 'jobs', 'webhooks'], expiresAt: null })
  await db('webhook_subscriptions').where({ organization_id: organization }).delete()
  const api = async (method: string, path: string, body?: unknown) => {
    const reply = await fetch(`${serverUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await reply.text()
    if (!reply.ok) throw new Error(`${method} ${path}: ${reply.status} ${text}`)
    return text ? JSON.parse(text) : undefined
  }
  const ids: string[] = []
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const created = await api('POST', '/webhooks/v2/webhook_subscriptions', {
      data: { attributes: { name: 'calendar.v2.events.job_status.updated', url: `${receiver.url}/hook/${i}`, active: false } },
    })
    ids.push(created.data.id)
  }
  return {
    token,
    receiverPid: receiver.pid,
    updating() {
      let acknowledged = 0
      const inFlight = new Set<Promise<void>>()
      // Paced at the rate, not as fast as possible: each tick sends what the clock says is due, so a late
      // timer catches up instead of lowering the rate.
      const started = performance.now()
      let sent = 0
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * UPDATES_PER_SECOND) - sent
        for (let i = 0; i < due; i++) {
          sent++
          const id = min + Math.floor(Math.random() * (max - min + 1))
          const update = api('PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { message: `bench ${performance.timeOrigin + performance.now()}` } } })
            .then(() => void acknowledged++)
            .finally(() => inFlight.delete(update))
          inFlight.add(update)
        }
      }, 1000 / UPDATES_PER_SECOND)
      return {
        async stop() {
          clearInterval(timer)
          await Promise.all(inFlight)
          return acknowledged
        },
      }
    },
    async subscribe(active) {
      for (const id of ids) await api('PATCH', `/webhooks/v2/webhook_subscriptions/${id}`, { data: { attributes: { active } } })
    },
    async figures(updates) {
      const expected = updates * SUBSCRIPTIONS
      // Deliveries still on their way when the updates stopped: wait for them (their lateness counts).
      const deadline = Date.now() + 120_000
      while ((await receiver.count()) < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
      const sorted = (await receiver.take()).sort((a, b) => a - b)
      return {
        updates,
        expected,
        delivered: sorted.length,
        lost: Math.max(0, expected - sorted.length),
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1] ?? NaN,
      }
    },
    async close() {
      await db('webhook_subscriptions').where({ organization_id: organization }).delete()
      receiver.close()
    },
  }
}
