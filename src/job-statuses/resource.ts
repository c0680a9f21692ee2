// The JobStatus resource: its type, PCO's five attributes, the extra ones served on request, and its links.
import type { ResourceType } from '../jsonapi/document'
import { formatTimestamp } from '../jsonapi/format'
import { TERMINAL, type Status } from './lifecycle'
import type { JobStatusRow, ResultRow } from './query'

export const JOB_STATUSES_PATH = '/calendar/v2/job_statuses'

export type JobStatusWithResults = JobStatusRow & { results?: ResultRow[] }

/** Seconds from start to finish, or to `now` while running; null before a job starts. */
export function runtimeOf(row: JobStatusRow, now: Date): number | null {
  if (!row.started_at) return null
  const finished = row.completed_at ?? row.failed_at ?? (TERMINAL.includes(row.status as Status) ? row.updated_at : now)
  return Math.max(0, Math.floor((new Date(finished).getTime() - new Date(row.started_at).getTime()) / 1000))
}

/**
 * Whether a document showing `attributes` changes with the clock alone (a running job's runtime
 * grows each second): such a document is never held, and its ETag names the second it was made in.
 */
export const changesWithTime = (attributes: readonly string[]) => attributes.includes('runtime')

export const jobStatusResource: ResourceType<JobStatusWithResults> = {
  type: 'JobStatus',
  fields: {
    errors: (row) => row.errors ?? {},
    message: (row) => row.message,
    retries: (row) => row.retries,
    started_at: (row) => formatTimestamp(row.started_at),
    status: (row) => row.status,
    completed_at: (row) => formatTimestamp(row.completed_at),
    created_at: (row) => formatTimestamp(row.created_at),
    created_by: (row) => row.created_by,
    failed_at: (row) => formatTimestamp(row.failed_at),
    kind: (row) => row.kind,
    outputs: (row) => row.outputs ?? [],
    progress: (row) => row.progress,
    // The id as a string, as every surface but Zendesk's shows it.
    results: (row) => (row.results ?? []).map(({ idIsNumber: _number, ...result }) => result),
    results_count: (row) => row.results_count,
    runtime: (row, now) => runtimeOf(row, now),
    total: (row) => row.total,
    updated_at: (row) => formatTimestamp(row.updated_at),
  },
  // The rest are served only when named in fields[JobStatus] (wire contract §1), so PCO clients see PCO's shape.
  attributes: ['errors', 'message', 'retries', 'started_at', 'status'],
  links: (row, baseUrl) => ({ self: `${baseUrl}${JOB_STATUSES_PATH}/${row.id}` }),
}
