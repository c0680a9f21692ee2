// The Zendesk and Xplenty dialects find a personal access token by its secret alone: index the digest.
import type { Knex } from 'knex'

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('personal_access_tokens', (t) => t.index(['secret_digest']))
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('personal_access_tokens', (t) => t.dropIndex(['secret_digest']))
}
