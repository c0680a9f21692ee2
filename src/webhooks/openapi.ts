// The Webhooks API's part of the OpenAPI document, made from the same lists the routes check against.
import { WEBHOOKS_VERSIONS } from '../http/api-version'
import { MAX_URL_LENGTH } from './destinations'
import { EVENT_NAMES, EVENT_STATUSES } from './events'
import { MAX_SUBSCRIPTIONS } from './query'
import { availableEventResource, deliveryResource, eventResource, subscriptionResource } from './resource'
import { MAX_RETRIES } from './deliverer'
import { RESPONSE_BODY_LIMIT } from './send'

type Schema = Record<string, unknown>

export interface OpenApiParts {
  ref(name: string): Schema
  response(name: string): Schema
  parameter(name: string): Schema
  json(schema: Schema, description: string, mediaType?: string): Schema
  body(schema: string, example: unknown): Schema
  ID: Schema
  LINK: Schema
  TIMESTAMP: Schema
  PCO_HEADERS: Record<string, unknown>
}

const SECURITY = [{ oauth2: ['webhooks'] }, { personalAccessToken: [] }]

/** A resource object whose attributes are exactly `attributes`, each described in `properties`. */
function resource(type: string, attributes: readonly string[], properties: Record<string, Schema>, links: Schema, ID: Schema): Schema {
  const missing = attributes.filter((name) => !properties[name])
  if (missing.length > 0) throw new Error(`${type}: no schema for ${missing.join(', ')}`)
  return {
    type: 'object',
    required: ['type', 'id', 'attributes', 'relationships', 'links'],
    properties: {
      type: { const: type },
      id: type === 'AvailableEvent' ? { type: 'string' } : ID,
      attributes: { type: 'object', additionalProperties: false, properties: Object.fromEntries(attributes.map((name) => [name, properties[name]])) },
      relationships: { type: 'object' },
      links,
    },
  }
}

