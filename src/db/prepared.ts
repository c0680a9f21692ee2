// Statements the hot reads run on every request, prepared once per connection and run on it directly.
import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import type { Database } from './database'

/** A statement with `:name` placeholders, turned once into PostgreSQL's `$n` and a name derived from its text. */
export interface PreparedStatement {
  readonly name: string
  readonly text: string
  /** The placeholder's name for each `$n`, in order. */
  readonly parameters: readonly string[]
  /** The text with `?` for Knex, which binds by position: a name used twice takes its value twice. */
  readonly positional: string
  /** The placeholder's name for each `?`, in order. */
  readonly occurrences: readonly string[]
}

// `:name`, but not the second colon of a `::type` cast.
const PLACEHOLDER = /(?<!:):([A-Za-z_]\w*)/g

const statements = new Map<string, PreparedStatement>()

export function prepare(sql: string): PreparedStatement {
  let statement = statements.get(sql)
  if (statement === undefined) {
    const parameters: string[] = []
    const text = sql.replace(PLACEHOLDER, (_, name: string) => {
      const index = parameters.indexOf(name)
      if (index >= 0) return `$${index + 1}`
      parameters.push(name)
      return `$${parameters.length}`
    })
    const occurrences: string[] = []
    const positional = sql.replace(PLACEHOLDER, (_, name: string) => {
      occurrences.push(name)
      return '?'
    })
    // Two texts never share a name: PostgreSQL keeps one statement per name and connection.
    statement = { name: `pco_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`, text, parameters, positional, occurrences }
    statements.set(sql, statement)
  }
  return statement
}

interface RawConnection {
  query(config: { name: string; text: string; values: unknown[] } | string, values?: unknown[]): Promise<{ rows: unknown[] }>
}

interface ConnectionPool {
  acquireConnection(): Promise<RawConnection>
  releaseConnection(connection: RawConnection): Promise<void>
  config: { client?: unknown }
}

/**
 * Runs `sql` as a named prepared statement on one of the pool's connections, without building a
 * Knex query: for the statements of every hot request, PostgreSQL planning them (several CTEs and
 * lateral joins) cost about as much as running them, and Knex's query building showed in profiles.
 * PGlite, one connection in the process, takes the text and parameters alone.
 */
export async function runPrepared<Row>(db: Database, sql: string, bindings: Record<string, unknown>): Promise<Row[]> {
  const statement = prepare(sql)
  const values = valuesOf(statement.parameters, bindings)
  const pool = db.client as unknown as ConnectionPool
  const connection = await pool.acquireConnection()
  try {
    const result = pool.config.client === 'pg'
      ? await connection.query({ name: statement.name, text: statement.text, values })
      : await connection.query(statement.text, values)
    return result.rows as Row[]
  } finally {
    await pool.releaseConnection(connection)
  }
}

/**
 * Runs `sql` (with `:name` placeholders) as runPrepared does, or inside a transaction on the
 * transaction's own connection, so one statement serves both.
 */
export async function runStatement<Row>(db: Knex, sql: string, bindings: Record<string, unknown>): Promise<Row[]> {
  if (!db.isTransaction) return runPrepared<Row>(db, sql, bindings)
  const statement = prepare(sql)
  const { rows } = (await db.raw(statement.positional, valuesOf(statement.occurrences, bindings) as Knex.RawBinding[])) as { rows: Row[] }
  return rows
}

function valuesOf(names: readonly string[], bindings: Record<string, unknown>): unknown[] {
  return names.map((name) => {
    if (!(name in bindings)) throw new Error(`no value for :${name}`)
    return bindings[name]
  })
}
