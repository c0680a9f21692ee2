// Known callers' requests that arrive together: their tokens checked and counted by one statement.
import type { Knex } from 'knex'
import { TOKEN_IN_FORCE } from '../auth/credentials'
import { checkedWindow } from '../auth/known-tokens'
import { COUNT_REQUEST, windowBindings, type Window } from '../auth/rate-limit'
import { runPrepared } from '../db/prepared'
import { fromDatabase, type JobStatusRow } from './query'

export interface CheckedRead {
  /** The job status, if the caller's organization has it. */
  row?: JobStatusRow
  /** The caller's rate-limit window with this request counted; undefined when the token is no longer valid. */
  window?: Window
  /** When the request was counted. */
  at: Date
}

interface Pending {
  digest: string
  organizationId: string
  id: string | null
  resolve(read: CheckedRead): void
  reject(error: unknown): void
}

/** Reads one statement answers at most; more wait for the next. */
const MAX_BATCH = 64

/**
 * Every request of a known caller re-checks its token (still there, unrevoked, unexpired) and is
 * counted for the rate limit; a read also reads its job. The requests that arrive in one turn of the
 * event loop share one statement. Every request still gets its own place in its person's count, in
 * arrival order: a person's k requests add k to the window at once and are numbered count - k + 1 …
 * count. Under load this spends one write transaction and one round trip on several requests
 * instead of one each, and a person's concurrent requests stop queueing on their rate-limit row.
 */
export class ReadBatcher {
  private readonly pending = new Map<string, Pending[]>()

  constructor(
    private readonly db: Knex,
    private readonly now: () => Date,
    private readonly periodSeconds: number,
  ) {}

  /** Re-checks the token with `digest` and counts the request, with nothing to read. */
  count(digest: string, organizationId: string): Promise<CheckedRead> {
    return this.read(digest, organizationId, null, 'id')
  }

  /** Reads job `id` of `organizationId` (showing `columns`) for the token with `digest`. */
  read(digest: string, organizationId: string, id: string | null, columns: string): Promise<CheckedRead> {
    return new Promise((resolve, reject) => {
      let queue = this.pending.get(columns)
      if (!queue) {
        queue = []
        this.pending.set(columns, queue)
        // After the I/O of this turn: every request read from the sockets in it joins the batch.
        setImmediate(() => this.flush(columns))
      }
      queue.push({ digest, organizationId, id, resolve, reject })
    })
  }

  private flush(columns: string): void {
    const queue = this.pending.get(columns)
    this.pending.delete(columns)
    if (!queue) return
    for (let start = 0; start < queue.length; start += MAX_BATCH) {
      const batch = queue.slice(start, start + MAX_BATCH)
      this.run(columns, batch).catch((error: unknown) => {
        for (const request of batch) request.reject(error)
      })
    }
  }

  private async run(columns: string, batch: Pending[]): Promise<void> {
    const at = this.now()
    const rows = await runPrepared<Record<string, unknown>>(
      this.db,
      `WITH input AS (
         SELECT * FROM unnest(:digests::text[], :organizations::bigint[], :ids::bigint[])
           WITH ORDINALITY AS i(digest, organization_id, job_id, n)
       ), callers AS (
         SELECT i.n, t.person_id,
                row_number() OVER (PARTITION BY t.person_id ORDER BY i.n) AS place,
                count(*) OVER (PARTITION BY t.person_id) AS requests
         FROM input AS i JOIN oauth_access_tokens AS t ON t.token_digest = i.digest
         WHERE ${TOKEN_IN_FORCE}
       ), counted AS (
         -- In key order, so two batches that count the same people lock their rows in the same order.
         ${COUNT_REQUEST("SELECT 'person:' || person_id, :now::timestamptz, count(*) FROM callers GROUP BY person_id ORDER BY 1")}
         RETURNING key, count, window_started_at
       )
       SELECT i.n, counted.count - c.requests + c.place AS caller_count,
              counted.window_started_at AS caller_window_started_at, j.*
       FROM input AS i
       LEFT JOIN callers AS c ON c.n = i.n
       LEFT JOIN counted ON counted.key = 'person:' || c.person_id
       LEFT JOIN LATERAL (
         -- Nothing is read for a token no longer in force.
         SELECT ${columns} FROM job_statuses
         WHERE c.person_id IS NOT NULL AND organization_id = i.organization_id AND id = i.job_id
       ) AS j ON true
       ORDER BY i.n`,
      windowBindings(at, this.periodSeconds, {
        digests: batch.map((request) => request.digest),
        organizations: batch.map((request) => request.organizationId),
        ids: batch.map((request) => request.id),
      }),
    )
    const byPlace = new Map(rows.map((row) => [Number(row.n), row]))
    batch.forEach((request, i) => {
      const row = byPlace.get(i + 1)
      request.resolve({ row: row && row.id !== null ? fromDatabase(row) : undefined, window: checkedWindow(row), at })
    })
  }
}
