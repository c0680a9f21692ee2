// The JobStatus resource: its type, PCO's five attributes, the extra ones served on request, and its links.
import type { ResourceType } from '../jsonapi/document'
import { formatTimestamp } from '../jsonapi/format'
import { TERMINAL, type Status } from './lifecycle'
import type { JobStatusRow, ResultRow } from './query'

export const JOB_STATUSES_PATH = '/calendar/v2/job_statuses'

export type JobStatusWithResults = JobStatusRow & { results?: ResultRow[] }

/** Seconds from start to finish, or to now while running; null before a job starts. */
export function runtimeOf(row: JobStatusRow, now = new Date()): number | null {
  if (!row.started_at) return null
  const finished = row.completed_at ?? row.failed_at ?? (TERMINAL.includes(row.status as Status) ? row.updated_at : now)
  return Math.max(0, Math.floor((new Date(finished).getTime() - new Date(row.started_at).getTime()) / 1000))
}

export const jobStatusResource: ResourceType<JobStatusWithResults> = {
  type: 'JobStatus',
  attributes: ['errors', 'message', 'retries', 'started_at', 'status'],
  // Served only when named in fields[JobStatus] (wire contract §1), so PCO clients see PCO's shape.
  extraAttributes: [
    'completed_at', 'created_at', 'created_by', 'failed_at', 'kind', 'outputs', 'progress', 'results', 'results_count',
    'runtime', 'total', 'updated_at',
  ],
  links: (row, baseUrl) => ({ self: `${baseUrl}${JOB_STATUSES_PATH}/${row.id}` }),
  toAttributes: (row) => ({
    errors: row.errors ?? {},
    message: row.message,
    retries: row.retries,
    started_at: formatTimestamp(row.started_at),
    status: row.status,
    completed_at: formatTimestamp(row.completed_at),
    created_at: formatTimestamp(row.created_at),
    created_by: row.created_by,
    failed_at: formatTimestamp(row.failed_at),
    kind: row.kind,
    outputs: row.outputs ?? [],
    progress: row.progress,
    results: row.results ?? [],
    results_count: row.results_count,
    runtime: runtimeOf(row),
    total: row.total,
    updated_at: formatTimestamp(row.updated_at),
  }),
}
