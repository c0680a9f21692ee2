// Webhooks: the subscriptions API under /webhooks/v2, and deliveries to a real receiver: signatures,
// payloads against the Calendar API's read, the retry schedule, deactivation, timeouts and the outbox.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createTenant, createToken, type Tenant } from './support/factories'
import { request } from './support/http'
import { startReceiver, type Receiver } from './support/receiver'
import { startTestServer, type TestServer } from './support/server'
import { sweepFinishedEvents } from '../src/webhooks/query'
import { secretKey } from '../src/webhooks/secrets'

const KEY = randomBytes(32)
let server: TestServer
let receiver: Receiver
before(async () => {
  receiver = await startReceiver()
  server = await startTestServer({
    RATE_LIMIT: '1000000',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_LOOPBACK: 'true',
    WEBHOOK_TIMEOUT: '1',
    WEBHOOK_SECRET_KEY: KEY.toString('hex'),
  })
})
after(async () => {
  await server.close()
  await receiver.close()
})

interface Integration extends Tenant {
  hooks: string
  jobs: string
}

async function integration(): Promise<Integration> {
  // The retry schedule's test moves the server's clock weeks ahead: tokens are made on its time.
  const tenant = await createTenant(server.db, server.clock.now())
  return {
    ...tenant,
    hooks: await createToken(server.db, tenant.personId, { scopes: ['webhooks'] }),
    jobs: await createToken(server.db, tenant.personId, { scopes: ['jobs', 'calendar'] }),
  }
}

async function send(token: string, method: string, path: string, body?: unknown) {
  const reply = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await reply.text()
  return { status: reply.status, headers: reply.headers, text, json: text ? JSON.parse(text) : undefined }
}

let paths = 0
/** Subscribes `who` to `name` at a path of the receiver's own; the receiver learns its secret. */
async function subscribe(who: Integration, name: string, path = `/hooks/${++paths}`) {
  const created = await send(who.hooks, 'POST', '/webhooks/v2/webhook_subscriptions', {
    data: { type: 'WebhookSubscription', attributes: { name, url: `${receiver.url}${path}` } },
  })
  assert.equal(created.status, 201, created.text)
  receiver.secrets.set(path, created.json.data.attributes.authenticity_secret)
  return { id: created.json.data.id as string, path, secret: created.json.data.attributes.authenticity_secret as string }
}

const deliveredTo = (path: string) => receiver.received.filter((r) => r.path === path)
const untilCount = (path: string, count: number) => receiver.until(() => deliveredTo(path).length >= count)

const createJob = (who: Integration, attributes: Record<string, unknown> = {}) =>
  send(who.jobs, 'POST', '/jobs/v1/job_statuses', { data: { type: 'JobStatus', attributes } })

