// OAuth 2 authorization codes, refresh tokens with rotation, and the rate-limit windows shared by every process.
import type { Knex } from 'knex'

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('oauth_authorization_codes', (t) => {
    t.bigIncrements('id')
    t.text('code_digest').notNullable().unique()
    t.bigInteger('application_id').notNullable().references('oauth_applications.id').onDelete('CASCADE')
    t.bigInteger('person_id').notNullable().references('people.id').onDelete('CASCADE')
    t.text('redirect_uri').notNullable()
    t.specificType('scopes', 'text[]').notNullable().defaultTo('{}')
    t.text('code_challenge')
    t.text('code_challenge_method')
    t.timestamp('expires_at', { useTz: true }).notNullable()
    // Set when exchanged: a second exchange is a replay, and revokes what the first one issued.
    t.timestamp('used_at', { useTz: true })
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
  })

  await db.schema.alterTable('oauth_access_tokens', (t) => {
    t.text('refresh_token_digest').unique()
    t.timestamp('refresh_expires_at', { useTz: true })
    // Every token rotated from one authorization shares it, so a replay can revoke them all.
    t.bigInteger('authorization_code_id').references('oauth_authorization_codes.id').onDelete('SET NULL')
    t.index(['authorization_code_id'])
  })

  await db.schema.createTable('rate_limits', (t) => {
    t.text('key').primary()
    t.timestamp('window_started_at', { useTz: true }).notNullable()
    t.integer('count').notNullable()
  })
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('rate_limits')
  await db.schema.alterTable('oauth_access_tokens', (t) => {
    t.dropColumn('authorization_code_id')
    t.dropColumn('refresh_expires_at')
    t.dropColumn('refresh_token_digest')
  })
  await db.schema.dropTableIfExists('oauth_authorization_codes')
}
