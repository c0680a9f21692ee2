// Tells this process's watchers when a job changed in any process: PostgreSQL LISTEN/NOTIFY, or PGlite's.
import { EventEmitter } from 'node:events'
import type { Knex } from 'knex'
import pg from 'pg'
import type { Logger } from 'pino'
import { applicationName, CONNECTING } from '../db/database'

/** The channel the job_status_changed trigger notifies, with "<organization id>:<job id>". */
export const CHANNEL = 'job_status_changed'

/** The channel the webhook outbox triggers notify when they recorded events (db/migrations). */
export const WEBHOOK_EVENTS_CHANNEL = 'webhook_events_recorded'

/** What a watcher hears: its job changed, anything may have changed (after a reconnect), or the server is stopping. */
export type Change = 'changed' | 'resync' | 'closing'

export class JobStatusNotifications {
  private readonly emitter = new EventEmitter().setMaxListeners(0)
  private client: pg.Client | undefined
  private unlisten: Array<() => Promise<void>> = []
  private stopped = false

  constructor(
    private readonly db: Knex,
    private readonly databaseUrl: string | undefined,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.databaseUrl === undefined) {
      // knex-pglite keeps its PGlite instance on the client; NOTIFY inside it reaches listen() at once.
      const pglite = (this.db.client as { pglite: { listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>> } }).pglite
      this.unlisten.push(await pglite.listen(CHANNEL, (payload) => this.deliver(payload)))
      this.unlisten.push(await pglite.listen(WEBHOOK_EVENTS_CHANNEL, () => this.emitter.emit('webhook-events')))
      return
    }
    await this.connect()
  }

  /** A connection of its own, outside the pool: LISTEN holds it for the life of the process. */
  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: applicationName('pco-job-status-listen'), ...CONNECTING })
    client.on('notification', (message) => {
      if (message.channel === WEBHOOK_EVENTS_CHANNEL) this.emitter.emit('webhook-events')
      else this.deliver(message.payload ?? '')
    })
    client.on('error', () => undefined)
    client.on('end', () => {
      if (this.stopped || this.client !== client) return
      this.client = undefined
      setTimeout(() => void this.reconnect(), 1_000).unref()
    })
    await client.connect()
    await client.query(`LISTEN ${CHANNEL}`)
    await client.query(`LISTEN ${WEBHOOK_EVENTS_CHANNEL}`)
    this.client = client
  }

  private async reconnect(): Promise<void> {
    try {
      await this.connect()
      // Changes made while we were away were not heard: every watcher reads its job again.
      this.emitter.emit('*', 'resync')
      this.emitter.emit('webhook-events')
    } catch {
      if (!this.stopped) setTimeout(() => void this.reconnect(), 1_000).unref()
    }
  }

  private deliver(payload: string): void {
    const [organizationId, id] = payload.split(':')
    this.emitter.emit(`${organizationId}:${id}`, 'changed')
  }

  /** Calls `listener` whenever the job may have changed; returns the unsubscribe function. */
  subscribe(organizationId: string, id: string, listener: (change: Change) => void): () => void {
    const key = `${organizationId}:${id}`
    this.emitter.on(key, listener)
    this.emitter.on('*', listener)
    return () => {
      this.emitter.off(key, listener)
      this.emitter.off('*', listener)
    }
  }

  /** Calls `listener` whenever webhook events may have been recorded, by any process. */
  onWebhookEvents(listener: () => void): () => void {
    this.emitter.on('webhook-events', listener)
    return () => this.emitter.off('webhook-events', listener)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.emitter.emit('*', 'closing')
    for (const unlisten of this.unlisten) await unlisten().catch(() => undefined)
    await this.client?.end().catch(() => undefined)
    this.logger.debug('job status notifications stopped')
  }
}
