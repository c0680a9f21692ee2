// Reads job statuses, always scoped to one organization and in a total order.
import type { Knex } from 'knex'
import { runPrepared } from '../db/prepared'
import type { Page } from '../jsonapi/pagination'
import { DEEP_OFFSET, type PositionCache } from './positions'

export interface JobStatusRow {
  id: string
  organization_id: string
  status: string
  message: string | null
  errors: unknown
  retries: number
  started_at: Date | null
  created_at: Date
  updated_at: Date
  kind: string | null
  total: number | null
  progress: number
  created_by: string | null
  completed_at: Date | null
  failed_at: Date | null
  outputs: unknown
  results_count: number
  /** Present on rows read for the Calendar surface (see ROW_VERSION). */
  row_version?: string
}

export const COLUMNS = [
  'id', 'organization_id', 'status', 'message', 'errors', 'retries', 'started_at', 'created_at', 'updated_at',
  'kind', 'total', 'progress', 'created_by', 'completed_at', 'failed_at', 'outputs', 'results_count',
]

/**
 * A row's version for reuse of its serialization: xmin names the transaction that wrote this version
 * of the row, so it changes at every update by anyone, whether or not the writer set updated_at.
 */
const ROW_VERSION = `xmin::text || '@' || (extract(epoch FROM updated_at) * 1000000)::bigint AS row_version`
const READ_COLUMNS = `${COLUMNS.join(', ')}, ${ROW_VERSION}`

/** The columns each attribute is read from (resource.ts); id, organization and version are always read. */
const ATTRIBUTE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  runtime: ['started_at', 'completed_at', 'failed_at', 'status', 'updated_at'],
  results: [],
}

/**
 * The select list for rows that will show `attributes`: a page of PCO's five attributes reads 7 of
 * the 17 columns, which is less for PostgreSQL to send and for pg to parse (dates above all).
 */
export function columnsFor(attributes: readonly string[]): string {
  const columns = new Set(['id', 'organization_id'])
  for (const name of attributes) for (const column of ATTRIBUTE_COLUMNS[name] ?? [name]) columns.add(column)
  return `${[...columns].join(', ')}, ${ROW_VERSION}`
}

// pg returns bigint as a string and PGlite as a number: ids leave this module as strings either way.
export function fromDatabase(row: Record<string, unknown>): JobStatusRow {
  return {
    ...(row as unknown as JobStatusRow),
    id: String(row.id),
    organization_id: String(row.organization_id),
    created_by: row.created_by === null || row.created_by === undefined ? null : String(row.created_by),
  }
}

export interface ListFilter {
  status?: string[]
  startedAt?: Array<{ operator: '>' | '>=' | '<' | '<='; value: Date }>
}

export interface ListOrder {
  column: 'started_at' | 'created_at' | 'id'
  descending: boolean
}

export const DEFAULT_ORDER: ListOrder = { column: 'id', descending: false }

/** Id order without filters: the pages that cached positions and one-statement reads serve. */
export function isPlainList(filter: ListFilter, order: ListOrder): boolean {
  return !filter.status && !filter.startedAt && order.column === 'id' && !order.descending
}

/** A filtered or reordered page: plain SQL over the (organization_id, column, id) indexes, total order by id. */
async function listFiltered(db: Knex, organizationId: string, filter: ListFilter, order: ListOrder, page: Page, columns: string) {
  const scoped = () => {
    const query = db('job_statuses').where({ organization_id: organizationId })
    if (filter.status) query.whereIn('status', filter.status)
    for (const { operator, value } of filter.startedAt ?? []) query.where('started_at', operator, value)
    return query
  }
  const direction = order.descending ? 'desc' : 'asc'
  const rowsQuery = scoped().select(db.raw(columns)).limit(page.perPage).offset(page.offset)
  if (order.column !== 'id') rowsQuery.orderByRaw(`${order.column} ${direction} NULLS LAST`)
  rowsQuery.orderBy('id', direction)
  const [rows, counted] = await Promise.all([rowsQuery, scoped().count({ count: '*' }).first()])
  return { rows: rows.map(fromDatabase), totalCount: Number(counted?.count ?? 0) }
}

