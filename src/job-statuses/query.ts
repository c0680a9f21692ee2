// Reads job statuses, always scoped to one organization and in a total order.
import type { Knex } from 'knex'
import type { Page } from '../jsonapi/pagination'
import { STEP, type PositionCache } from './positions'

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
}

const COLUMNS = ['id', 'organization_id', 'status', 'message', 'errors', 'retries', 'started_at', 'created_at', 'updated_at']

// pg returns bigint as a string and PGlite as a number: ids leave this module as strings either way.
function fromDatabase(row: Record<string, unknown>): JobStatusRow {
  return { ...(row as unknown as JobStatusRow), id: String(row.id), organization_id: String(row.organization_id) }
}

interface PageRow extends Record<string, unknown> {
  total: string | number
  version: string
}

/**
 * One page and the organization's total in one statement, so both come from one snapshot. The page's
 * ids are chosen from the (organization_id, id) index first and joined back, which skips rows about
 * ten times faster than OFFSET over whole rows; `fromId` lets a deep page start near its first row.
 */
async function selectPage(db: Knex, organizationId: string, fromId: string, skip: number, limit: number) {
  const { rows } = await db.raw(
    `SELECT c.total, c.version::text AS version, j.*
     FROM job_status_counts AS c
     LEFT JOIN LATERAL (
       SELECT ${COLUMNS.join(', ')} FROM job_statuses
       WHERE id IN (SELECT id FROM job_statuses WHERE organization_id = c.organization_id AND id >= :fromId
                    ORDER BY id OFFSET :skip LIMIT :limit)
     ) AS j ON true
     WHERE c.organization_id = :organizationId
     ORDER BY j.id`,
    { organizationId, fromId, skip, limit },
  )
  const pageRows = rows as PageRow[]
  const first = pageRows[0]
  return {
    totalCount: first ? Number(first.total) : 0,
    version: first?.version,
    rows: pageRows.filter((row) => row.id !== null).map(fromDatabase),
  }
}

/** A page of an organization's job statuses in id order, exactly as `ORDER BY id LIMIT … OFFSET …` would give it. */
export async function listJobStatuses(
  db: Knex,
  positions: PositionCache,
  organizationId: string,
  page: Page,
): Promise<{ rows: JobStatusRow[]; totalCount: number }> {
  const anchor = positions.anchor(organizationId, page.offset)
  if (anchor) {
    const result = await selectPage(db, organizationId, anchor.fromId, anchor.skip, page.perPage)
    // Positions hold only while no row was inserted or deleted since they were taken.
    if (result.version === anchor.version) return result
  }
  const result = await selectPage(db, organizationId, '0', page.offset, page.perPage)
  if (page.offset >= STEP && result.version !== undefined) await positions.refresh(organizationId)
  return result
}

export async function findJobStatus(db: Knex, organizationId: string, id: string): Promise<JobStatusRow | undefined> {
  const row = await db('job_statuses').where({ organization_id: organizationId, id }).first(COLUMNS)
  return row && fromDatabase(row)
}

const BULK_CHUNK = 100_000

/**
 * Inserts `count` job statuses spread over every status, generated inside the database by
 * generate_series: one statement per 100,000 rows instead of a round trip per row.
 */
export async function insertJobStatuses(db: Knex, organizationId: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += BULK_CHUNK) {
    const size = Math.min(BULK_CHUNK, count - done)
    await db.raw(
      `INSERT INTO job_statuses (organization_id, status, message, errors, retries, started_at, created_at, updated_at)
       SELECT :organizationId,
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
              CASE WHEN s.status = 'queued' THEN NULL
                ELSE now() - make_interval(secs => (:total - g) * 37) END,
              now(), now()
       FROM generate_series(:from::bigint, :to::bigint) AS g,
            LATERAL (SELECT (ARRAY['queued','working','stopping','completed','failed','killed'])[1 + (g % 6)::int] AS status) AS s`,
      { organizationId, total: count, from: done + 1, to: done + size },
    )
  }
}
