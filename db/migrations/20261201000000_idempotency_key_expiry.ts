import type { Knex } from 'knex'

// Idempotency keys expire: the sweep finds the oldest by this index instead of reading the table.
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('idempotency_keys', (t) => t.index(['created_at']))
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('idempotency_keys', (t) => t.dropIndex(['created_at']))
}
