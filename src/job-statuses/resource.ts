// The JobStatus resource: its type, its five documented attributes and where it lives.
import type { ResourceType } from '../jsonapi/document'
import { formatTimestamp } from '../jsonapi/format'
import type { JobStatusRow } from './query'

export const JOB_STATUSES_PATH = '/calendar/v2/job_statuses'

export const jobStatusResource: ResourceType<JobStatusRow> = {
  type: 'JobStatus',
  attributes: ['errors', 'message', 'retries', 'started_at', 'status'],
  extraAttributes: [],
  links: (row, baseUrl) => ({ self: `${baseUrl}${JOB_STATUSES_PATH}/${row.id}` }),
  toAttributes: (row) => ({
    errors: row.errors ?? {},
    message: row.message,
    retries: row.retries,
    started_at: formatTimestamp(row.started_at),
    status: row.status,
  }),
}
