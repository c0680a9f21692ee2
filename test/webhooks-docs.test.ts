// The receiver docs/webhooks.md shows, run as written: it verifies real deliveries and refuses a forged one.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createTenant, createToken } from './support/factories'
import { startTestServer, type TestServer } from './support/server'
import { tempDirs } from './support/temp-dirs'

const newDir = tempDirs('pco-webhooks-docs-')
let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_LOOPBACK: 'true' })
})
after(() => server.close())

/** The first ```js block of docs/webhooks.md. */
function documentedReceiver(): string {
  const docs = readFileSync(join(__dirname, '..', 'docs', 'webhooks.md'), 'utf8')
  const code = /```js\n([\s\S]*?)```/.exec(docs)?.[1]
  assert.ok(code, 'docs/webhooks.md shows a receiver')
  return code
}

/** A port free a moment ago: the receiver takes it, or says it could not (and the caller tries another). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  probe.close()
  await once(probe, 'close')
  return port
}

/** Starts the receiver on `port` with `secret`; resolves with its output so far once it listens, or undefined if the port was taken. */
function startReceiver(file: string, port: number, secret: string): Promise<{ child: ChildProcess; output: () => string } | undefined> {
  const child = spawn(process.execPath, [file], { env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', () => {
      if (output.includes(`receiving on port ${port}`)) resolve({ child, output: () => output })
    })
    child.once('exit', () => (output.includes('EADDRINUSE') ? resolve(undefined) : reject(new Error(`the receiver exited: ${output}`))))
  })
}

describe('the receiver in docs/webhooks.md', () => {
  it('prints every signed delivery and answers 401 to a forged one', async () => {
    const file = join(newDir(), 'receiver.mjs')
    writeFileSync(file, documentedReceiver())
    const tenant = await createTenant(server.db)
    const token = await createToken(server.db, tenant.personId, { scopes: ['webhooks', 'jobs'] })
    const send = async (method: string, path: string, body: unknown) => {
      const reply = await fetch(`${server.url}${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' }, body: JSON.stringify(body) })
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read bodies as plain JSON
      return { status: reply.status, json: (await reply.json()) as any }
    }
    let receiver: Awaited<ReturnType<typeof startReceiver>>
    let port: number
    do {
      port = await freePort()
      const subscription = await send('POST', '/webhooks/v2/webhook_subscriptions', {
        data: { type: 'WebhookSubscription', attributes: { name: 'calendar.v2.events.job_status.created', url: `http://127.0.0.1:${port}/` } },
      })
      assert.equal(subscription.status, 201)
      receiver = await startReceiver(file, port, subscription.json.data.attributes.authenticity_secret)
      if (!receiver) await fetch(`${server.url}/webhooks/v2/webhook_subscriptions/${subscription.json.data.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } })
    } while (!receiver)
    try {
      const job = await send('POST', '/jobs/v1/job_statuses', { data: { attributes: { message: 'from the docs' } } })
      const line = `job ${job.json.data.id} queued from the docs`
      while (!receiver.output().includes(line)) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.match(receiver.output(), new RegExp(`calendar\\.v2\\.events\\.job_status\\.created [0-9a-f-]{36} attempt 1: ${line}`))

      const forged = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'X-PCO-Webhooks-Authenticity': '0'.repeat(64) }, body: '{"data":[]}' })
      assert.equal(forged.status, 401)
    } finally {
      receiver.child.kill()
    }
  })
})
