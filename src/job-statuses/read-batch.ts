// Known callers' requests that arrive together: their credentials checked and counted by one statement.
import type { Knex } from 'knex'
import { TOKEN_IN_FORCE } from '../auth/credentials'
import { checkedWindow } from '../auth/known-tokens'
import type { PresentedCredential } from '../auth/presented'
import { COUNT_REQUEST, windowBindings, type Window } from '../auth/rate-limit'
import { runPrepared } from '../db/prepared'
import { fromDatabase, PAGE_COUNTS, PAGE_ROWS, pageOf, type JobStatusRow, type PageRow, type PageStart, type PlainPage } from './query'

export interface Checked {
  /** The caller's rate-limit window with this request counted; undefined when the token is no longer valid. */
  window?: Window
  /** When the request was counted. */
  at: Date
}

export interface CheckedRead extends Checked {
  /** The job status, if the caller's organization has it. */
  row?: JobStatusRow
}

export interface CheckedPage extends Checked {
  /** The page as PAGE_ROWS read it from `start` (query.ts settlePage makes it exact); none for a token no longer valid. */
  page?: PlainPage
}

/** What the statement checks of a credential: a bearer token's digest, or a personal access token's app id and secret's digest. */
export type CheckedCredential = Pick<PresentedCredential, 'digest' | 'appId'>

interface Pending {
  credential: CheckedCredential
  organizationId: string
  /** The job to read (none for a count alone), or the page. */
  what: { id: string | null } | { page: PageStart }
  resolve(rows: Array<Record<string, unknown>>, at: Date): void
  reject(error: unknown): void
}

/** One of the two shared statements: its text for the columns shown, and what each request binds to it. */
interface Statement {
  text(columns: string): string
  bindings(batch: Pending[]): Record<string, unknown[]>
}

/** The statement's text per columns shown: built once, as the requests that share it repeat it. */
function memoized(build: (columns: string) => string): (columns: string) => string {
  const texts = new Map<string, string>()
  return (columns) => {
    let text = texts.get(columns)
    if (text === undefined) texts.set(columns, (text = build(columns)))
    return text
  }
}

/** Reads one statement answers at most; more wait for the next. */
const MAX_BATCH = 64

/**
 * Every request of a known caller re-checks its token (still there, unrevoked, unexpired) and is
 * counted for the rate limit; a read also reads its job, a list its page. The requests that arrive
 * in one turn of the event loop share one statement (one for reads and counts, one for pages). Every
 * request still gets its own place in its person's count, in arrival order: a person's k requests
 * add k to the window at once and are numbered count - k + 1 … count. Under load this spends one write
 * transaction and one round trip on several requests instead of one each, and a person's concurrent
 * requests stop queueing on their rate-limit row.
 */
export class ReadBatcher {
  /** Requests waiting for the next turn, by statement and then by the columns they show. */
  private readonly pending = new Map<Statement, Map<string, Pending[]>>([[READS, new Map()], [PAGES, new Map()]])

  constructor(
    private readonly db: Knex,
    private readonly now: () => Date,
    private readonly periodSeconds: number,
  ) {}

  /** Re-checks `credential` and counts the request, with nothing to read: a write's check. */
  count(credential: CheckedCredential, organizationId: string): Promise<Checked> {
    return this.enqueue(READS, 'id', { credential, organizationId, what: { id: null } }, (_rows, at) => ({ at }))
  }

  /** Reads job `id` of `organizationId` (showing `columns`) for `credential`. */
  read(credential: CheckedCredential, organizationId: string, id: string, columns: string): Promise<CheckedRead> {
    return this.enqueue(READS, columns, { credential, organizationId, what: { id } }, (rows, at) => {
      const [row] = rows
      return { row: row && row.id !== null ? fromDatabase(row) : undefined, at }
    })
  }

  /** Reads a plain page of `organizationId` from `start` (showing `columns`) for `credential`. */
  page(credential: CheckedCredential, organizationId: string, start: PageStart, columns: string): Promise<CheckedPage> {
    return this.enqueue(PAGES, columns, { credential, organizationId, what: { page: start } }, (rows, at) => ({ page: pageOf(rows as PageRow[], start), at }))
  }

  private enqueue<T extends Checked>(
    statement: Statement, columns: string, request: Pick<Pending, 'credential' | 'organizationId' | 'what'>,
    answer: (rows: Array<Record<string, unknown>>, at: Date) => T,
  ): Promise<T> {
    const waiting = this.pending.get(statement)!
    return new Promise((resolve, reject) => {
      let queue = waiting.get(columns)
      if (!queue) {
        queue = []
        waiting.set(columns, queue)
        // After the I/O of this turn: every request read from the sockets in it joins the batch.
        setImmediate(() => this.flush(statement, columns))
      }
      queue.push({
        ...request, reject,
        resolve: (rows, at) => {
          const window = checkedWindow(rows[0])
          // Nothing read is given out for a token no longer in force.
          resolve(window ? { ...answer(rows, at), window } : ({ at } as T))
        },
      })
    })
  }