export interface PageRow extends Record<string, unknown> {
  // Not `total`: a job's own total is one of its columns.
  organization_total: string | number | null
  organization_version: string | null
  organization_revision: string | null
}

/** Where a plain page's statement starts reading, and the revision of a page its caller holds. */
export interface PageStart {
  /** The id the page starts from or after, 0 for the beginning. */
  fromId: string
  /** Index entries to skip after fromId. */
  skip: number
  limit: number
  held: string | null
  /** The version of the positions fromId came from; none when it starts at the beginning. */
  version?: string
}

/** The nearest cached position before `page` (positions.ts), else the beginning. */
export function pageStart(positions: PositionCache, organizationId: string, page: Page, held: string | undefined): PageStart {
  const anchor = positions.anchor(organizationId, page.offset)
  const start = { limit: page.perPage, held: held ?? null }
  return anchor ? { ...start, fromId: anchor.fromId, skip: anchor.skip, version: anchor.version } : { ...start, fromId: '0', skip: page.offset }
}

/**
 * A plain page's rows and its organization's counts, joined to a row `c` of job_status_counts, with
 * :fromId, :skip, :limit and :held: one page and the organization's total in one statement, so both
 * come from one snapshot. The page's ids are chosen from the (organization_id, id) index first and
 * joined back, which skips rows about ten times faster than OFFSET over whole rows; `fromId` lets a
 * deep page start near its first row. When the organization is still at revision `held`, no row is
 * read: the caller holds the page. The statement the list's requests share (read-batch.ts) runs it too.
 */
export const PAGE_ROWS = (columns: string, input: { fromId: string; skip: string; limit: string; held: string }) => `SELECT ${columns} FROM job_statuses
       WHERE c.revision IS DISTINCT FROM ${input.held}
         AND id IN (SELECT id FROM job_statuses WHERE organization_id = c.organization_id AND id >= ${input.fromId}
                    ORDER BY id OFFSET ${input.skip} LIMIT ${input.limit})`

export const PAGE_COUNTS = 'c.total AS organization_total, c.version::text AS organization_version, c.revision::text AS organization_revision'

/** A plain page, with the version of its organization's set of ids it was read at (positions.ts). */
export type PlainPage = ListedPage & { version?: string }

/** A plain page from `start`, in one statement (PAGE_ROWS and PAGE_COUNTS). */
export async function readPage(db: Knex, organizationId: string, start: PageStart, columns: string): Promise<PlainPage> {
  const sql = `SELECT ${PAGE_COUNTS}, j.*
     FROM job_status_counts AS c
     LEFT JOIN LATERAL (${PAGE_ROWS(columns, { fromId: ':fromId::bigint', skip: ':skip::bigint', limit: ':limit::integer', held: ':held::bigint' })}) AS j ON true
     WHERE c.organization_id = :organizationId
     ORDER BY j.id`
  const { fromId, skip, limit, held } = start
  return pageOf(await runPrepared<PageRow>(db, sql, { organizationId, fromId, skip, limit, held }), start)
}

/** The page that PAGE_ROWS and PAGE_COUNTS read, from their rows (one with no job when the page is empty or held). */
export function pageOf(rows: PageRow[], { held }: Pick<PageStart, 'held'>): PlainPage {
  const first = rows[0]
  const revision = first?.organization_revision ?? undefined
  return {
    totalCount: first?.organization_total != null ? Number(first.organization_total) : 0,
    version: first?.organization_version ?? undefined,
    revision,
    unchanged: held !== null && revision === held,
    rows: rows.filter((row) => row.id !== null && row.id !== undefined).map(fromDatabase),
  }
}

