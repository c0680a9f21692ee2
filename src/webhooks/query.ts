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

type Order = Array<{ column: string; order: 'asc' | 'desc' }>

/** One page of the rows `scoped()` selects, in `order`, and how many there are in all. */
async function pageOf<Row>(scoped: () => Knex.QueryBuilder, page: Page, order: Order, read: (row: Record<string, unknown>) => Row) {
  const [rows, [count]] = await Promise.all([
    scoped().select('*').orderBy(order).offset(page.offset).limit(page.perPage),
    scoped().count({ n: '*' }),
  ])
  return { rows: (rows as Array<Record<string, unknown>>).map(read), totalCount: Number((count as { n?: string | number } | undefined)?.n ?? 0) }
}

const BY_ID: Order = [{ column: 'id', order: 'asc' }]

export async function listSubscriptions(db: Knex, organizationId: string, page: Page, filter: { applicationId?: string }) {
  const scoped = () => {
    const query = db('webhook_subscriptions').where({ organization_id: organizationId })
    if (filter.applicationId !== undefined) query.where({ application_id: filter.applicationId })
    return query
  }
  return pageOf(scoped, page, BY_ID, subscription)
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
  // created_at can tie within a statement; id breaks the tie in the same direction.
  return pageOf(scoped, page, [{ column: 'created_at', order: direction }, { column: 'id', order: direction }], event)
}

export async function findEvent(db: Knex, organizationId: string, subscriptionId: string, id: string): Promise<EventRow | undefined> {
  const row = await db('webhook_events').where({ organization_id: organizationId, subscription_id: subscriptionId, id }).first()
  return row ? event(row) : undefined
}

/** Queues an event again from its first attempt, whatever became of it. */
export async function requeueEvent(db: Knex, organizationId: string, subscriptionId: string, id: string, now: Date): Promise<EventRow | undefined> {
  const [row] = await db('webhook_events')
    .where({ organization_id: organizationId, subscription_id: subscriptionId, id })
    .update({ status: 'pending', failures: 0, next_attempt_at: now, updated_at: now })
    .returning('*')
  return row ? event(row) : undefined
}

/** An event's deliveries; the caller found the event in its organization. */
export async function listDeliveries(db: Knex, eventId: string, page: Page) {
  return pageOf(() => db('webhook_deliveries').where({ event_id: eventId }), page, BY_ID, delivery)
}

/** A pending event as a delivering process reads it: what a delivery needs, the snapshot as the database's text, parsed only when rendered. */
export type PendingEvent = Pick<EventRow, 'id' | 'organization_id' | 'uuid' | 'name' | 'attempts' | 'failures' | 'next_attempt_at'> & { snapshot_text: string }

/** A subscription leased for delivery: where its events go, and its next pending events in order. */
export interface ClaimedSubscription {
  id: string
  organization_id: string
  url: string
  secret_ciphertext: string
  events: PendingEvent[]
}

/**
 * Leases up to `limit` active subscriptions sealed with `keyId` whose oldest pending event is due and
 * that no live process holds, and reads the first `batch` pending events of each, in one statement.
 * A subscription is served by one process at a time, so its events go out one at a time, in recorded
 * order; SKIP LOCKED lets processes claim side by side. Leases run on the database's clock, so hosts
 * whose clocks differ agree on when one runs out.
 */
