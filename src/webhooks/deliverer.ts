// Sends recorded events to their subscriptions, in every server process at once. A process leases a
// subscription, sends its pending events one at a time in recorded order, and records what came of
// them; a process that dies leaves its leases to run out, and its unrecorded events are sent again.
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import { toStorableText } from '../db/storable'
import { webhookDeliveries, webhookDeliveryDuration } from '../http/metrics'
import { deliveryBody, eventPayload } from './events'
import { claimSubscriptions, recordDeliveries, type ClaimedSubscription, type Outcome, type PendingEvent } from './query'
import { signature, type SecretKey } from './secrets'
import { sender, type Answer, type Sender } from './send'
import type { DestinationPolicy } from './destinations'

/** Retries after the first failure; after the last, the subscription is deactivated. */
export const MAX_RETRIES = 16

/** Subscriptions one process serves at once, each to its own receiver. */
const MAX_SUBSCRIPTIONS_SERVED = 64

/** Events of one subscription read per claim; the rest wait for the next. */
const BATCH = 100

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

/**
 * Writes what came of deliveries in one statement for every subscription that finished while the last
 * statement ran: a steady stream of small batches costs a statement per round, not one per event.
 */
class Recorder {
  private queue: Array<{ outcomes: Outcome[]; subscription: string; done: () => void }> = []
  private flushing: Promise<void> | undefined

  constructor(
    private readonly db: Knex,
    private readonly logger: Logger,
  ) {}

  record(subscription: string, outcomes: Outcome[]): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ outcomes, subscription, done: resolve })
      this.flushing ??= this.flush()
    })
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const taken = this.queue
      this.queue = []
      try {
        await recordDeliveries(this.db, taken.flatMap((t) => t.outcomes), taken.map((t) => t.subscription))
      } catch (error) {
        // Unrecorded, the subscriptions' leases run out and their events are sent again: at least once, never lost.
        this.logger.warn({ err: error }, 'webhook deliveries not recorded; they will be sent again')
      }
      for (const { done } of taken) done()
    }
    this.flushing = undefined
  }

  async stop(): Promise<void> {
    await this.flushing
  }
}

