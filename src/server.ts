// The entry point: load config, take the port, open and migrate the database, serve, and drain on SIGTERM.
import cluster from 'node:cluster'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import { createApp } from './app'
import { drainable } from './http/drain'
import { whileStarting } from './http/health'
import { collectProcessMetrics, watchPool } from './http/metrics'
import { createLogger } from './logger'
import { sweepExpiredKeys } from './http/idempotency'
import { ConfigError, loadConfig, type Config } from './config'
import { openCounterDatabase, openDatabase, SERVER_HOLDER } from './db/database'
import { serveEmbeddedDatabase } from './db/embedded-socket'
import { migrate } from './db/migrate'
import { DEMO_EMAIL, ensureDemo, type Demo } from './demo'
import { JobStatusNotifications } from './job-statuses/notifications'
import { ScenarioDriver } from './job-statuses/scenarios'
import { Deliverer } from './webhooks/deliverer'
import { sweepFinishedEvents } from './webhooks/query'
import { loadSecretKey } from './webhooks/secrets'

export interface RunningServer {
  readonly url: string
  readonly db: Knex
  readonly server: Server
  readonly demo: Demo | undefined
  /** Stops accepting connections, lets requests in flight finish, then closes the database. */
  close(): Promise<void>
}

export interface StartOptions {
  logger?: Logger
  now?: () => Date
  /** An already open database; the server then leaves closing it to the caller. */
  db?: Knex
}

/** A port another process holds: named at once, before the database is opened or migrated. */
export class PortInUse extends Error {
  constructor(host: string, port: number) {
    super(`port ${port} on ${host} is in use by another process; set PORT to another (0 picks a free one)`)
    this.name = 'PortInUse'
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? new PortInUse(host, port) : error))
    server.listen(port, host, () => resolve())
  })
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config)
  const now = options.now ?? (() => new Date())
  // The port first: taken, it fails at once; bound, it says "starting" while the database opens and migrates.
  let handle: RequestListener = whileStarting(config.unavailableRetryAfter)
  const server = createServer((req, res) => handle(req, res))
  await listen(server, config.port, config.host)
  let db: Knex | undefined
  try {
    db = options.db ?? openDatabase(config, { logger, holder: SERVER_HOLDER })
    return await serve({ config, options, logger, now, server, db, ready: (listener) => (handle = listener) })
  } catch (error) {
    server.close()
    if (!options.db) await db?.destroy()
    throw error
  }
}

interface Serving {
  config: Config
  options: StartOptions
  logger: Logger
  now: () => Date
  server: Server
  db: Knex
  /** Hands the port to the application once everything is ready. */
  ready(listener: RequestListener): void
}

async function serve({ config, options, logger, now, server, db, ready }: Serving): Promise<RunningServer> {
  const counters = options.db ? options.db : openCounterDatabase(config, db, logger)
  const unwatch = [watchPool('main', db), ...(counters === db ? [] : [watchPool('counters', counters)])]
  const applied = await migrate(db, { onStep: (migration) => logger.info({ migration }, 'applying migration') })
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated')
  const demo = config.demo ? await ensureDemo(db, now) : undefined
  // The command-line tool and psql reach the embedded database through the server that holds it.
  const socket = options.db || config.databaseUrl !== undefined || config.dataDir === 'memory://' ? undefined : await serveEmbeddedDatabase(db, config.dataDir, logger)

  const { port } = server.address() as AddressInfo
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  const baseUrl = config.publicUrl ?? url
  const notifications = new JobStatusNotifications(db, config.databaseUrl, logger)
  await notifications.start()
  const { key: webhookKey, fromFile } = await loadSecretKey(config)
  if (fromFile && config.databaseUrl !== undefined) {
    logger.warn({ file: fromFile }, 'WEBHOOK_SECRET_KEY is not set: webhook secrets are sealed with this file\'s key; every server on this database needs the same key')
  }
  const deliverer = new Deliverer({
    db, now, logger, key: webhookKey, baseUrl: () => baseUrl,
    timeoutMs: config.webhookTimeout * 1000, retryBaseMs: config.webhookRetryBase, allow: config.webhookAllow,
  })
  const unwatchEvents = notifications.onWebhookEvents(() => deliverer.wake())
  collectProcessMetrics()
  const app = createApp({ db, counters, config, logger, now, baseUrl: () => baseUrl, notifications, webhookKey, wakeDeliveries: () => deliverer.wake() })
  const scenarios = new ScenarioDriver(db, now, logger)
  const connections = drainable(server)
  ready((req, res) => {
    connections.admit(req, res)
    app(req, res)
  })
  scenarios.start()
  deliverer.start()
  const keys = { now, ttlSeconds: config.idempotencyKeyTtl }
  const sweep = setInterval(() => {
    sweepExpiredKeys(db, keys).catch((error: unknown) => logger.warn({ err: error }, 'expired idempotency keys not swept; next try in 10 minutes'))
    sweepFinishedEvents(db, new Date(now().getTime() - config.webhookRetentionDays * 86_400_000)).catch((error: unknown) =>
      logger.warn({ err: error }, 'finished webhook events not swept; next try in 10 minutes'),
    )
  }, 600_000).unref()

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      const drained = connections.drain(config.shutdownTimeout * 1000)
      // Deliveries in flight end by their own deadline, beside the drain.
      unwatchEvents()
      const delivered = deliverer.stop()
      // Watchers' streams never end by themselves: end them so the drain can finish.
      await notifications.stop()
      await drained
      clearInterval(sweep)
      await scenarios.stop()
      await delivered
      await socket?.close()
      for (const stop of unwatch) stop()
      if (counters !== db) await counters.destroy()
      if (!options.db) await db.destroy()
    })()
    return closing
  }
  return { url, db, server, demo, close }
}