export interface ListedPage {
  rows: JobStatusRow[]
  totalCount: number
  /** The organization's revision the page was read at; undefined for a filtered or reordered list. */
  revision?: string
  /** The organization is still at the revision the caller held: `rows` is empty, the held page stands. */
  unchanged?: boolean
}

/**
 * A page of an organization's job statuses in id order, exactly as `ORDER BY id LIMIT … OFFSET …` would
 * give it. With `held`, the revision of a page the caller already has, rows are read only if the
 * organization changed since.
 */
export async function listJobStatuses(
  db: Knex,
  positions: PositionCache,
  organizationId: string,
  page: Page,
  filter: ListFilter = {},
  order: ListOrder = DEFAULT_ORDER,
  { columns = READ_COLUMNS, held }: { columns?: string; held?: string } = {},
): Promise<ListedPage> {
  if (!isPlainList(filter, order)) {
    return listFiltered(db, organizationId, filter, order, page, columns)
  }
  const start = pageStart(positions, organizationId, page, held)
  return settlePage(db, positions, organizationId, page, columns, start, await readPage(db, organizationId, start, columns))
}

/**
 * A plain page read from `start`, made exact: read again from the beginning when it started at
 * positions that no longer hold (a row was inserted or deleted since they were taken), and the
 * positions taken afresh for the next deep page.
 */
export async function settlePage(
  db: Knex, positions: PositionCache, organizationId: string, page: Page, columns: string, start: PageStart, read: PlainPage,
): Promise<ListedPage> {
  if (start.version !== undefined && (read.unchanged || read.version === start.version)) return read
  const result = start.version === undefined ? read : await readPage(db, organizationId, { ...start, fromId: '0', skip: page.offset, version: undefined }, columns)
  if (page.offset >= DEEP_OFFSET && result.version !== undefined) await positions.refresh(organizationId)
  return result
}

/** How many of a job's results a document of the job carries; the rest are paged at /jobs/v1/…/results. */
export const RESULTS_SHOWN = 100

/** The first `limit` per-task results of each job, in the order they were appended. */
export async function listResults(db: Knex, jobStatusIds: readonly string[], limit = RESULTS_SHOWN): Promise<Map<string, ResultRow[]>> {
  const byJob = new Map<string, ResultRow[]>(jobStatusIds.map((id) => [id, []]))
  if (jobStatusIds.length === 0) return byJob
  // One index range per job (job_status_id, id), however many results a job has.
  const { rows } = await db.raw(
    `SELECT r.* FROM unnest(?::bigint[]) AS j(id)
     CROSS JOIN LATERAL (SELECT * FROM job_status_results WHERE job_status_id = j.id ORDER BY id LIMIT ?) AS r
     ORDER BY r.job_status_id, r.id`,
    [[...jobStatusIds], limit],
  )
  for (const row of rows as Array<Record<string, unknown>>) byJob.get(String(row.job_status_id))?.push(toResult(row))
  return byJob
}

/** A result as a resource of its own: `id` is its row's, `taskId` the worker's id for the task. */
export type PagedResult = Omit<ResultRow, 'id'> & { id: string; taskId: string | null; createdAt: Date }

/** One page of a job's results, in append order. */
export async function pageResults(db: Knex, jobStatusId: string, offset: number, limit: number): Promise<PagedResult[]> {
  const rows = await db('job_status_results').where({ job_status_id: jobStatusId }).orderBy('id').offset(offset).limit(limit).select('*')
  return rows.map((row: Record<string, unknown>) => {
    const { id: taskId, ...result } = toResult(row)
    return { ...result, taskId, id: String(row.id), createdAt: row.created_at as Date }
  })
}

export interface ResultRow {
  id: string | null
  /** Whether the worker sent the task id as a JSON number (Zendesk gives it back that way). */
  idIsNumber: boolean
  action: string | null
  success: boolean | null
  status: string | null
  errors: unknown
  title: string | null
}