export class Deliverer {
  private readonly send: Sender
  private readonly recorder: Recorder
  private readonly serving = new Set<Promise<void>>()
  private claiming: Promise<void> | undefined
  private scheduled: NodeJS.Immediate | undefined
  private again = false
  private stopped = false
  private failing = false
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly options: DelivererOptions) {
    this.send = sender({ allow: options.allow, timeoutMs: options.timeoutMs, maxConnections: MAX_SUBSCRIPTIONS_SERVED })
    this.recorder = new Recorder(options.db, options.logger)
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), POLL_MS)
    this.timer.unref()
    this.wake()
  }

  /**
   * Looks for work: events were recorded, a subscription was served, or the poll came round. Wakes in
   * one turn of the event loop (ten subscriptions recorded together, say) make one claim.
   */
  wake(): void {
    if (this.stopped) return
    if (this.claiming) {
      this.again = true
      return
    }
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined
      this.claiming = this.claim().finally(() => {
        this.claiming = undefined
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
    })
  }

  /** Stops claiming and waits for the subscriptions being served, each bounded by its lease. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    if (this.scheduled) clearImmediate(this.scheduled)
    await this.claiming
    await Promise.all(this.serving)
    await this.recorder.stop()
    this.send.close()
  }

  private get leaseMs(): number {
    return this.options.timeoutMs + LEASE_MARGIN_MS
  }

  private async claim(): Promise<void> {
    const room = MAX_SUBSCRIPTIONS_SERVED - this.serving.size
    if (room <= 0) return
    const { db, now, key, logger } = this.options
    let claimed: ClaimedSubscription[]
    try {
      claimed = await claimSubscriptions(db, { now: now(), leaseMs: this.leaseMs, keyId: key.id, limit: room, batch: BATCH })
      this.failing = false
    } catch (error) {
      // The database may be away for a while: say so once, and keep polling.
      if (!this.failing) logger.warn({ err: error }, 'webhook deliveries paused: the database did not answer')
      this.failing = true
      return
    }
    // One change reaches each of its organization's subscriptions: render its payload once per claim.
    const payloads = new Map<string, string>()
    const payloadOf = (snapshot: string) => {
      let payload = payloads.get(snapshot)
      if (payload === undefined) payloads.set(snapshot, (payload = eventPayload(JSON.parse(snapshot) as Record<string, unknown>, this.options.baseUrl())))
      return payload
    }
    for (const subscription of claimed) {
      const served = this.serve(subscription, payloadOf).finally(() => {
        this.serving.delete(served)
        this.wake()
      })
      this.serving.add(served)
    }
  }

  /** Sends a subscription's batch in order until one fails or the lease would run out, then records it. */
  private async serve(subscription: ClaimedSubscription, payloadOf: (snapshot: string) => string): Promise<void> {
    const leased = performance.now()
    const outcomes: Outcome[] = []
    let secret: string | undefined
    try {
      secret = this.options.key.open(subscription.secret_ciphertext)
    } catch (error) {
      this.options.logger.error({ err: error, subscription: subscription.id }, 'webhook secret could not be opened with this server’s key')
    }
    for (const event of subscription.events) {
      // The head may be waiting for its retry; the others wait behind it.
      if (new Date(event.next_attempt_at).getTime() > this.options.now().getTime()) break
      // Another attempt could outlast the lease: leave the rest to the next claim.
      if (performance.now() - leased + this.options.timeoutMs > this.leaseMs - LEASE_MARGIN_MS / 2) break
      const outcome = await this.attempt(subscription, event, secret, payloadOf(event.snapshot_text))
      outcomes.push(outcome)
      if (outcome.status !== 'delivered') break
    }
    await this.recorder.record(subscription.id, outcomes)
    // A retry due before the next poll is looked for when it is due.
    const retry = outcomes.at(-1)?.retryAt
    if (retry) {
      const wait = retry.getTime() - this.options.now().getTime()
      if (wait < POLL_MS) setTimeout(() => this.wake(), Math.max(0, wait)).unref()
    }
  }

  /** One attempt; without a secret (sealed under another key) nothing is sent and the attempt fails. */
  private async attempt(subscription: ClaimedSubscription, event: PendingEvent, secret: string | undefined, payload: string): Promise<Outcome> {
    const { now, logger, retryBaseMs } = this.options
    const attempt = event.attempts + 1
    const body = deliveryBody({ uuid: event.uuid, name: event.name, organizationId: event.organization_id, attempt, payload })
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'pco-job-status-webhooks/1', 'X-PCO-Webhooks-Name': event.name }
    if (secret !== undefined) headers['X-PCO-Webhooks-Authenticity'] = signature(secret, body)
    const answer: Answer = secret === undefined
      ? { headers: {}, body: 'Not sent: the subscription’s secret could not be opened with this server’s key', timing: 0 }
      : await this.send.post(subscription.url, body, headers)
    const answeredAt = now()
    const outcome: Outcome = {
      eventId: event.id,
      subscriptionId: subscription.id,
      attempt,
      request: { headers, body },
      response: {
        ...(answer.status === undefined ? {} : { status: answer.status }),
        headers: Object.fromEntries(
          Object.entries(answer.headers).map(([name, value]) => [toStorableText(name), Array.isArray(value) ? value.map(toStorableText) : toStorableText(value)]),
        ),
        body: answer.body === null ? null : toStorableText(answer.body),
        timing: answer.timing,
      },
      answeredAt,
      ...outcomeOf(answer, event.failures, retryBaseMs, answeredAt),
    }
    webhookDeliveries.inc({ result: outcome.status === 'delivered' ? 'delivered' : outcome.status === 'pending' ? 'retrying' : 'deactivated' })
    webhookDeliveryDuration.observe(answer.timing)
    if (outcome.deactivate) logger.info({ subscription: subscription.id, status: answer.status }, 'webhook subscription deactivated')
    return outcome
  }
}