describe('the subscriptions API', () => {
  it('serves the root, the available events, and a subscription from create to delete', async () => {
    const who = await integration()
    const root = await send(who.hooks, 'GET', '/webhooks/v2')
    assert.equal(root.status, 200)
    assert.equal(root.headers.get('x-pco-api-processed-as-version'), '2022-10-20')
    assert.equal(root.json.data.type, 'Organization')
    assert.equal(root.json.data.links.webhook_subscriptions, `${server.url}/webhooks/v2/webhook_subscriptions`)
    assert.equal(root.json.data.links.available_events, `${server.url}/webhooks/v2/available_events`)

    const events = await send(who.hooks, 'GET', '/webhooks/v2/available_events')
    assert.deepEqual(events.json.data.map((e: { attributes: { name: string } }) => e.attributes.name), [
      'calendar.v2.events.job_status.created', 'calendar.v2.events.job_status.destroyed', 'calendar.v2.events.job_status.updated',
    ])
    assert.deepEqual(events.json.data[2].attributes, { action: 'updated', app: 'calendar', name: 'calendar.v2.events.job_status.updated', resource: 'job_status', version: 'v2' })
    assert.equal(events.json.meta.total_count, 3)

    const created = await send(who.hooks, 'POST', '/webhooks/v2/webhook_subscriptions', {
      data: { type: 'WebhookSubscription', attributes: { name: 'calendar.v2.events.job_status.updated', url: `${receiver.url}/api-test` } },
    })
    assert.equal(created.status, 201)
    const id = created.json.data.id
    assert.equal(created.headers.get('location'), `${server.url}/webhooks/v2/webhook_subscriptions/${id}`)
    assert.deepEqual(Object.keys(created.json.data.attributes), ['active', 'application_id', 'authenticity_secret', 'created_at', 'name', 'updated_at', 'url'])
    assert.match(created.json.data.attributes.authenticity_secret, /^[0-9a-f]{64}$/)
    assert.equal(created.json.data.attributes.active, true)
    assert.notEqual(created.json.data.attributes.application_id, null, 'made through an OAuth application, it records the application')
    assert.deepEqual(created.json.meta, { parent: { id: who.organizationId, type: 'Organization' } })

    // The secret is shown once; stored sealed, it is not in the database in the clear.
    const read = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${id}`)
    assert.equal(read.json.data.attributes.authenticity_secret, null)
    const stored = await server.db('webhook_subscriptions').where({ id }).first()
    assert.ok(!JSON.stringify(stored).includes(created.json.data.attributes.authenticity_secret))
    assert.equal(secretKey(KEY).open(stored.secret_ciphertext), created.json.data.attributes.authenticity_secret)

    const list = await send(who.hooks, 'GET', '/webhooks/v2/webhook_subscriptions')
    assert.deepEqual(list.json.data.map((s: { id: string }) => s.id), [id])
    assert.equal(list.json.meta.total_count, 1)
    const byApplication = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions?where[application_id]=${created.json.data.attributes.application_id}`)
    assert.equal(byApplication.json.meta.total_count, 1)

    const paused = await send(who.hooks, 'PATCH', `/webhooks/v2/webhook_subscriptions/${id}`, { data: { attributes: { active: false } } })
    assert.equal(paused.status, 200)
    assert.equal(paused.json.data.attributes.active, false)
    const renamed = await send(who.hooks, 'PATCH', `/webhooks/v2/webhook_subscriptions/${id}`, { data: { attributes: { url: 'https://example.org/' } } })
    assert.equal(renamed.status, 400)
    assert.equal(renamed.json.errors[0].source.pointer, '/data/attributes/url')

    const rotated = await send(who.hooks, 'POST', `/webhooks/v2/webhook_subscriptions/${id}/rotate_secret`)
    assert.equal(rotated.status, 200)
    assert.match(rotated.json.data.attributes.authenticity_secret, /^[0-9a-f]{64}$/)
    assert.notEqual(rotated.json.data.attributes.authenticity_secret, created.json.data.attributes.authenticity_secret)

    const deleted = await send(who.hooks, 'DELETE', `/webhooks/v2/webhook_subscriptions/${id}`)
    assert.equal(deleted.status, 204)
    assert.equal((await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${id}`)).status, 404)
  })

  it('answers 404 for another organization’s subscriptions, events and deliveries, and wants the webhooks scope', async () => {
    const owner = await integration()
    const other = await integration()
    const { id } = await subscribe(owner, 'calendar.v2.events.job_status.created')
    await createJob(owner)
    const [event] = (await send(owner.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${id}/events`)).json.data
    assert.ok(event, 'the owner sees the event')
    for (const [method, path] of [
      ['GET', `/webhooks/v2/webhook_subscriptions/${id}`],
      ['PATCH', `/webhooks/v2/webhook_subscriptions/${id}`],
      ['DELETE', `/webhooks/v2/webhook_subscriptions/${id}`],
      ['POST', `/webhooks/v2/webhook_subscriptions/${id}/rotate_secret`],
      ['GET', `/webhooks/v2/webhook_subscriptions/${id}/events`],
      ['GET', `/webhooks/v2/webhook_subscriptions/${id}/events/${event.id}`],
      ['POST', `/webhooks/v2/webhook_subscriptions/${id}/events/${event.id}/redeliver`],
      ['GET', `/webhooks/v2/webhook_subscriptions/${id}/events/${event.id}/deliveries`],
    ] as const) {
      const reply = await send(other.hooks, method, path, method === 'PATCH' ? { data: { attributes: { active: false } } } : undefined)
      assert.equal(reply.status, 404, `${method} ${path}`)
      assert.deepEqual(reply.json, { errors: [{ status: '404', title: 'Not Found', detail: 'The resource you requested could not be found' }] })
    }
    assert.equal((await send(other.hooks, 'GET', '/webhooks/v2/webhook_subscriptions')).json.meta.total_count, 0)

    const calendarOnly = await request(server.url, '/webhooks/v2', { token: owner.token })
    assert.equal(calendarOnly.status, 401)
    const pat = await request(server.url, '/webhooks/v2/webhook_subscriptions', { basic: owner.pat })
    assert.equal(pat.status, 200)
    assert.equal(pat.json.meta.total_count, 1)
  })

  it('refuses bad subscriptions with 400 or 422 in the envelope, naming the attribute', async () => {
    const who = await integration()
    const attempt = (attributes: unknown, type: unknown = 'WebhookSubscription') =>
      send(who.hooks, 'POST', '/webhooks/v2/webhook_subscriptions', { data: { type, attributes } })
    const cases: Array<[unknown, number, string]> = [
      [{ name: 'people.v2.events.person.created', url: `${receiver.url}/x` }, 400, '/data/attributes/name'],
      [{ url: `${receiver.url}/x` }, 400, '/data/attributes/name'],
      [{ name: 7, url: `${receiver.url}/x` }, 400, '/data/attributes/name'],
      [{ name: 'calendar.v2.events.job_status.created' }, 400, '/data/attributes/url'],
      [{ name: 'calendar.v2.events.job_status.created', url: 'not a url' }, 400, '/data/attributes/url'],
      [{ name: 'calendar.v2.events.job_status.created', url: 'ftp://example.org/' }, 400, '/data/attributes/url'],
      [{ name: 'calendar.v2.events.job_status.created', url: `https://${'a'.repeat(3000)}.org/` }, 400, '/data/attributes/url'],
      [{ name: 'calendar.v2.events.job_status.created', url: 'https://user:pw@example.org/' }, 400, '/data/attributes/url'],
      [{ name: 'calendar.v2.events.job_status.created', url: `${receiver.url}/x`, active: 'yes' }, 400, '/data/attributes/active'],
      [{ name: 'calendar.v2.events.job_status.created', url: `${receiver.url}/x`, authenticity_secret: 'mine' }, 400, '/data/attributes/authenticity_secret'],
      ['text', 400, '/data/attributes'],
    ]
    for (const [attributes, status, pointer] of cases) {
      const reply = await attempt(attributes)
      assert.equal(reply.status, status, `${JSON.stringify(attributes)}: ${reply.text}`)
      assert.equal(reply.json.errors[0].source.pointer, pointer, JSON.stringify(attributes))
      assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8')
    }
    assert.equal((await attempt({}, 'JobStatus')).json.errors[0].source.pointer, '/data/type')
    const notJson = await fetch(`${server.url}/webhooks/v2/webhook_subscriptions`, { method: 'POST', headers: { Authorization: `Bearer ${who.hooks}`, 'Content-Type': 'application/json' }, body: '{' })
    assert.equal(notJson.status, 400)
    const events = await send(who.hooks, 'GET', '/webhooks/v2/webhook_subscriptions/1/events?where[uuid]=x')
    assert.equal(events.status, 404, 'a subscription that is not the caller’s is not found, whatever the parameters')
    const { id } = await subscribe(who, 'calendar.v2.events.job_status.created')
    for (const query of ['where[uuid]=x', 'where[status]=lost', 'order=name', 'per_page=x']) {
      const reply = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${id}/events?${query}`)
      assert.equal(reply.status, 400, query)
      assert.equal(reply.json.errors[0].code, 'invalid_parameter')
    }
    assert.equal((await send(who.hooks, 'PUT', `/webhooks/v2/webhook_subscriptions/${id}`)).status, 405)
  })
})

describe('deliveries', () => {
  it('delivers each of many progress reports sent at once as its own change', async () => {
    const who = await integration()
    const job = await createJob(who)
    const id = job.json.data.id as string
    assert.equal((await send(who.jobs, 'POST', `/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'working' } } })).status, 200)
    const updated = await subscribe(who, 'calendar.v2.events.job_status.updated')
    // Sent together, they are applied by shared statements: each must still be its own event.
    const messages = Array.from({ length: 12 }, (_, n) => `Report ${n + 1}`)
    const answers = await Promise.all(messages.map((message) => send(who.jobs, 'POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { message } } })))
    assert.deepEqual(answers.map((answer) => answer.status), messages.map(() => 200))
    await untilCount(updated.path, messages.length)
    const delivered = deliveredTo(updated.path).map((d) => (d.event.payload as { data: { attributes: { message: string } } }).data.attributes.message)
    // In the order the reports were applied, which each answer's progress tells.
    const applied = answers.sort((a, b) => a.json.data.attributes.progress - b.json.data.attributes.progress).map((answer) => answer.json.data.attributes.message)
    assert.deepEqual(delivered, applied)
    assert.deepEqual([...delivered].sort(), [...messages].sort())
  })

  it('delivers every change, signed, in order, each payload the Calendar API’s read at that moment', async () => {
    const who = await integration()
    const created = await subscribe(who, 'calendar.v2.events.job_status.created')
    const updated = await subscribe(who, 'calendar.v2.events.job_status.updated')
    const job = await createJob(who, { total: 2, message: 'Waiting' })
    const id = job.json.data.id as string
    await untilCount(created.path, 1)
    const read = async () => (await request(server.url, `/calendar/v2/job_statuses/${id}`, { token: who.token })).json
    assert.deepEqual(deliveredTo(created.path)[0]!.event.payload, await read())

    const steps: Array<[string, unknown]> = [
      [`/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'working' } } }],
      [`/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { message: 'One done' } } }],
      [`/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { message: 'Two done' } } }],
      [`/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'completed', message: 'Finished' } } }],
    ]
    for (const [n, [path, body]] of steps.entries()) {
      assert.equal((await send(who.jobs, 'POST', path, body)).status, 200)
      await untilCount(updated.path, n + 1)
      assert.deepEqual(deliveredTo(updated.path)[n]!.event.payload, await read(), `step ${n + 1}`)
    }
    for (const delivery of [...deliveredTo(created.path), ...deliveredTo(updated.path)]) {
      assert.ok(delivery.signed, 'X-PCO-Webhooks-Authenticity is the HMAC of the exact bytes')
      assert.equal(delivery.headers['content-type'], 'application/json')
      assert.equal(delivery.event.organizationId, who.organizationId)
      assert.equal(delivery.event.attempt, 1)
    }
    assert.deepEqual(deliveredTo(updated.path).map((d) => (d.event.payload as { data: { attributes: { message: string } } }).data.attributes.message), [
      'Waiting', 'One done', 'Two done', 'Finished',
    ])

    // The delivery log and the events list say the same, once the deliverer has recorded the last
    // outcome (the receiver sees a delivery before the deliverer has written down its answer).
    const events = await until(async () => {
      const reply = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${updated.id}/events`)
      return reply.json.data.every((e: { attributes: { status: string } }) => e.attributes.status !== 'pending') ? reply : undefined
    })
    assert.equal(events.json.meta.total_count, 4)
    assert.deepEqual(events.json.data.map((e: { attributes: { status: string } }) => e.attributes.status), ['delivered', 'delivered', 'delivered', 'delivered'])
    assert.deepEqual(events.json.data.map((e: { attributes: { uuid: string } }) => e.attributes.uuid), deliveredTo(updated.path).map((d) => d.event.id))
    assert.deepEqual(Object.keys(events.json.data[0].attributes), ['created_at', 'payload', 'status', 'updated_at', 'uuid'])
    assert.deepEqual(JSON.parse(events.json.data[3].attributes.payload), await read())
    const newest = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${updated.id}/events?order=-created_at&per_page=1`)
    assert.equal(newest.json.data[0].id, events.json.data[3].id)
    assert.equal(newest.json.links.next, `${server.url}/webhooks/v2/webhook_subscriptions/${updated.id}/events?offset=1&order=-created_at&per_page=1`)
    const byUuid = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${updated.id}/events?where[uuid]=${events.json.data[1].attributes.uuid}`)
    assert.deepEqual(byUuid.json.data.map((e: { id: string }) => e.id), [events.json.data[1].id])
    const deliveries = await send(who.hooks, 'GET', events.json.data[0].links.deliveries.slice(server.url.length))
    assert.equal(deliveries.json.meta.total_count, 1)
    const [delivery] = deliveries.json.data
    assert.deepEqual(Object.keys(delivery.attributes), ['created_at', 'request_body', 'request_headers', 'response_body', 'response_headers', 'status', 'timing', 'updated_at'])
    assert.equal(delivery.attributes.status, 200)
    assert.equal(delivery.attributes.response_body, 'answered 200')
    assert.equal(delivery.attributes.request_body, deliveredTo(updated.path)[0]!.raw.toString('utf8'))
    assert.equal(delivery.attributes.request_headers['X-PCO-Webhooks-Authenticity'], deliveredTo(updated.path)[0]!.headers['x-pco-webhooks-authenticity'])
    assert.equal(typeof delivery.attributes.timing, 'number')
  })

  it('retries on the schedule: base, then doubling, 16 times, then deactivates the subscription', async () => {
    const who = await integration()
    const hook = await subscribe(who, 'calendar.v2.events.job_status.created')
    receiver.answer = (path) => (path === hook.path ? 500 : 200)
    await createJob(who)
    const base = 30_000
    for (let failure = 1; failure <= 16; failure++) {
      await untilCount(hook.path, failure)
      const event = await until(async () => {
        const row = await server.db('webhook_events').where({ subscription_id: hook.id }).first()
        return row.failures === failure ? row : undefined
      })
      const [last] = await server.db('webhook_deliveries').where({ event_id: event.id }).orderBy('id', 'desc').limit(1)
      assert.equal(event.status, 'pending')
      assert.equal(new Date(event.next_attempt_at).getTime() - new Date(last.created_at).getTime(), base * 2 ** (failure - 1), `retry ${failure}`)
      assert.equal(deliveredTo(hook.path)[failure - 1]!.event.attempt, failure)
      server.clock.advance(base * 2 ** (failure - 1))
    }
    await untilCount(hook.path, 17)
    const subscription = await until(async () => {
      const reply = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${hook.id}`)
      return reply.json.data.attributes.active === false ? reply : undefined
    })
    assert.equal(subscription.json.data.attributes.active, false)
    const [event] = (await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${hook.id}/events`)).json.data
    assert.equal(event.attributes.status, 'failed')
    const log = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${hook.id}/events/${event.id}/deliveries?per_page=100`)
    assert.equal(log.json.meta.total_count, 17, 'the first attempt and 16 retries')
    assert.ok(log.json.data.every((d: { attributes: { status: number } }) => d.attributes.status === 500))
    receiver.answer = () => 200
  })

  it('runs the whole schedule in seconds with a fractional WEBHOOK_RETRY_BASE, on the real clock', async () => {
    const quick = await startTestServer({ RATE_LIMIT: '1000000', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_RETRY_BASE: '0.1', WEBHOOK_SECRET_KEY: randomBytes(32).toString('hex') })
    try {
      const tenant = await createTenant(quick.db)
      const token = await createToken(quick.db, tenant.personId, { scopes: ['webhooks', 'jobs'] })
      const path = `/hooks/${++paths}`
      receiver.answer = (at) => (at === path ? 500 : 200)
      const created = await fetch(`${quick.url}/webhooks/v2/webhook_subscriptions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
        body: JSON.stringify({ data: { attributes: { name: 'calendar.v2.events.job_status.created', url: `${receiver.url}${path}` } } }),
      })
      const id = ((await created.json()) as { data: { id: string } }).data.id
      await quick.db('job_statuses').insert({ organization_id: tenant.organizationId })
      await untilCount(path, 17)
      const subscription = await until(async () => {
        const row = await quick.db('webhook_subscriptions').where({ id }).first()
        return row.active ? undefined : row
      })
      assert.equal(subscription.active, false)
      const attempts = deliveredTo(path).map((d) => d.at)
      for (let retry = 1; retry <= 16; retry++) {
        // Never early; how late depends on the machine, so only the lower bound is checked.
        assert.ok(attempts[retry]! - attempts[retry - 1]! >= Math.floor(0.1 * 2 ** (retry - 1)), `retry ${retry} came early`)
      }
      assert.equal(deliveredTo(path).length, 17)
    } finally {
      receiver.answer = () => 200
      await quick.close()
    }
  })

  it('deactivates at once on 410 Gone, and holds later events until the subscription is active again', async () => {
    const who = await integration()
    const hook = await subscribe(who, 'calendar.v2.events.job_status.created')
    let gone = true
    receiver.answer = (path) => (path === hook.path && gone ? 410 : 200)
    await createJob(who, { message: 'first' })
    await untilCount(hook.path, 1)
    await until(async () => ((await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${hook.id}`)).json.data.attributes.active === false ? true : undefined))
    // Inactive, it records nothing new.
    await createJob(who, { message: 'while inactive' })
    gone = false
    const events = await send(who.hooks, 'GET', `/webhooks/v2/webhook_subscriptions/${hook.id}/events`)
    assert.deepEqual(events.json.data.map((e: { attributes: { status: string } }) => e.attributes.status), ['failed'])

    const redeliver = await send(who.hooks, 'POST', `/webhooks/v2/webhook_subscriptions/${hook.id}/events/${events.json.data[0].id}/redeliver`)
    assert.equal(redeliver.status, 200)
    assert.equal(redeliver.json.data.attributes.status, 'pending')
    // Not while the subscription is inactive…
    await send(who.hooks, 'PATCH', `/webhooks/v2/webhook_subscriptions/${hook.id}`, { data: { attributes: { active: true } } })
    // …and at once when it is active again: the same event, its second attempt.
    await untilCount(hook.path, 2)
    assert.equal(deliveredTo(hook.path)[1]!.event.id, deliveredTo(hook.path)[0]!.event.id)
    assert.equal(deliveredTo(hook.path)[1]!.event.attempt, 2)
    receiver.answer = () => 200
  })

  it('cuts a hanging receiver off at the timeout, while other subscriptions’ deliveries and the API go on', async () => {
    const who = await integration()
    const slow = await subscribe(who, 'calendar.v2.events.job_status.created')
    const quick = await subscribe(who, 'calendar.v2.events.job_status.created')
    let hang = true
    receiver.answer = (path) => (path === slow.path && hang ? 'hang' : 200)
    await createJob(who)
    await untilCount(slow.path, 1)
    await untilCount(quick.path, 1)
    // While the slow receiver holds its request, the quick one receives the next job, and the API answers.
    await createJob(who)
    await untilCount(quick.path, 2)
    assert.equal(deliveredTo(slow.path).length, 1)
    assert.equal((await request(server.url, '/calendar/v2/job_statuses', { token: who.token })).status, 200)
    hang = false
    const event = await until(async () => {
      const row = await server.db('webhook_events').where({ subscription_id: slow.id }).orderBy('id').first()
      return row.failures === 1 ? row : undefined
    })
    const [delivery] = await server.db('webhook_deliveries').where({ event_id: event.id })
    assert.equal(delivery.status, null)
    assert.match(delivery.response_body, /timed out after 1 s/)
    receiver.answer = () => 200
  })

  it('delivers a retried event after a failure, before any later event of the same subscription', async () => {
    const who = await integration()
    const hook = await subscribe(who, 'calendar.v2.events.job_status.created')
    let failing = true
    receiver.answer = (path) => (path === hook.path && failing ? 503 : 200)
    const first = await createJob(who, { message: 'first' })
    await untilCount(hook.path, 1)
    const second = await createJob(who, { message: 'second' })
    failing = false
    // The retry is scheduled from the moment the answer came back: advance the clock only after that.
    await until(async () => ((await server.db('webhook_events').where({ subscription_id: hook.id }).orderBy('id').first()).failures === 1 ? true : undefined))
    server.clock.advance(30_000)
    await untilCount(hook.path, 3)
    const ids = deliveredTo(hook.path).map((d) => (d.event.payload as { data: { id: string } }).data.id)
    assert.deepEqual(ids, [first.json.data.id, first.json.data.id, second.json.data.id])
    receiver.answer = () => 200
  })

  it('records events with the change that made them: a rolled-back change has none, and every writer makes them', async () => {
    const who = await integration()
    const hook = await subscribe(who, 'calendar.v2.events.job_status.created')
    const updates = await subscribe(who, 'calendar.v2.events.job_status.updated')
    const destroyed = await subscribe(who, 'calendar.v2.events.job_status.destroyed')
    await server.db
      .transaction(async (trx) => {
        await trx('job_statuses').insert({ organization_id: who.organizationId, message: 'rolled back' })
        throw new Error('roll back')
      })
      .catch(() => undefined)
    const [row] = await server.db('job_statuses').insert({ organization_id: who.organizationId, message: 'committed by SQL' }).returning('id')
    await untilCount(hook.path, 1)
    assert.equal((deliveredTo(hook.path)[0]!.event.payload as { data: { attributes: { message: string } } }).data.attributes.message, 'committed by SQL')
    const events = await server.db('webhook_events').where({ subscription_id: hook.id })
    assert.equal(events.length, 1)

    // A scripted job, moved by the scenario driver, tells of each step.
    const scripted = await createJob(who, { scenario: { duration_seconds: 0.2, total: 2 } })
    await untilCount(hook.path, 2)
    await receiver.until(() => deliveredTo(updates.path).some((d) => (d.event.payload as { data: { attributes: { status: string } } }).data.attributes.status === 'completed'))
    const statuses = deliveredTo(updates.path).map((d) => (d.event.payload as { data: { id: string; attributes: { status: string } } }).data)
    assert.deepEqual(statuses.filter((d) => d.id === scripted.json.data.id).map((d) => d.attributes.status), ['working', 'working', 'completed'])

    await server.db('job_statuses').where({ id: row.id }).delete()
    await untilCount(destroyed.path, 1)
    assert.equal((deliveredTo(destroyed.path)[0]!.event.payload as { data: { id: string } }).data.id, String(row.id))
  })

  it('refuses, at the moment of connecting, a destination the policy does not allow, and follows no redirect', async () => {
    // A key of its own: on a shared database, only it delivers what it sealed.
    const strictKey = randomBytes(32)
    const strict = await startTestServer({ WEBHOOK_SECRET_KEY: strictKey.toString('hex'), WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_TIMEOUT: '1' })
    try {
      const tenant = await createTenant(strict.db)
      const port = new URL(receiver.url).port
      // Saved as if under a looser policy: what is delivered is checked again when it connects.
      const key = secretKey(strictKey)
      const save = (url: string) =>
        strict.db('webhook_subscriptions').insert({
          organization_id: tenant.organizationId, person_id: tenant.personId, name: 'calendar.v2.events.job_status.created', url, active: true,
          secret_ciphertext: key.seal('s'), secret_key_id: key.id, created_at: new Date(), updated_at: new Date(),
        }).returning('id')
      const refused = [`http://localhost:${port}/by-name`, `http://127.0.0.1:${port}/by-address`, `http://[::ffff:127.0.0.1]:${port}/mapped`]
      const ids: string[] = []
      for (const url of refused) ids.push(String((await save(url))[0].id))
      await strict.db('job_statuses').insert({ organization_id: tenant.organizationId })
      const logs = await until(async () => {
        const rows = await strict.db('webhook_deliveries').join('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id').whereIn('webhook_events.subscription_id', ids).select('webhook_deliveries.*')
        return rows.length === refused.length ? rows : undefined
      })
      for (const log of logs) {
        assert.equal(log.status, null)
        assert.match(log.response_body, /loopback/)
      }
      assert.deepEqual(receiver.received.filter((r) => ['/by-name', '/by-address', '/mapped'].includes(r.path)), [])
    } finally {
      await strict.close()
    }

    // A redirect is an answer like any other but 200: a failure, and its Location is not visited.
    const who = await integration()
    const hook = await subscribe(who, 'calendar.v2.events.job_status.created')
    receiver.answer = (path) => (path === hook.path ? 307 : 200)
    await createJob(who)
    await untilCount(hook.path, 1)
    const event = await until(async () => {
      const row = await server.db('webhook_events').where({ subscription_id: hook.id }).first()
      return row.failures === 1 ? row : undefined
    })
    const [delivery] = await server.db('webhook_deliveries').where({ event_id: event.id })
    assert.equal(delivery.status, 307)
    receiver.answer = () => 200
  })
})

