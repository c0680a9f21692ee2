// Runs the schema migrations in db/migrations, listed here so they work from TypeScript and compiled JS alike.
import type { Knex } from 'knex'
import * as initial from '../../db/migrations/20261124000000_initial'
import * as oauthAndRateLimits from '../../db/migrations/20261124010000_oauth_and_rate_limits'
import * as jobStatusCounts from '../../db/migrations/20261124020000_job_status_counts'
import * as jobLifecycle from '../../db/migrations/20261124030000_job_lifecycle'
import * as patSecretIndex from '../../db/migrations/20261124040000_personal_access_token_secret_index'
import * as explorerApplication from '../../db/migrations/20261124050000_explorer_application'
import * as jobStatusRevisions from '../../db/migrations/20261124060000_job_status_revisions'
import * as idempotencyKeyExpiry from '../../db/migrations/20261201000000_idempotency_key_expiry'
import * as resultTaskIdType from '../../db/migrations/20261201010000_result_task_id_type'
import * as explorerJobsScope from '../../db/migrations/20261201020000_explorer_jobs_scope'
import * as webhooks from '../../db/migrations/20261201030000_webhooks'

interface Migration {
  up(db: Knex): Promise<void>
  down(db: Knex): Promise<void>
}

const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['20261124000000_initial', initial],
  ['20261124010000_oauth_and_rate_limits', oauthAndRateLimits],
  ['20261124020000_job_status_counts', jobStatusCounts],
  ['20261124030000_job_lifecycle', jobLifecycle],
  ['20261124040000_personal_access_token_secret_index', patSecretIndex],
  ['20261124050000_explorer_application', explorerApplication],
  ['20261124060000_job_status_revisions', jobStatusRevisions],
  ['20261201000000_idempotency_key_expiry', idempotencyKeyExpiry],
  ['20261201010000_result_task_id_type', resultTaskIdType],
  ['20261201020000_explorer_jobs_scope', explorerJobsScope],
  ['20261201030000_webhooks', webhooks],
]

export interface MigrateOptions {
  /** Called as each migration starts, with its name: long work says what it is doing. */
  onStep?: (name: string) => void
}

function sourceOf({ onStep }: MigrateOptions = {}): Knex.MigrationSource<readonly [string, Migration]> {
  return {
    getMigrations: async () => [...MIGRATIONS],
    getMigrationName: ([name]) => name,
    getMigration: async ([name, migration]) => ({
      up: async (db: Knex) => {
        onStep?.(name)
        await migration.up(db)
      },
      down: migration.down,
    }),
  }
}

// Knex answers a concurrent migration with an error instead of waiting, and two processes can race
// to create its bookkeeping tables: both mean "another process is migrating", so wait and try again.
function isConcurrentMigration(error: unknown): boolean {
  const { name, code } = error as { name?: string; code?: string }
  return name === 'MigrationLocked' || code === '23505' || code === '42P07'
}

/** The migrations this server knows that the database has not had yet. */
export async function pendingMigrations(db: Knex): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource: sourceOf() })) as [unknown[], Array<readonly [string, Migration]>]
  return pending.map(([name]) => name)
}

/**
 * Knex keeps its migration lock in a one-row table that it fills on first use by checking and then
 * inserting: two processes migrating a new database at once can each insert a row, and knex then
 * reads every later attempt as "already locked" (its UPDATE … WHERE is_locked = 0 counts two rows),
 * so neither server ever starts. The row is made here first, exactly once.
 */
async function ensureOneLockRow(db: Knex): Promise<void> {
  await db.raw('CREATE TABLE IF NOT EXISTS knex_migrations_lock ("index" serial PRIMARY KEY, is_locked integer)')
  await db.raw('INSERT INTO knex_migrations_lock ("index", is_locked) VALUES (1, 0) ON CONFLICT ("index") DO NOTHING')
}

/** Brings the schema up to date; safe to call from several processes at once. */
export async function migrate(db: Knex, options: MigrateOptions = {}): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureOneLockRow(db)
      const [, applied] = (await db.migrate.latest({ migrationSource: sourceOf(options) })) as [number, string[]]
      return applied
    } catch (error) {
      if (!isConcurrentMigration(error) || attempt >= 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100))
    }
  }
}
