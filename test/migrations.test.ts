// Every migration file in db/migrations is one the server runs: a file left out of src/db/migrate.ts's
// list would never reach a database.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { openDatabase } from '../src/db/database'
import { migrate } from '../src/db/migrate'
import { withOwnDatabase } from './support/databases'

describe('migrations', () => {
  it('a fresh database gets every file of db/migrations, in order', async () => {
    const db = openDatabase({ databaseUrl: undefined, dataDir: 'memory://', databasePoolMax: 1 })
    try {
      const applied = await migrate(db)
      const files = readdirSync('db/migrations').filter((name) => name.endsWith('.ts')).map((name) => name.replace(/\.ts$/, '')).sort()
      assert.deepEqual(applied, files)
    } finally {
      await db.destroy()
    }
  })

  it('a new PostgreSQL database migrated by several servers at once leaves one migration lock, and all of them start', { skip: process.env.DATABASE_URL ? false : 'no DATABASE_URL: the embedded database opens in one process' }, async () => {
    await withOwnDatabase(`pco_migrate_race_${process.pid}`, async (url) => {
      // Each its own pool, as separate server processes would have.
      const servers = Array.from({ length: 6 }, () => openDatabase({ databaseUrl: url, dataDir: 'memory://', databasePoolMax: 2 }))
      try {
        const applied = await Promise.all(servers.map((db) => migrate(db)))
        assert.equal(applied.flat().length, readdirSync('db/migrations').filter((file) => file.endsWith('.ts')).length)
        const { rows } = await servers[0]!.raw('SELECT is_locked FROM knex_migrations_lock')
        assert.deepEqual(rows, [{ is_locked: 0 }])
      } finally {
        await Promise.all(servers.map((db) => db.destroy()))
      }
    })
  })
})
