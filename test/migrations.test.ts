// Every migration file in db/migrations is one the server runs: a file left out of src/db/migrate.ts's
// list would never reach a database.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { openDatabase } from '../src/db/database'
import { migrate } from '../src/db/migrate'

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
})