export function webhookSchemas({ ref, ID, LINK, TIMESTAMP }: OpenApiParts): Record<string, Schema> {
  const list = (item: string, parentType: string) => ({
    type: 'object',
    required: ['links', 'data', 'included', 'meta'],
    properties: {
      links: { type: 'object', required: ['self'], additionalProperties: false, properties: { self: LINK, prev: LINK, next: LINK } },
      data: { type: 'array', maxItems: 100, items: ref(item) },
      included: { type: 'array', maxItems: 0 },
      meta: {
        type: 'object',
        required: ['total_count', 'count', 'can_order_by', 'can_query_by', 'parent'],
        properties: {
          total_count: { type: 'integer', minimum: 0 },
          count: { type: 'integer', minimum: 0 },
          prev: { type: 'object', properties: { offset: { type: 'integer' } } },
          next: { type: 'object', properties: { offset: { type: 'integer' } } },
          can_order_by: { type: 'array', items: { type: 'string' } },
          can_query_by: { type: 'array', items: { type: 'string' } },
          parent: { type: 'object', required: ['id', 'type'], properties: { id: ID, type: { const: parentType } } },
        },
      },
    },
  })
  const document = (item: string) => ({
    type: 'object',
    required: ['data', 'included', 'meta'],
    properties: { data: ref(item), included: { type: 'array', maxItems: 0 }, meta: { type: 'object' } },
  })
  const name = { type: 'string', enum: [...EVENT_NAMES] }
  return {
    WebhooksOrganizationDocument: {
      type: 'object',
      required: ['data', 'included', 'meta'],
      properties: {
        data: {
          type: 'object',
          required: ['type', 'id', 'attributes', 'links'],
          properties: {
            type: { const: 'Organization' },
            id: ID,
            attributes: { type: 'object' },
            links: { type: 'object', required: ['available_events', 'webhook_subscriptions', 'self'], properties: { available_events: LINK, webhook_subscriptions: LINK, self: LINK } },
          },
        },
        included: { type: 'array', maxItems: 0 },
        meta: { type: 'object' },
      },
    },
    AvailableEvent: resource('AvailableEvent', availableEventResource.attributes, {
      action: { type: 'string', enum: ['created', 'destroyed', 'updated'] },
      app: { const: 'calendar' },
      name,
      resource: { const: 'job_status' },
      version: { const: 'v2' },
    }, { type: 'object' }, ID),
    AvailableEventListDocument: list('AvailableEvent', 'Organization'),
    WebhookSubscription: resource('WebhookSubscription', subscriptionResource.attributes, {
      active: { type: 'boolean', description: `Whether events are recorded and sent; false after a 410 or after the ${MAX_RETRIES}th retry failed` },
      application_id: { type: ['string', 'null'], description: 'The OAuth application that created it; null for a personal access token' },
      authenticity_secret: { type: ['string', 'null'], description: 'The key of X-PCO-Webhooks-Authenticity: shown only in the answer to create and rotate_secret, null elsewhere' },
      created_at: TIMESTAMP,
      name: { ...name, description: 'The event this subscription receives' },
      updated_at: TIMESTAMP,
      url: { type: 'string', maxLength: MAX_URL_LENGTH, description: 'Where deliveries are POSTed' },
    }, { type: 'object', required: ['events', 'self'], properties: { events: LINK, self: LINK } }, ID),
    WebhookSubscriptionDocument: document('WebhookSubscription'),
    WebhookSubscriptionListDocument: list('WebhookSubscription', 'Organization'),
    WebhookSubscriptionCreate: {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'object',
          required: ['attributes'],
          properties: {
            type: { const: 'WebhookSubscription' },
            attributes: {
              type: 'object',
              required: ['name', 'url'],
              additionalProperties: false,
              properties: {
                name,
                url: { type: 'string', maxLength: MAX_URL_LENGTH, description: 'An absolute https URL (http where the operator allows it) on a public address' },
                active: { type: 'boolean', default: true },
              },
            },
          },
        },
      },
    },
    WebhookSubscriptionUpdate: {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'object',
          properties: { type: { const: 'WebhookSubscription' }, attributes: { type: 'object', additionalProperties: false, properties: { active: { type: 'boolean' } } } },
        },
      },
    },
    Event: resource('Event', eventResource('').attributes, {
      created_at: TIMESTAMP,
      payload: { type: 'string', description: 'The JobStatus read document as GET /calendar/v2/job_statuses/{id} answered it when the change committed, as a string' },
      status: { type: 'string', enum: [...EVENT_STATUSES], description: 'This server sets pending, delivered and failed' },
      updated_at: TIMESTAMP,
      uuid: { type: 'string', format: 'uuid', description: 'The id a delivery carries' },
    }, { type: 'object', required: ['deliveries', 'self'], properties: { deliveries: LINK, self: LINK } }, ID),
    EventDocument: document('Event'),
    EventListDocument: list('Event', 'WebhookSubscription'),
    Delivery: resource('Delivery', deliveryResource.attributes, {
      created_at: TIMESTAMP,
      request_body: { type: 'string', description: 'The exact bytes sent, which the signature covers' },
      request_headers: { type: 'object' },
      response_body: { type: ['string', 'null'], description: `The receiver's answer, its first ${RESPONSE_BODY_LIMIT} bytes; or why there was none (status null)` },
      response_headers: { type: 'object' },
      status: { type: ['integer', 'null'], description: "The receiver's HTTP status; null when it did not answer (timed out, refused, unreachable)" },
      timing: { type: 'number', description: 'Seconds from sending to the end of the answer' },
      updated_at: TIMESTAMP,
    }, { type: 'object' }, ID),
    DeliveryListDocument: list('Delivery', 'Event'),
  }
}

