// The first schema: organizations, people, their credentials, and job statuses.
import type { Knex } from 'knex'

export const JOB_STATUSES = ['queued', 'working', 'stopping', 'completed', 'failed', 'killed'] as const

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('organizations', (t) => {
    t.bigIncrements('id')
    t.text('name').notNullable()
    t.text('time_zone').notNullable().defaultTo('America/Los_Angeles')
    t.text('date_format').notNullable().defaultTo('%m/%d/%Y')
    t.boolean('twenty_four_hour_time').notNullable().defaultTo(false)
    t.text('calendar_starts_on').notNullable().defaultTo('Sunday')
    t.boolean('demo').notNullable().defaultTo(false)
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
  })

  await db.schema.createTable('people', (t) => {
    t.bigIncrements('id')
    t.bigInteger('organization_id').notNullable().references('organizations.id').onDelete('CASCADE')
    t.text('name').notNullable()
    t.text('email').unique()
    t.text('password_digest')
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.index(['organization_id'])
  })

  await db.schema.createTable('personal_access_tokens', (t) => {
    t.bigIncrements('id')
    t.bigInteger('person_id').notNullable().references('people.id').onDelete('CASCADE')
    t.text('app_id').notNullable().unique()
    t.text('secret_digest').notNullable()
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.timestamp('revoked_at', { useTz: true })
    t.index(['person_id'])
  })

  await db.schema.createTable('oauth_applications', (t) => {
    t.bigIncrements('id')
    t.text('name').notNullable()
    t.text('client_id').notNullable().unique()
    t.text('client_secret_digest').notNullable()
    t.specificType('redirect_uris', 'text[]').notNullable().defaultTo('{}')
    t.specificType('scopes', 'text[]').notNullable().defaultTo('{}')
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
  })

  await db.schema.createTable('oauth_access_tokens', (t) => {
    t.bigIncrements('id')
    t.bigInteger('person_id').notNullable().references('people.id').onDelete('CASCADE')
    t.bigInteger('application_id').notNullable().references('oauth_applications.id').onDelete('CASCADE')
    t.text('token_digest').notNullable().unique()
    t.specificType('scopes', 'text[]').notNullable().defaultTo('{}')
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.timestamp('expires_at', { useTz: true })
    t.timestamp('revoked_at', { useTz: true })
    t.index(['person_id'])
    t.index(['application_id'])
  })

  await db.schema.createTable('job_statuses', (t) => {
    t.bigIncrements('id')
    t.bigInteger('organization_id').notNullable().references('organizations.id').onDelete('CASCADE')
    t.text('status').notNullable().defaultTo('queued')
    t.text('message')
    t.jsonb('errors').notNullable().defaultTo('{}')
    t.integer('retries').notNullable().defaultTo(0)
    t.timestamp('started_at', { useTz: true })
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    // The list query is `WHERE organization_id = ? ORDER BY id`: this index serves it without a sort.
    t.index(['organization_id', 'id'], 'job_statuses_organization_id_id_index')
  })
  await db.raw(
    `ALTER TABLE job_statuses ADD CONSTRAINT job_statuses_status_check CHECK (status IN (${JOB_STATUSES.map((s) => `'${s}'`).join(', ')}))`,
  )
  await db.raw('ALTER TABLE job_statuses ADD CONSTRAINT job_statuses_retries_check CHECK (retries >= 0)')
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['job_statuses', 'oauth_access_tokens', 'oauth_applications', 'personal_access_tokens', 'people', 'organizations']) {
    await db.schema.dropTableIfExists(table)
  }
}
