// Webhook subscriptions, events and deliveries in the database: every read scoped to one organization
// and in a total order; the claim and record statements that delivering processes share.
import type { Knex } from 'knex'
import type { Page } from '../jsonapi/pagination'

export interface SubscriptionRow {
  id: string
  organization_id: string
  person_id: string
  application_id: string | null
  name: string
  url: string
  active: boolean
  secret_ciphertext: string
  secret_key_id: string
  created_at: Date
  updated_at: Date
}

export interface EventRow {
  id: string
  subscription_id: string
  organization_id: string
  uuid: string
  name: string
  job_status_id: string
  snapshot: Record<string, unknown>
  status: string
  attempts: number
  failures: number
  next_attempt_at: Date
  created_at: Date
  updated_at: Date
}

export interface DeliveryRow {
  id: string
  event_id: string
  attempt: number
  request_headers: Record<string, unknown>
  request_body: string
  response_headers: Record<string, unknown>
  response_body: string | null
  status: number | null
  timing: number
  created_at: Date
  updated_at: Date
}

/** The most subscriptions one organization keeps: each one multiplies every change into an event. */
export const MAX_SUBSCRIPTIONS = 100

// pg returns bigint as a string and PGlite as a number: ids leave this module as strings either way.
const ids = <T>(row: Record<string, unknown>, ...names: string[]): T => {
  const out: Record<string, unknown> = { ...row }
  for (const name of names) if (out[name] !== null && out[name] !== undefined) out[name] = String(out[name])
  return out as T
}
const subscription = (row: Record<string, unknown>) => ids<SubscriptionRow>(row, 'id', 'organization_id', 'person_id', 'application_id')
const event = (row: Record<string, unknown>) => ids<EventRow>(row, 'id', 'subscription_id', 'organization_id', 'job_status_id')
const delivery = (row: Record<string, unknown>) => ({ ...ids<DeliveryRow>(row, 'id', 'event_id'), timing: Number(row.timing) })

export async function listSubscriptions(db: Knex, organizationId: string, page: Page, filter: { applicationId?: string }) {
  const scoped = () => {
    const query = db('webhook_subscriptions').where({ organization_id: organizationId })
    if (filter.applicationId !== undefined) query.where({ application_id: filter.applicationId })
    return query
  }
  const [rows, [count]] = await Promise.all([
    scoped().select('*').orderBy('id').offset(page.offset).limit(page.perPage),
    scoped().count({ n: '*' }),
  ])
  return { rows: rows.map(subscription), totalCount: Number(count?.n ?? 0) }
}

export async function findSubscription(db: Knex, organizationId: string, id: string): Promise<SubscriptionRow | undefined> {
  const row = await db('webhook_subscriptions').where({ organization_id: organizationId, id }).first()
  return row ? subscription(row) : undefined
}

export interface NewSubscription {
  organizationId: string
  personId: string
  applicationId: string | null
  name: string
  url: string
  active: boolean
  sealedSecret: string
  keyId: string
}

/** Inserts a subscription unless its organization has MAX_SUBSCRIPTIONS already (undefined then). */
export async function insertSubscription(db: Knex, s: NewSubscription, now: Date): Promise<SubscriptionRow | undefined> {
  return db.transaction(async (trx) => {
    // Serializes creations per organization, so two at once cannot both pass the count.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['webhook_subscriptions', s.organizationId])
    const [{ n }] = (await trx('webhook_subscriptions').where({ organization_id: s.organizationId }).count({ n: '*' })) as [{ n: string | number }]
    if (Number(n) >= MAX_SUBSCRIPTIONS) return undefined
    const [row] = await trx('webhook_subscriptions')
      .insert({
        organization_id: s.organizationId,
        person_id: s.personId,
        application_id: s.applicationId,
        name: s.name,
        url: s.url,
        active: s.active,
        secret_ciphertext: s.sealedSecret,
        secret_key_id: s.keyId,
        created_at: now,
        updated_at: now,
      })
      .returning('*')
    return subscription(row)
  })
}

export async function updateSubscription(
  db: Knex,
  organizationId: string,
  id: string,
  changes: { active?: boolean; secret_ciphertext?: string; secret_key_id?: string },
  now: Date,
): Promise<SubscriptionRow | undefined> {
  const [row] = await db('webhook_subscriptions').where({ organization_id: organizationId, id }).update({ ...changes, updated_at: now }).returning('*')
  return row ? subscription(row) : undefined
}

export async function deleteSubscription(db: Knex, organizationId: string, id: string): Promise<boolean> {
  // RETURNING: knex-pglite answers a bare delete with its driver's result, not a count.
  return (await db('webhook_subscriptions').where({ organization_id: organizationId, id }).delete().returning('id')).length > 0
}

export interface EventFilter {
  status?: string
  uuid?: string
}

export async function listEvents(db: Knex, organizationId: string, subscriptionId: string, page: Page, filter: EventFilter, descending: boolean) {
  const scoped = () => {
    const query = db('webhook_events').where({ organization_id: organizationId, subscription_id: subscriptionId })
    if (filter.status !== undefined) query.where({ status: filter.status })
    if (filter.uuid !== undefined) query.where({ uuid: filter.uuid })
    return query
  }
  const direction = descending ? 'desc' : 'asc'
  const [rows, [count]] = await Promise.all([
    // created_at can tie within a statement; id breaks the tie in the same direction.
    scoped().select('*').orderBy([{ column: 'created_at', order: direction }, { column: 'id', order: direction }]).offset(page.offset).limit(page.perPage),
    scoped().count({ n: '*' }),
  ])
  return { rows: rows.map(event), totalCount: Number(count?.n ?? 0) }
}