  private flush(statement: Statement, columns: string): void {
    const waiting = this.pending.get(statement)!
    const queue = waiting.get(columns)
    waiting.delete(columns)
    if (!queue) return
    for (let start = 0; start < queue.length; start += MAX_BATCH) {
      const batch = queue.slice(start, start + MAX_BATCH)
      this.run(statement, columns, batch).catch((error: unknown) => {
        for (const request of batch) request.reject(error)
      })
    }
  }

  private async run(statement: Statement, columns: string, batch: Pending[]): Promise<void> {
    const at = this.now()
    const rows = await runPrepared<Record<string, unknown>>(
      this.db,
      statement.text(columns),
      windowBindings(at, this.periodSeconds, {
        digests: batch.map((request) => request.credential.digest),
        apps: batch.map((request) => request.credential.appId),
        organizations: batch.map((request) => request.organizationId),
        ...statement.bindings(batch),
      }),
    )
    const byPlace = new Map<number, Array<Record<string, unknown>>>()
    for (const row of rows) {
      const n = Number(row.n)
      let found = byPlace.get(n)
      if (!found) byPlace.set(n, (found = []))
      found.push(row)
    }
    batch.forEach((request, i) => request.resolve(byPlace.get(i + 1) ?? [], at))
  }
}

/**
 * The requests' credentials checked and each request counted, from :digests, :apps and
 * :organizations and the input columns `inputs` (unnested from `arrays`); the statements below add
 * what each reads. A request with an app id presents a personal access token (its secret's digest),
 * any other a bearer token.
 */
const CHECKED = (inputs: string, arrays: string) => `WITH input AS (
    SELECT * FROM unnest(:digests::text[], :apps::text[], :organizations::bigint[], ${arrays})
      WITH ORDINALITY AS i(digest, app_id, organization_id, ${inputs}, n)
  ), callers AS (
    SELECT i.n, c.person_id,
           row_number() OVER (PARTITION BY c.person_id ORDER BY i.n) AS place,
           count(*) OVER (PARTITION BY c.person_id) AS requests
    FROM input AS i CROSS JOIN LATERAL (
      SELECT t.person_id FROM oauth_access_tokens AS t
       WHERE i.app_id IS NULL AND t.token_digest = i.digest AND ${TOKEN_IN_FORCE}
      UNION ALL
      SELECT t.person_id FROM personal_access_tokens AS t
       WHERE t.app_id = i.app_id AND t.secret_digest = i.digest AND t.revoked_at IS NULL
    ) AS c
  ), counted AS (
    -- In key order, so two batches that count the same people lock their rows in the same order.
    ${COUNT_REQUEST("SELECT 'person:' || person_id, :now::timestamptz, count(*) FROM callers GROUP BY person_id ORDER BY 1")}
    RETURNING key, count, window_started_at
  )
  SELECT i.n, counted.count - k.requests + k.place AS caller_count, counted.window_started_at AS caller_window_started_at`

/** Each request's job, by :ids (none for a count alone). Nothing is read for a token no longer in force. */
const readText = (columns: string) => `${CHECKED('job_id', ':ids::bigint[]')}, j.*
  FROM input AS i
  LEFT JOIN callers AS k ON k.n = i.n
  LEFT JOIN counted ON counted.key = 'person:' || k.person_id
  LEFT JOIN LATERAL (
    SELECT ${columns} FROM job_statuses WHERE k.person_id IS NOT NULL AND organization_id = i.organization_id AND id = i.job_id
  ) AS j ON true
  ORDER BY i.n`

/** Each request's page (query.ts PAGE_ROWS), from :fromIds, :skips, :limits and :helds. */
const pageText = (columns: string) => `${CHECKED('from_id, skip, page_limit, held', ':fromIds::bigint[], :skips::bigint[], :limits::integer[], :helds::bigint[]')},
         ${PAGE_COUNTS}, j.*
  FROM input AS i
  LEFT JOIN callers AS k ON k.n = i.n
  LEFT JOIN counted ON counted.key = 'person:' || k.person_id
  LEFT JOIN job_status_counts AS c ON k.person_id IS NOT NULL AND c.organization_id = i.organization_id
  LEFT JOIN LATERAL (${PAGE_ROWS(columns, { fromId: 'i.from_id', skip: 'i.skip', limit: 'i.page_limit', held: 'i.held' })}) AS j ON true
  ORDER BY i.n, j.id`

const READS: Statement = {
  text: memoized(readText),
  bindings: (batch) => ({ ids: batch.map((request) => ('id' in request.what ? request.what.id : null)) }),
}

const PAGES: Statement = {
  text: memoized(pageText),
  bindings: (batch) => {
    const pages = batch.map((request) => ('page' in request.what ? request.what.page : undefined))
    return {
      fromIds: pages.map((page) => page?.fromId ?? null),
      skips: pages.map((page) => page?.skip ?? null),
      limits: pages.map((page) => page?.limit ?? null),
      helds: pages.map((page) => page?.held ?? null),
    }
  },
}
