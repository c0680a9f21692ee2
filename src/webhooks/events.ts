// The events one can subscribe to, and what a delivery of one carries.
import { readDocument, serializeResources } from '../jsonapi/document'
import { fromDatabase } from '../job-statuses/query'
import { jobStatusResource } from '../job-statuses/resource'

/** Planning Center's pattern: {app}.v2.events.{resource}.{action}. The triggers in db/migrations record these. */
export const EVENT_NAMES = [
  'calendar.v2.events.job_status.created',
  'calendar.v2.events.job_status.destroyed',
  'calendar.v2.events.job_status.updated',
] as const

export type EventName = (typeof EVENT_NAMES)[number]

/** Planning Center's event statuses; this server sets pending, delivered and failed. */
export const EVENT_STATUSES = ['pending', 'delivered', 'failed', 'skipped', 'duplicated', 'ignored_failed', 'ignored_skipped', 'ignored_duplicated'] as const

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value)
}

/** An event's name in parts, as available_events shows it. */
export function partsOf(name: EventName) {
  const [app, version, , resource, action] = name.split('.') as [string, string, string, string, string]
  return { action, app, name, resource, version }
}

/**
 * The JobStatus read document, as GET /calendar/v2/job_statuses/{id} answered it when the change
 * committed: made from the row the trigger kept, so every attempt carries the same payload.
 */
export function eventPayload(snapshot: Record<string, unknown>, baseUrl: string): string {
  const row = fromDatabase(snapshot)
  // At the moment of the change, which is what the payload shows.
  const [data] = serializeResources(jobStatusResource, [row], { attributes: jobStatusResource.attributes, baseUrl, now: new Date(row.updated_at) })
  return JSON.stringify(readDocument(data!, { id: row.organization_id, type: 'Organization' }))
}

export interface DeliveredEvent {
  uuid: string
  name: string
  organizationId: string
  attempt: number
  payload: string
}

/** The body a receiver is sent: its bytes are what X-PCO-Webhooks-Authenticity signs. */
export function deliveryBody({ uuid, name, organizationId, attempt, payload }: DeliveredEvent): string {
  return JSON.stringify({
    data: [
      {
        id: uuid,
        type: 'EventDelivery',
        attributes: { name, attempt, payload },
        relationships: { organization: { data: { type: 'Organization', id: organizationId } } },
      },
    ],
  })
}
