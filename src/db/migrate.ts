// Runs the schema migrations in db/migrations, listed here so they work from TypeScript and compiled JS alike.
import type { Knex } from 'knex'
import * as initial from '../../db/migrations/20261124000000_initial'

interface Migration {
  up(db: Knex): Promise<void>
  down(db: Knex): Promise<void>
}

const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [['20261124000000_initial', initial]]

const source: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
}

/** Brings the schema up to date; safe to call from several processes at once (Knex takes a lock). */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: source })) as [number, string[]]
  return applied
}
