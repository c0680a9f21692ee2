// Sends recorded events to their subscriptions, in every server process at once: each event is leased
// by one process at a time, a process that dies leaves its leases to run out, and each subscription
// receives its events one at a time in the order they were recorded.
import type { Knex } from 'knex'
import { toStorableText } from '../db/storable'
import { webhookDeliveries, webhookDeliveryDuration } from '../http/metrics'
import type { Logger } from 'pino'
import { deliveryBody, eventPayload } from './events'
import { claimEvents, recordDelivery, type ClaimedEvent, type Outcome } from './query'
import { signature, type SecretKey } from './secrets'
import { sender, type Answer, type Sender } from './send'
import type { DestinationPolicy } from './destinations'

/** Retries after the first failure; after the last, the subscription is deactivated. */
export const MAX_RETRIES = 16

/** Deliveries one process has in flight at once, each to a different subscription. */
const MAX_IN_FLIGHT = 64

/** How often a process looks for retries that came due and leases that ran out, without being told. */
const POLL_MS = 1_000

/** A lease outlasts the receiver's deadline by this much, so only a dead (or stalled) process's lease runs out. */
const LEASE_MARGIN_MS = 2_000

/** Milliseconds before retry `failures` (1 for the first failure): base, then doubling. */
export function retryDelay(failures: number, baseMs: number): number {
  return baseMs * 2 ** (failures - 1)
}

/** What an answer makes of the event: only 200 delivers; 410 and the last failure deactivate. */
export function outcomeOf(answer: Answer, failuresBefore: number, retryBaseMs: number, now: Date): Pick<Outcome, 'status' | 'failures' | 'retryAt' | 'deactivate'> {
  if (answer.status === 200) return { status: 'delivered', failures: failuresBefore, deactivate: false }
  const failures = failuresBefore + 1
  if (answer.status === 410 || failures > MAX_RETRIES) return { status: 'failed', failures, deactivate: true }
  return { status: 'pending', failures, retryAt: new Date(now.getTime() + retryDelay(failures, retryBaseMs)), deactivate: false }
}

export interface DelivererOptions {
  db: Knex
  now: () => Date
  logger: Logger
  key: SecretKey
  baseUrl: () => string
  timeoutMs: number
  retryBaseMs: number
  allow: DestinationPolicy
}


export class Deliverer {
  private readonly send: Sender
  private readonly inFlight = new Set<Promise<void>>()
  private claiming: Promise<void> | undefined
  private again = false
  private stopped = false
  private failing = false
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly options: DelivererOptions) {
    this.send = sender({ allow: options.allow, timeoutMs: options.timeoutMs })
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), POLL_MS)
    this.timer.unref()
    this.wake()
  }

  /** Looks for events now: called when events were recorded, a delivery ended, or the poll came round. */
  wake(): void {
    if (this.stopped) return
    if (this.claiming) {
      this.again = true
      return
    }
    this.claiming = this.claim().finally(() => {
      this.claiming = undefined
      if (this.again) {
        this.again = false
        this.wake()
      }
    })
  }

  /** Stops claiming and waits for deliveries in flight, each bounded by the receiver's deadline. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.claiming
    await Promise.all(this.inFlight)
    this.send.close()
  }

  private async claim(): Promise<void> {
    const room = MAX_IN_FLIGHT - this.inFlight.size
    if (room <= 0) return
    const { db, now, key, timeoutMs, logger } = this.options
    let events: ClaimedEvent[]
    try {
      events = await claimEvents(db, { now: now(), leaseMs: timeoutMs + LEASE_MARGIN_MS, keyId: key.id, limit: room })
      this.failing = false
    } catch (error) {
      // The database may be away for a while: say so once, and keep polling.
      if (!this.failing) logger.warn({ err: error }, 'webhook deliveries paused: the database did not answer')
      this.failing = true
      return
    }
    for (const event of events) {
      const delivery = this.deliver(event).finally(() => {
        this.inFlight.delete(delivery)
        this.wake()
      })
      this.inFlight.add(delivery)
    }
    if (events.length === room) this.again = true
  }

  private async deliver(event: ClaimedEvent): Promise<void> {
    const { db, now, key, baseUrl, logger, retryBaseMs } = this.options
    const body = deliveryBody({
      uuid: event.uuid,
      name: event.name,
      organizationId: event.organization_id,
      attempt: event.attempts,
      payload: eventPayload(event.snapshot, baseUrl()),
    })
    let answer: Answer
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'pco-job-status-webhooks/1', 'X-PCO-Webhooks-Name': event.name }
    try {
      headers['X-PCO-Webhooks-Authenticity'] = signature(key.open(event.secret_ciphertext), body)
      answer = await this.send.post(event.url, body, headers)
    } catch (error) {
      logger.error({ err: error, event: event.uuid }, 'webhook not sent')
      answer = { headers: {}, body: 'Not sent: the subscription’s secret could not be opened with this server’s key', timing: 0 }
    }
    const answeredAt = now()
    const outcome: Outcome = {
      eventId: event.id,
      subscriptionId: event.subscription_id,
      attempt: event.attempts,
      request: { headers, body },
      response: {
        ...(answer.status === undefined ? {} : { status: answer.status }),
        headers: Object.fromEntries(
          Object.entries(answer.headers).map(([name, value]) => [toStorableText(name), Array.isArray(value) ? value.map(toStorableText) : toStorableText(value)]),
        ),
        body: answer.body === null ? null : toStorableText(answer.body),
        timing: answer.timing,
      },
      ...outcomeOf(answer, event.failures, retryBaseMs, answeredAt),
    }
    try {
      await recordDelivery(db, outcome, answeredAt)
    } catch (error) {
      // Unrecorded, the event's lease runs out and it is sent again: at least once, never lost.
      logger.warn({ err: error, event: event.uuid }, 'webhook delivery not recorded; it will be sent again')
    }
    webhookDeliveries.inc({ result: outcome.status === 'delivered' ? 'delivered' : outcome.status === 'pending' ? 'retrying' : 'deactivated' })
    webhookDeliveryDuration.observe(answer.timing)
    if (outcome.deactivate) logger.info({ subscription: event.subscription_id, status: answer.status }, 'webhook subscription deactivated')
  }
}
