// The Webhooks API's resources: their types, attributes (alphabetical, as Planning Center lists them) and links.
import type { ResourceType } from '../jsonapi/document'
import { formatTimestamp } from '../jsonapi/format'
import { organizationResource } from '../organizations/resource'
import type { OrganizationRow } from '../organizations/query'
import { eventPayload, partsOf, type EventName } from './events'
import type { DeliveryRow, EventRow, SubscriptionRow } from './query'

export const WEBHOOKS_PATH = '/webhooks/v2'
export const SUBSCRIPTIONS_PATH = `${WEBHOOKS_PATH}/webhook_subscriptions`
export const AVAILABLE_EVENTS_PATH = `${WEBHOOKS_PATH}/available_events`

const subscriptionPath = (id: string) => `${SUBSCRIPTIONS_PATH}/${id}`
const eventPath = (subscriptionId: string, id: string) => `${subscriptionPath(subscriptionId)}/events/${id}`

/** The root of /webhooks/v2: the caller's Organization, linking to what can be done here. */
export const webhooksOrganizationResource: ResourceType<OrganizationRow> = {
  ...organizationResource,
  links: (_row, baseUrl) => ({
    available_events: `${baseUrl}${AVAILABLE_EVENTS_PATH}`,
    webhook_subscriptions: `${baseUrl}${SUBSCRIPTIONS_PATH}`,
    self: `${baseUrl}${WEBHOOKS_PATH}`,
  }),
}

export const availableEventResource: ResourceType<{ id: EventName }> = {
  type: 'AvailableEvent',
  fields: {
    action: (row) => partsOf(row.id).action,
    app: (row) => partsOf(row.id).app,
    name: (row) => row.id,
    resource: (row) => partsOf(row.id).resource,
    version: (row) => partsOf(row.id).version,
  },
  attributes: ['action', 'app', 'name', 'resource', 'version'],
  links: () => ({}),
}

/** A subscription; its secret is readable only in the answer that made it (create, rotate_secret). */
export type ShownSubscription = SubscriptionRow & { authenticity_secret?: string }

export const subscriptionResource: ResourceType<ShownSubscription> = {
  type: 'WebhookSubscription',
  fields: {
    active: (row) => row.active,
    application_id: (row) => row.application_id,
    authenticity_secret: (row) => row.authenticity_secret ?? null,
    created_at: (row) => formatTimestamp(row.created_at),
    name: (row) => row.name,
    updated_at: (row) => formatTimestamp(row.updated_at),
    url: (row) => row.url,
  },
  attributes: ['active', 'application_id', 'authenticity_secret', 'created_at', 'name', 'updated_at', 'url'],
  links: (row, baseUrl) => ({
    events: `${baseUrl}${subscriptionPath(row.id)}/events`,
    self: `${baseUrl}${subscriptionPath(row.id)}`,
  }),
}

/** Events carry their payload, rendered with the base URL of the server that shows them. */
export function eventResource(baseUrl: string): ResourceType<EventRow> {
  return {
    type: 'Event',
    fields: {
      created_at: (row) => formatTimestamp(row.created_at),
      payload: (row) => eventPayload(row.snapshot, baseUrl),
      status: (row) => row.status,
      updated_at: (row) => formatTimestamp(row.updated_at),
      uuid: (row) => row.uuid,
    },
    attributes: ['created_at', 'payload', 'status', 'updated_at', 'uuid'],
    links: (row) => ({
      deliveries: `${baseUrl}${eventPath(row.subscription_id, row.id)}/deliveries`,
      self: `${baseUrl}${eventPath(row.subscription_id, row.id)}`,
    }),
  }
}

export const deliveryResource: ResourceType<DeliveryRow> = {
  type: 'Delivery',
  fields: {
    created_at: (row) => formatTimestamp(row.created_at),
    request_body: (row) => row.request_body,
    request_headers: (row) => row.request_headers,
    response_body: (row) => row.response_body,
    response_headers: (row) => row.response_headers,
    status: (row) => row.status,
    timing: (row) => row.timing,
    updated_at: (row) => formatTimestamp(row.updated_at),
  },
  attributes: ['created_at', 'request_body', 'request_headers', 'response_body', 'response_headers', 'status', 'timing', 'updated_at'],
  links: () => ({}),
}
