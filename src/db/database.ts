// Opens the database: PostgreSQL through `pg` when DATABASE_URL is set, else embedded PGlite on disk.
import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { knex, type Knex } from 'knex'
import type { Logger } from 'pino'
import type { Config } from '../config'
import { DataDirInUse, lockDataDir } from './data-dir-lock'
import { embeddedSocketPath } from './embedded-socket'
import { answerForDatabaseError } from './errors'

export type Database = Knex

/** How a connection names itself in pg_stat_activity: its role and the process, so each can be told apart. */
export const applicationName = (role: string) => `${role}/${process.pid}`

/** Knex's own warnings as structured log lines instead of bare console output. */
function knexLog(logger: Logger | undefined): Knex.Config['log'] {
  if (!logger) return undefined
  const log = (level: 'warn' | 'error' | 'debug') => (message: unknown) => logger[level]({ knex: String(message) }, 'database')
  return { warn: log('warn'), error: log('error'), debug: log('debug'), deprecate: log('warn') }
}

/** How the server names itself in DATA_DIR's lock; the command-line tool looks for it there. */
export const SERVER_HOLDER = 'the server'

export interface OpenOptions {
  logger?: Logger
  /** Names this process to another that finds the embedded database's files taken (db/data-dir-lock.ts). */
  holder?: string
  /**
   * When a running server holds the embedded database, use it through the socket it serves
   * (db/embedded-socket.ts) instead of refusing.
   */
  throughRunningServer?: boolean
}

/**
 * How every connection to PostgreSQL is made. A connect that gets no answer (a load balancer with no
 * primary behind it, a host cut off) gives up after 3 s instead of waiting for the kernel's minutes;
 * TCP keepalives find a connection whose peer vanished without closing it.
 */
export const CONNECTING = { connectionTimeoutMillis: 3_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const

export function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databasePoolMax'>, options: OpenOptions = {}): Database {
  const { logger, holder = 'pco-job-status' } = options
  if (config.databaseUrl !== undefined) {
    return knex({
      log: knexLog(logger),
      client: 'pg',
      connection: { connectionString: config.databaseUrl, application_name: applicationName('pco-job-status'), ...CONNECTING },
      // min 0: after a PostgreSQL restart no dead idle connection is handed out first.
      pool: { min: 0, max: config.databasePoolMax, idleTimeoutMillis: 30_000 },
      // A request waits at most this long for a connection before it answers 503.
      acquireConnectionTimeout: 5_000,
    })
  }
  const inMemory = config.dataDir === 'memory://'
  // Owner-only when created here: the files hold password digests and tokens' hashes.
  if (!inMemory) mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  let release: (() => void) | undefined
  try {
    release = inMemory ? undefined : lockDataDir(config.dataDir, holder)
  } catch (error) {
    if (options.throughRunningServer && error instanceof DataDirInUse && error.holder === SERVER_HOLDER) return openThroughServer(error, logger)
    throw error
  }
  // Loaded only here: PGlite's WebAssembly build is large, and a PostgreSQL deployment never needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ClientPgLite = require('knex-pglite') as typeof import('knex-pglite')
  const db = knex({
    log: knexLog(logger),
    client: ClientPgLite,
    dialect: 'postgres',
    connection: inMemory ? {} : { filename: config.dataDir },
  } as Knex.Config)
  if (release) {
    // The files are free again once PGlite has written them back and closed.
    const client = db.client as { destroy(callback?: unknown): Promise<void> }
    const destroy = client.destroy.bind(client)
    client.destroy = async (callback?: unknown) => {
      try {
        await destroy(callback)
      } finally {
        release()
      }
    }
  }
  return db
}

/** The embedded database of the server that holds DATA_DIR, through its socket. */
function openThroughServer(inUse: DataDirInUse, logger: Logger | undefined): Database {
  const socket = embeddedSocketPath(inUse.dataDir)
  if (!existsSync(socket)) throw new DataDirInUse(inUse.dataDir, inUse.pid, `${inUse.holder}, still starting or not serving ${socket}`)
  return knex({
    log: knexLog(logger),
    client: 'pg',
    // libpq's convention, which pg follows: a host that is a directory means its .s.PGSQL.<port> socket.
    connection: { host: dirname(socket), port: 5432, user: 'postgres', database: 'postgres', application_name: applicationName('pco-job-status-cli') },
    // One session behind the socket: more connections would only queue there.
    pool: { min: 0, max: 1 },
  })
}

/**
 * The connections that count requests for the rate limit. On PostgreSQL they commit without waiting
 * for the WAL to reach disk (synchronous_commit off): a count lost in a crash costs nothing, while
 * an fsync per request cost about 30% of throughput (docs/performance.md). Job data is never written through them;
 * the job-status pipeline's shared statements (job-statuses/read-batch.ts, and the list's page) run here.
 */
export function openCounterDatabase(config: Pick<Config, 'databaseUrl' | 'databasePoolMax'>, main: Database, logger?: Logger): Database {
  if (config.databaseUrl === undefined) return main
  return knex({
    log: knexLog(logger),
    client: 'pg',
    connection: { connectionString: config.databaseUrl, application_name: applicationName('pco-job-status-counters'), ...CONNECTING },
    pool: {
      min: 0,
      // The job-status pipeline's shared statements run here too (job-statuses/hot-routes.ts).
      max: config.databasePoolMax,
      idleTimeoutMillis: 30_000,
      afterCreate: (connection: { query(sql: string, done: (error: Error | null) => void): void }, done: (error: Error | null, connection: unknown) => void) => {
        // A generic plan, made once: left to choose, PostgreSQL planned the list's statement afresh at
        // every call (its cost estimate for a custom plan came out lower), which cost more than running it.
        connection.query('SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan', (error) => done(error, connection))
      },
    },
    acquireConnectionTimeout: 5_000,
  })
}

/** Node's own errors for a connection that could not be made or was lost. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH'])

/** Whether an error means "the database cannot be reached right now", as opposed to a bug. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const { code } = error as { code?: unknown }
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true
  // PostgreSQL's own codes for it (connection_exception, shutdowns, too many connections) are in the table.
  if (answerForDatabaseError(error)?.code === 'database_unavailable') return true
  if (error.name === 'KnexTimeoutError') return true
  // pg's own words for a connection that failed, ended, or was not made within connectionTimeoutMillis.
  return /Connection terminated|not queryable|Connection ended|timeout exceeded when trying to connect|^timeout expired$/i.test(error.message)
}