export async function claimSubscriptions(
  db: Knex,
  { now, leaseMs, keyId, limit, batch }: { now: Date; leaseMs: number; keyId: string; limit: number; batch: number },
): Promise<ClaimedSubscription[]> {
  const { rows } = await db.raw(
    `WITH claimed AS (
       UPDATE webhook_subscriptions AS s
          SET leased_until = clock_timestamp() + :leaseMs * interval '1 millisecond'
        WHERE s.id IN (
                SELECT candidate.id FROM webhook_subscriptions AS candidate
                 CROSS JOIN LATERAL (
                   SELECT p.id, p.next_attempt_at FROM webhook_events AS p
                    WHERE p.subscription_id = candidate.id AND p.status = 'pending'
                    ORDER BY p.id LIMIT 1
                 ) AS head
                 WHERE candidate.active AND candidate.secret_key_id = :keyId
                   AND (candidate.leased_until IS NULL OR candidate.leased_until <= clock_timestamp())
                   AND head.next_attempt_at <= :now
                 -- The oldest waiting event first: with more subscriptions due than a process serves, none starves.
                 ORDER BY head.id
                 LIMIT :limit
                 FOR UPDATE OF candidate SKIP LOCKED)
       RETURNING s.id, s.organization_id, s.url, s.secret_ciphertext
     )
     SELECT c.id AS claimed_id, c.organization_id AS claimed_organization_id, c.url AS claimed_url, c.secret_ciphertext AS claimed_secret, e.*
       FROM claimed AS c
       LEFT JOIN LATERAL (
         SELECT p.id, p.organization_id, p.uuid, p.name, p.snapshot::text AS snapshot_text, p.attempts, p.failures, p.next_attempt_at
           FROM webhook_events AS p WHERE p.subscription_id = c.id AND p.status = 'pending' ORDER BY p.id LIMIT :batch
       ) AS e ON true
      ORDER BY c.id, e.id`,
    { now, leaseMs, keyId, limit, batch },
  )
  const claimed = new Map<string, ClaimedSubscription>()
  for (const row of rows as Array<Record<string, unknown>>) {
    const id = String(row.claimed_id)
    let subscription = claimed.get(id)
    if (!subscription) {
      subscription = { id, organization_id: String(row.claimed_organization_id), url: String(row.claimed_url), secret_ciphertext: String(row.claimed_secret), events: [] }
      claimed.set(id, subscription)
    }
    // A subscription whose events another process finished in the meantime comes back with none.
    if (row.id !== null && row.id !== undefined) subscription.events.push(ids<PendingEvent>(row, 'id', 'organization_id'))
  }
  return [...claimed.values()]
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
  /** When the answer came (or the attempt was given up): the delivery's created_at. */
  answeredAt: Date
}

/**
 * Logs attempts, moves their events on, deactivates where an outcome says so, and ends the leases of
 * `release`, in one statement for every subscription that finished since the last. An event deleted
 * meanwhile (its subscription with it) logs nothing.
 */
export async function recordDeliveries(db: Knex, outcomes: Outcome[], release: string[]): Promise<void> {
  const rows = outcomes.map((o) => ({
    event_id: o.eventId,
    subscription_id: o.subscriptionId,
    attempt: o.attempt,
    status: o.status,
    failures: o.failures,
    retry_at: o.retryAt?.toISOString() ?? null,
    request_headers: o.request.headers,
    request_body: o.request.body,
    response_headers: o.response.headers,
    response_body: o.response.body,
    response_status: o.response.status ?? null,
    timing: o.response.timing,
    deactivate: o.deactivate,
    answered_at: o.answeredAt.toISOString(),
  }))
  await db.raw(
    `WITH o AS (
       SELECT * FROM jsonb_to_recordset(:outcomes::jsonb) AS o(
         event_id bigint, subscription_id bigint, attempt integer, status text, failures integer, retry_at timestamptz,
         request_headers jsonb, request_body text, response_headers jsonb, response_body text, response_status integer,
         timing double precision, deactivate boolean, answered_at timestamptz)
     ), events AS (
       UPDATE webhook_events AS e
          SET status = o.status, attempts = o.attempt, failures = o.failures,
              next_attempt_at = COALESCE(o.retry_at, e.next_attempt_at), updated_at = o.answered_at
         FROM o WHERE e.id = o.event_id
       RETURNING e.id
     ), deliveries AS (
       INSERT INTO webhook_deliveries (event_id, attempt, request_headers, request_body, response_headers, response_body, status, timing, created_at, updated_at)
       SELECT o.event_id, o.attempt, o.request_headers, o.request_body, o.response_headers, o.response_body, o.response_status, o.timing, o.answered_at, o.answered_at
         FROM o JOIN events ON events.id = o.event_id
        ORDER BY o.event_id
     ), ended AS (
       SELECT r.id, coalesce(bool_or(o.deactivate), false) AS deactivate, max(o.answered_at) AS answered_at
         FROM unnest(:release::bigint[]) AS r(id) LEFT JOIN o ON o.subscription_id = r.id
        GROUP BY r.id
     )
     UPDATE webhook_subscriptions AS s
        SET leased_until = NULL,
            active = s.active AND NOT ended.deactivate,
            updated_at = CASE WHEN ended.deactivate AND s.active THEN ended.answered_at ELSE s.updated_at END
       FROM ended WHERE s.id = ended.id`,
    { outcomes: JSON.stringify(rows), release: `{${release.join(',')}}` },
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