/**
 * The lines a person reads at start, on stderr: stdout carries the logs only, so JSON lines there
 * stay parseable by a collector.
 */
function printWelcome(demo: Demo | undefined, baseUrl: string): void {
  const lines = [`pco-job-status is listening on ${baseUrl}`]
  if (demo) {
    lines.push(
      '',
      `Demo organization ${demo.organizationId}. A bearer token for it (every scope: calendar, jobs, webhooks), valid for 30 days:`,
      '',
      `  curl -H "Authorization: Bearer ${demo.bearerToken}" ${baseUrl}/calendar/v2/job_statuses`,
      '',
      `Browse it at ${baseUrl}/explorer/ (sign in as ${DEMO_EMAIL}, password ${demo.password}, new every start);`,
      `the reference is at ${baseUrl}/docs; docs/webhooks.md subscribes a receiver on this machine.`,
    )
    if (demo.personalAccessToken) {
      const { appId, secret } = demo.personalAccessToken
      lines.push('', 'A personal access token (shown once, now only):', '', `  curl -u ${appId}:${secret} ${baseUrl}/calendar/v2`)
    }
  }
  process.stderr.write(`${lines.join('\n')}\n\n`)
}

/**
 * Listens for SIGTERM and SIGINT from the first moment, and stops through the function it is given
 * once the server has started. Registered only after the welcome, a signal sent by whoever read it
 * could arrive first and kill the process before the embedded database was closed.
 */
function stopOnSignals(): (close: () => Promise<void>) => void {
  let close: (() => Promise<void>) | undefined
  let signalled: string | undefined
  let stopping = false
  const stop = () => {
    // `npm start` passes a terminal's Ctrl-C on to a server that got it already: one stop is enough.
    if (stopping || !close || !signalled) return
    stopping = true
    process.stderr.write(`${signalled}: finishing requests in flight\n`)
    close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      signalled ??= signal
      stop()
    })
  }
  return (closer) => {
    close = closer
    stop()
  }
}

/** One process: the server itself. */
async function runSingle(config: Config): Promise<void> {
  const stopWith = stopOnSignals()
  const running = await startServer(config)
  stopWith(running.close)
  printWelcome(running.demo, config.publicUrl ?? running.url)
}

/** WORKERS > 1: this process migrates and seeds once, then forks workers that share the port. */
async function runPrimary(config: Config): Promise<void> {
  const stopWith = stopOnSignals()
  // The workers bind the port; a probe here names a port in use before any migration runs.
  const probe = createServer()
  await listen(probe, config.port, config.host)
  await new Promise((resolve) => probe.close(resolve))
  const db = openDatabase(config)
  await migrate(db)
  const demo = config.demo ? await ensureDemo(db, () => new Date()) : undefined
  await db.destroy()

  let stopping = false
  const urls: string[] = []
  const fork = () => {
    const worker = cluster.fork()
    worker.on('message', (message: { listening?: string }) => {
      if (message.listening && urls.push(message.listening) === config.workers) printWelcome(demo, config.publicUrl ?? message.listening)
    })
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`)
    fork()
  })
  for (let i = 0; i < config.workers; i++) fork()
  stopWith(async () => {
    stopping = true
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined)
    await Promise.all(workers.map((worker) => new Promise<void>((resolve) => {
      worker.once('exit', () => resolve())
      worker.process.kill('SIGTERM')
    })))
  })
}

async function runWorker(config: Config): Promise<void> {
  // The primary asks workers to stop with SIGTERM.
  const stopWith = stopOnSignals()
  const running = await startServer({ ...config, demo: false })
  stopWith(running.close)
  process.send?.({ listening: running.url })
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  if (config.workers === 1) await runSingle(config)
  else if (cluster.isPrimary) await runPrimary(config)
  else await runWorker(config)
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`failed to start: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