export function webhookPaths({ ref, response, parameter, json, body, ID, PCO_HEADERS }: OpenApiParts): Record<string, Schema> {
  const ok = (schema: string, description: string) => ({ ...json(ref(schema), description), headers: PCO_HEADERS })
  const errors = { '400': response('BadRequest'), '401': response('Unauthorized'), '404': response('NotFound'), '429': response('TooManyRequests') }
  const writeErrors = { ...errors, '413': response('PayloadTooLarge'), '415': response('UnsupportedMediaType') }
  const operation = (summary: string, operationId: string, responses: Schema, extra: Schema = {}) => ({
    tags: ['Webhooks'],
    summary,
    operationId,
    security: SECURITY,
    ...extra,
    responses,
  })
  const version = {
    name: 'X-PCO-API-Version',
    in: 'header',
    description: `\`YYYY-MM-DD\` (on or after ${WEBHOOKS_VERSIONS[0]}) or \`LATEST\`; absent means ${WEBHOOKS_VERSIONS[WEBHOOKS_VERSIONS.length - 1]}`,
    schema: { type: 'string' },
  }
  const page = [parameter('PerPage'), parameter('Offset'), version]
  const subscription = { parameters: [{ name: 'id', in: 'path', required: true, description: 'A webhook subscription', schema: ID }] }
  const event = { parameters: [...subscription.parameters, { name: 'event_id', in: 'path', required: true, description: 'One of its events', schema: ID }] }
  return {
    '/webhooks/v2': {
      get: operation("The caller's Organization, linking to its subscriptions and the available events", 'getWebhooksRoot', { '200': ok('WebhooksOrganizationDocument', 'The Organization'), ...errors }, { parameters: [version] }),
    },
    '/webhooks/v2/available_events': {
      get: operation('The events one can subscribe to', 'listAvailableEvents', { '200': ok('AvailableEventListDocument', 'Every event name'), ...errors }, { parameters: page }),
    },
    '/webhooks/v2/webhook_subscriptions': {
      get: operation("The organization's webhook subscriptions, by id", 'listWebhookSubscriptions', { '200': ok('WebhookSubscriptionListDocument', 'One page'), ...errors }, {
        parameters: [...page, { name: 'where[application_id]', in: 'query', description: 'Only those made through this OAuth application', schema: ID }],
      }),
      post: operation('Subscribe a URL to an event', 'createWebhookSubscription', {
        '201': ok('WebhookSubscriptionDocument', 'The subscription, with its authenticity_secret: the only answer that shows it besides rotate_secret'),
        ...writeErrors,
        '422': { ...response('Unprocessable'), description: `A destination the server will not send to (\`destination_refused\`: loopback, private, link-local or metadata addresses, by address or by what the name resolves to), or more than ${MAX_SUBSCRIPTIONS} subscriptions (\`too_many_subscriptions\`)` },
      }, { requestBody: body('WebhookSubscriptionCreate', { data: { type: 'WebhookSubscription', attributes: { name: 'calendar.v2.events.job_status.updated', url: 'https://example.org/hooks/pco' } } }) }),
    },
    '/webhooks/v2/webhook_subscriptions/{id}': {
      ...subscription,
      get: operation('One webhook subscription', 'getWebhookSubscription', { '200': ok('WebhookSubscriptionDocument', 'The subscription'), ...errors }),
      patch: operation('Turn a subscription on or off (only `active` can change)', 'updateWebhookSubscription', { '200': ok('WebhookSubscriptionDocument', 'The subscription'), ...writeErrors }, {
        requestBody: body('WebhookSubscriptionUpdate', { data: { type: 'WebhookSubscription', attributes: { active: true } } }),
      }),
      delete: operation('Delete a subscription, its events and their deliveries', 'deleteWebhookSubscription', { '204': { description: 'Deleted' }, ...errors }),
    },
    '/webhooks/v2/webhook_subscriptions/{id}/rotate_secret': {
      ...subscription,
      post: operation('A new authenticity_secret; later deliveries are signed with it', 'rotateWebhookSecret', { '200': ok('WebhookSubscriptionDocument', 'The subscription, with its new secret'), ...errors }),
    },
    '/webhooks/v2/webhook_subscriptions/{id}/events': {
      ...subscription,
      get: operation('Events recorded for the subscription', 'listWebhookEvents', { '200': ok('EventListDocument', 'One page'), ...errors }, {
        description: 'Oldest first, or newest first with `order=-created_at`.',
        parameters: [
          ...page,
          { name: 'where[status]', in: 'query', schema: { type: 'string', enum: [...EVENT_STATUSES] } },
          { name: 'where[uuid]', in: 'query', schema: { type: 'string', format: 'uuid' } },
          { name: 'order', in: 'query', schema: { type: 'string', enum: ['created_at', '-created_at'] } },
        ],
      }),
    },
    '/webhooks/v2/webhook_subscriptions/{id}/events/{event_id}': {
      ...event,
      get: operation('One event', 'getWebhookEvent', { '200': ok('EventDocument', 'The event'), ...errors }),
    },
    '/webhooks/v2/webhook_subscriptions/{id}/events/{event_id}/redeliver': {
      ...event,
      post: operation('Send the event again, from a fresh retry schedule', 'redeliverWebhookEvent', { '200': ok('EventDocument', 'The event, pending again'), ...errors }, {
        description: 'The event goes before the subscription’s later events, as soon as the subscription is active.',
      }),
    },
    '/webhooks/v2/webhook_subscriptions/{id}/events/{event_id}/deliveries': {
      ...event,
      get: operation('Every attempt to deliver the event', 'listWebhookDeliveries', { '200': ok('DeliveryListDocument', 'One page, oldest first'), ...errors }, { parameters: page }),
    },
  }
}
