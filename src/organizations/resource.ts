// The Organization resource: the root of /calendar/v2, linking to its associations.
import type { ResourceType } from '../jsonapi/document'
import { JOB_STATUSES_PATH } from '../job-statuses/resource'
import type { OrganizationRow } from './query'

export const ORGANIZATION_PATH = '/calendar/v2'

export const organizationResource: ResourceType<OrganizationRow> = {
  type: 'Organization',
  fields: {
    calendar_starts_on: (row) => row.calendar_starts_on,
    date_format: (row) => row.date_format,
    name: (row) => row.name,
    time_zone: (row) => row.time_zone,
    twenty_four_hour_time: (row) => row.twenty_four_hour_time,
  },
  attributes: ['calendar_starts_on', 'date_format', 'name', 'time_zone', 'twenty_four_hour_time'],
  // Only the associations this server serves; PCO lists its other Calendar resources here too.
  links: (_row, baseUrl) => ({ job_statuses: `${baseUrl}${JOB_STATUSES_PATH}`, self: `${baseUrl}${ORGANIZATION_PATH}` }),
}
