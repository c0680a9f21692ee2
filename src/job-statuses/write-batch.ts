// Progress reports and PATCHes that arrive together: applied by one statement instead of one each.
import type { Knex } from 'knex'
import { changeJobStatuses, refusal, type JobChange } from './commands'
import type { JobStatusRow } from './query'

interface Pending {
  change: JobChange
  resolve(row: JobStatusRow | undefined): void
  reject(error: unknown): void
}

/** Changes one statement applies at most; more go in another, at the same time. */
const MAX_BATCH = 64

/**
 * The writes that arrive in one turn of the event loop share one UPDATE (commands.ts), so under load
 * PostgreSQL commits, fires the statement triggers (counts, revisions, webhook events) and answers
 * once for several writes, and this process sends one statement instead of several. Each write is
 * still its own change, seen by its own job's watchers and webhooks: when a turn brings k writes to
 * one job, they go in k statements, one after another, in arrival order. A write is acknowledged
 * only when its statement has committed.
 */
export class WriteBatcher {
  private queue: Pending[] = []

  constructor(
    private readonly db: Knex,
    private readonly now: () => Date,
  ) {}

  /**
   * Applies `change`, with `db` when it is a transaction (an Idempotency-Key's, whose response must
   * commit with it), else in the next batch. The job as changed, undefined when it is missing, or
   * the refusal thrown.
   */
  async apply(db: Knex, change: JobChange): Promise<JobStatusRow | undefined> {
    const row = db.isTransaction ? (await changeJobStatuses(db, [change], this.now()))[0] : await this.enqueue(change)
    return row ?? refusal(db, change)
  }

  private enqueue(change: JobChange): Promise<JobStatusRow | undefined> {
    return new Promise((resolve, reject) => {
      // After the I/O of this turn: every write read from the sockets in it joins the batch.
      if (this.queue.length === 0) setImmediate(() => void this.flush())
      this.queue.push({ change, resolve, reject })
    })
  }

  private async flush(): Promise<void> {
    const queue = this.queue
    this.queue = []
    const rounds: Pending[][] = []
    const seen = new Map<string, number>()
    for (const pending of queue) {
      const key = `${pending.change.organizationId}:${pending.change.id}`
      const round = seen.get(key) ?? 0
      seen.set(key, round + 1)
      ;(rounds[round] ??= []).push(pending)
    }
    for (const round of rounds) {
      const batches: Array<Promise<void>> = []
      for (let start = 0; start < round.length; start += MAX_BATCH) batches.push(this.run(round.slice(start, start + MAX_BATCH)))
      await Promise.all(batches)
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const rows = await changeJobStatuses(this.db, batch.map((pending) => pending.change), this.now())
      batch.forEach((pending, i) => pending.resolve(rows[i]))
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error)
      // One change the database refuses must not fail the others: each is tried alone.
      await Promise.all(batch.map((pending) => this.run([pending])))
    }
  }
}
