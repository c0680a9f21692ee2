// Webhook subscriptions, their events (a transactional outbox filled by triggers on job_statuses) and
// every delivery attempt. Whatever writes a job status, in whichever process or tool, records its
// events in the same transaction: a committed change always has them, a rolled-back one never does.
import type { Knex } from 'knex'
import { EXPLORER_CLIENT_ID } from './20261124050000_explorer_application'

/** The channel told when events were recorded, so delivering processes need not wait for their poll. */
const CHANNEL = 'webhook_events_recorded'

const ACTIONS = [
  { operation: 'INSERT', action: 'created', table: 'NEW TABLE AS changed' },
  { operation: 'UPDATE', action: 'updated', table: 'NEW TABLE AS changed' },
  { operation: 'DELETE', action: 'destroyed', table: 'OLD TABLE AS changed' },
] as const

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('webhook_subscriptions', (t) => {
    t.bigIncrements('id')
    t.bigInteger('organization_id').notNullable().references('organizations.id').onDelete('CASCADE')
    t.bigInteger('person_id').notNullable().references('people.id').onDelete('CASCADE')
    t.bigInteger('application_id').references('oauth_applications.id').onDelete('SET NULL')
    t.text('name').notNullable()
    t.text('url').notNullable()
    t.boolean('active').notNullable().defaultTo(true)
    // AES-256-GCM under the server's key; the key's fingerprint says which key sealed it.
    t.text('secret_ciphertext').notNullable()
    t.text('secret_key_id').notNullable()
    // A delivering process serves the subscription until then; one that died leaves it to be claimed again.
    t.timestamp('leased_until', { useTz: true })
    t.timestamp('created_at', { useTz: true }).notNullable()
    t.timestamp('updated_at', { useTz: true }).notNullable()
    t.index(['organization_id', 'id'])
    t.index(['organization_id', 'name'])
  })
  // What the triggers ask of every statement that writes job statuses: is anyone subscribed to this event at all?
  await db.raw('CREATE INDEX webhook_subscriptions_active_name_index ON webhook_subscriptions (name) WHERE active')
  await db.schema.createTable('webhook_events', (t) => {
    t.bigIncrements('id')
    t.bigInteger('subscription_id').notNullable().references('webhook_subscriptions.id').onDelete('CASCADE')
    t.bigInteger('organization_id').notNullable()
    t.uuid('uuid').notNullable().unique().defaultTo(db.raw('gen_random_uuid()'))
    t.text('name').notNullable()
    t.bigInteger('job_status_id').notNullable()
    // The job status row as the change left it (as it was, for a destroyed one).
    t.jsonb('snapshot').notNullable()
    t.text('status').notNullable().defaultTo('pending')
    t.integer('attempts').notNullable().defaultTo(0)
    // Failures since the event was last (re)queued: they choose the next retry's delay.
    t.integer('failures').notNullable().defaultTo(0)
    t.timestamp('next_attempt_at', { useTz: true }).notNullable()
    t.timestamp('created_at', { useTz: true }).notNullable()
    t.timestamp('updated_at', { useTz: true }).notNullable()
    t.index(['subscription_id', 'id'])
  })
  // Each subscription's oldest pending event: the only one of its events that may be sent next.
  await db.raw(`CREATE INDEX webhook_events_pending_index ON webhook_events (subscription_id, id) WHERE status = 'pending'`)
  // What the retention sweep deletes: finished events, oldest change first.
  await db.raw(`CREATE INDEX webhook_events_finished_index ON webhook_events (updated_at) WHERE status <> 'pending'`)
  await db.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id')
    t.bigInteger('event_id').notNullable().references('webhook_events.id').onDelete('CASCADE')
    t.integer('attempt').notNullable()
    t.jsonb('request_headers').notNullable()
    t.text('request_body').notNullable()
    t.jsonb('response_headers').notNullable()
    t.text('response_body')
    t.integer('status')
    t.double('timing').notNullable()
    t.timestamp('created_at', { useTz: true }).notNullable()
    t.timestamp('updated_at', { useTz: true }).notNullable()
    t.index(['event_id', 'id'])
  })

  // Statement triggers with transition tables: a bulk insert records its events in one statement,
  // and an organization without subscriptions pays one index probe per statement.
  for (const { operation, action, table } of ACTIONS) {
    const name = `calendar.v2.events.job_status.${action}`
    await db.raw(`CREATE FUNCTION webhook_events_after_${operation.toLowerCase()}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE name = '${name}' AND active) THEN
          RETURN NULL;
        END IF;
        INSERT INTO webhook_events (subscription_id, organization_id, name, job_status_id, snapshot, next_attempt_at, created_at, updated_at)
          SELECT s.id, c.organization_id, s.name, c.id, to_jsonb(c), clock_timestamp(), clock_timestamp(), clock_timestamp()
          FROM changed AS c
          JOIN webhook_subscriptions AS s ON s.organization_id = c.organization_id AND s.name = '${name}' AND s.active
          ORDER BY c.id, s.id;
        IF FOUND THEN
          PERFORM pg_notify('${CHANNEL}', '');
        END IF;
        RETURN NULL;
      END $$`)
    await db.raw(`CREATE TRIGGER webhook_events_${operation.toLowerCase()} AFTER ${operation} ON job_statuses
      REFERENCING ${table} FOR EACH STATEMENT EXECUTE FUNCTION webhook_events_after_${operation.toLowerCase()}()`)
  }

  // The explorer's sign-in asks for the webhooks scope too.
  await db('oauth_applications').where({ client_id: EXPLORER_CLIENT_ID }).update({ scopes: ['calendar', 'jobs', 'webhooks'] })
}

export async function down(db: Knex): Promise<void> {
  await db('oauth_applications').where({ client_id: EXPLORER_CLIENT_ID }).update({ scopes: ['calendar', 'jobs'] })
  for (const { operation } of ACTIONS) {
    await db.raw(`DROP TRIGGER IF EXISTS webhook_events_${operation.toLowerCase()} ON job_statuses`)
    await db.raw(`DROP FUNCTION IF EXISTS webhook_events_after_${operation.toLowerCase()}()`)
  }
  await db.schema.dropTableIfExists('webhook_deliveries')
  await db.schema.dropTableIfExists('webhook_events')
  await db.schema.dropTableIfExists('webhook_subscriptions')
}