describe('keeping events', () => {
  it('deletes finished events with their deliveries after the retention period, and keeps pending ones', async () => {
    const who = await integration()
    const done = await subscribe(who, 'calendar.v2.events.job_status.created')
    const waiting = await subscribe(who, 'calendar.v2.events.job_status.created')
    receiver.answer = (path) => (path === waiting.path ? 500 : 200)
    await createJob(who)
    await untilCount(done.path, 1)
    await untilCount(waiting.path, 1)
    await until(async () => ((await server.db('webhook_events').where({ subscription_id: waiting.id }).first()).failures === 1 ? true : undefined))
    await until(async () => ((await server.db('webhook_events').where({ subscription_id: done.id }).first()).status === 'delivered' ? true : undefined))
    receiver.answer = () => 200
    // Last changed 40 days ago; the sweep takes what is older than 30.
    await server.db('webhook_events').where({ organization_id: who.organizationId }).update({ updated_at: new Date(Date.now() - 40 * 86_400_000) })
    await sweepFinishedEvents(server.db, new Date(Date.now() - 30 * 86_400_000))
    assert.deepEqual(await server.db('webhook_events').where({ subscription_id: done.id }), [])
    assert.equal((await server.db('webhook_events').where({ subscription_id: waiting.id })).length, 1, 'a pending event is kept')
    const orphans = await server.db('webhook_deliveries').whereNotExists((q) => q.select(1).from('webhook_events').whereRaw('webhook_events.id = webhook_deliveries.event_id'))
    assert.deepEqual(orphans, [])
  })

  it('counts delivery attempts by result in /metrics', async () => {
    const metrics = await request(server.url, '/metrics')
    for (const result of ['delivered', 'retrying', 'deactivated']) {
      assert.match(metrics.text, new RegExp(`^pco_webhook_deliveries_total\\{result="${result}"\\} [1-9]`, 'm'), result)
    }
    assert.match(metrics.text, /^pco_webhook_delivery_duration_seconds_count [1-9]/m)
  })
})

/** Polls `probe` until it returns something: for state the server changes on its own time. */
async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