export async function findEvent(db: Knex, organizationId: string, subscriptionId: string, id: string): Promise<EventRow | undefined> {
  const row = await db('webhook_events').where({ organization_id: organizationId, subscription_id: subscriptionId, id }).first()
  return row ? event(row) : undefined
}

/** Queues an event again from its first attempt, whatever became of it. */
export async function requeueEvent(db: Knex, organizationId: string, subscriptionId: string, id: string, now: Date): Promise<EventRow | undefined> {
  const [row] = await db('webhook_events')
    .where({ organization_id: organizationId, subscription_id: subscriptionId, id })
    .update({ status: 'pending', failures: 0, next_attempt_at: now, leased_until: null, updated_at: now })
    .returning('*')
  return row ? event(row) : undefined
}

export async function listDeliveries(db: Knex, eventId: string, page: Page) {
  const [rows, [count]] = await Promise.all([
    db('webhook_deliveries').where({ event_id: eventId }).select('*').orderBy('id').offset(page.offset).limit(page.perPage),
    db('webhook_deliveries').where({ event_id: eventId }).count({ n: '*' }),
  ])
  return { rows: rows.map(delivery), totalCount: Number(count?.n ?? 0) }
}

/** An event claimed for delivery, with where it goes. */
export interface ClaimedEvent extends EventRow {
  url: string
  secret_ciphertext: string
}

/**
 * Leases up to `limit` events for delivery: each the oldest pending event of an active subscription
 * sealed with `keyId`, due, and not leased by a live process. Leases are timed by the database's clock,
 * so hosts whose clocks differ agree on when one runs out. One event per subscription at a time keeps
 * each subscription's events in recorded order; SKIP LOCKED lets processes claim side by side.
 */
export async function claimEvents(db: Knex, { now, leaseMs, keyId, limit }: { now: Date; leaseMs: number; keyId: string; limit: number }): Promise<ClaimedEvent[]> {
  const { rows } = await db.raw(
    `UPDATE webhook_events AS e
        SET leased_until = clock_timestamp() + :leaseMs * interval '1 millisecond', attempts = e.attempts + 1, updated_at = :now
       FROM (
         SELECT candidate.id FROM webhook_events AS candidate
          WHERE candidate.id IN (
                  SELECT head.id FROM webhook_subscriptions AS s
                  CROSS JOIN LATERAL (
                    SELECT p.id FROM webhook_events AS p
                     WHERE p.subscription_id = s.id AND p.status = 'pending'
                     ORDER BY p.id LIMIT 1
                  ) AS head
                  WHERE s.active AND s.secret_key_id = :keyId
                )
            AND candidate.status = 'pending'
            AND candidate.next_attempt_at <= :now
            AND (candidate.leased_until IS NULL OR candidate.leased_until <= clock_timestamp())
          ORDER BY candidate.id
          LIMIT :limit
          FOR UPDATE SKIP LOCKED
       ) AS claimed, webhook_subscriptions AS s
      WHERE e.id = claimed.id AND s.id = e.subscription_id
      RETURNING e.*, s.url, s.secret_ciphertext`,
    { now, leaseMs, keyId, limit },
  )
  return (rows as Array<Record<string, unknown>>).map((row) => ({ ...event(row), url: String(row.url), secret_ciphertext: String(row.secret_ciphertext) }))
}

export interface Outcome {
  eventId: string
  subscriptionId: string
  attempt: number
  request: { headers: Record<string, string>; body: string }
  response: { status?: number; headers: Record<string, unknown>; body: string | null; timing: number }
  /** What becomes of the event: delivered, failed (given up), or pending again at `retryAt`. */
  status: 'delivered' | 'failed' | 'pending'
  failures: number
  retryAt?: Date
  deactivate: boolean
}

/** Logs an attempt and moves its event on, in one statement. Nothing happens when the event is gone. */
export async function recordDelivery(db: Knex, outcome: Outcome, now: Date): Promise<void> {
  await db.raw(
    `WITH event AS (
       UPDATE webhook_events
          SET status = :status, failures = :failures, next_attempt_at = COALESCE(:retryAt, next_attempt_at), leased_until = NULL, updated_at = :now
        WHERE id = :eventId
        RETURNING id
     ), delivery AS (
       INSERT INTO webhook_deliveries (event_id, attempt, request_headers, request_body, response_headers, response_body, status, timing, created_at, updated_at)
       SELECT id, :attempt, :requestHeaders, :requestBody, :responseHeaders, :responseBody, :responseStatus, :timing, :now, :now FROM event
     ), deactivated AS (
       UPDATE webhook_subscriptions SET active = false, updated_at = :now WHERE id = :subscriptionId AND :deactivate AND active
     )
     SELECT 1`,
    {
      status: outcome.status,
      failures: outcome.failures,
      retryAt: outcome.retryAt ?? null,
      now,
      eventId: outcome.eventId,
      attempt: outcome.attempt,
      requestHeaders: JSON.stringify(outcome.request.headers),
      requestBody: outcome.request.body,
      responseHeaders: JSON.stringify(outcome.response.headers),
      responseBody: outcome.response.body,
      responseStatus: outcome.response.status ?? null,
      timing: outcome.response.timing,
      subscriptionId: outcome.subscriptionId,
      deactivate: outcome.deactivate,
    },
  )
}

/** Deletes delivered and failed events (their deliveries with them) unchanged since `before`, a batch at a time. */
export async function sweepFinishedEvents(db: Knex, before: Date, batch = 1000): Promise<number> {
  let deleted = 0
  for (;;) {
    const rows = await db('webhook_events')
      .whereIn('id', (sub) => sub.select('id').from('webhook_events').whereIn('status', ['delivered', 'failed']).where('updated_at', '<', before).orderBy('id').limit(batch))
      .delete()
      .returning('id')
    deleted += rows.length
    if (rows.length < batch) return deleted
  }
}