function toResult(row: Record<string, unknown>): ResultRow {
  return {
    id: (row.task_id as string | null) ?? null,
    idIsNumber: row.task_id_is_number === true,
    action: (row.action as string | null) ?? null,
    success: (row.success as boolean | null) ?? null,
    status: (row.status as string | null) ?? null,
    errors: row.errors ?? null,
    title: (row.title as string | null) ?? null,
  }
}

export async function findJobStatus(db: Knex, organizationId: string, id: string, columns = READ_COLUMNS): Promise<JobStatusRow | undefined> {
  const row = await db('job_statuses').where({ organization_id: organizationId, id }).first(db.raw(columns))
  return row && fromDatabase(row)
}

const BULK_CHUNK = 20_000

/**
 * Inserts `count` job statuses spread over every status, generated inside the database by
 * generate_series: one statement per 20,000 rows instead of a round trip per row, and
 * `onProgress` told the rows done after each.
 */
export interface BulkInsertOptions {
  /** The person the jobs are created by (Xplenty's owner and creator); none by default. */
  createdBy?: string
  onProgress?: (done: number) => void
}

export async function insertJobStatuses(db: Knex, organizationId: string, count: number, { createdBy, onProgress }: BulkInsertOptions = {}): Promise<void> {
  for (let done = 0; done < count; done += BULK_CHUNK) {
    const size = Math.min(BULK_CHUNK, count - done)
    // Consistent as a real job's would be: created ≤ started ≤ completed or failed ≤ now; a job that
    // works through tasks has a total, and its progress matches its message.
    await db.raw(
      `INSERT INTO job_statuses (organization_id, created_by, status, message, errors, retries, total, progress,
                                 created_at, started_at, completed_at, failed_at, updated_at)
       SELECT :organizationId, :createdBy::bigint,
              s.status,
              CASE s.status
                WHEN 'queued' THEN 'Waiting for a worker'
                WHEN 'working' THEN 'Processing ' || (g % 100) || '%'
                WHEN 'stopping' THEN 'Stopping at the next task'
                WHEN 'completed' THEN 'Finished ' || (g % 500 + 1) || ' tasks'
                WHEN 'failed' THEN 'Task ' || (g % 50 + 1) || ' failed'
                ELSE 'Killed by request'
              END,
              CASE WHEN s.status = 'failed'
                THEN jsonb_build_object('base', jsonb_build_array('Task ' || (g % 50 + 1) || ' could not be saved'))
                ELSE '{}'::jsonb END,
              CASE WHEN s.status = 'failed' THEN g % 3 ELSE 0 END,
              CASE s.status
                WHEN 'queued' THEN NULL
                WHEN 'completed' THEN g % 500 + 1
                WHEN 'failed' THEN g % 50 + 1 + g % 7
                ELSE 100 END,
              CASE s.status
                WHEN 'queued' THEN 0
                WHEN 'completed' THEN g % 500 + 1
                WHEN 'failed' THEN g % 50
                ELSE g % 100 END,
              t.created_at,
              CASE WHEN s.status = 'queued' THEN NULL ELSE t.created_at + interval '30 seconds' END,
              CASE WHEN s.status = 'completed' THEN t.created_at + interval '50 seconds' END,
              CASE WHEN s.status = 'failed' THEN t.created_at + interval '50 seconds' END,
              now()
       FROM generate_series(:from::bigint, :to::bigint) AS g,
            LATERAL (SELECT (ARRAY['queued','working','stopping','completed','failed','killed'])[1 + (g % 6)::int] AS status) AS s,
            LATERAL (SELECT now() - make_interval(secs => (:total - g) * 37 + 60) AS created_at) AS t`,
      { organizationId, createdBy: createdBy ?? null, total: count, from: done + 1, to: done + size },
    )
    onProgress?.(done + size)
  }
}
