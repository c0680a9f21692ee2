// /webhooks/v2: subscriptions, their events and every delivery attempt, in the Calendar API's conventions.
import { Router, type Request, type Response } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { jsonBody } from '../http/json-body'
import { listDocument, readDocument, selectAttributes, sendDocument, serializeResources, type ResourceType } from '../jsonapi/document'
import { InvalidAttribute, InvalidParameter, MethodNotAllowed, NotFound, Unprocessable } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import { pageLinks, pageMeta, parsePage } from '../jsonapi/pagination'
import { parseQueryString, singleValue, type QueryPairs } from '../jsonapi/query-string'
import { attributesOf as attributesOfDocument, type Json } from '../jsonapi/request-document'
import { sendOrganization } from '../organizations/routes'
import { destinationRefusal, urlProblem, type DestinationPolicy } from './destinations'
import { EVENT_NAMES, EVENT_STATUSES, isEventName } from './events'
import {
  deleteSubscription, findEvent, findSubscription, insertSubscription, listDeliveries, listEvents, listSubscriptions,
  MAX_SUBSCRIPTIONS, requeueEvent, updateSubscription, type SubscriptionRow,
} from './query'
import {
  AVAILABLE_EVENTS_PATH, availableEventResource, deliveryResource, eventResource, subscriptionResource, SUBSCRIPTIONS_PATH,
  WEBHOOKS_PATH, webhooksOrganizationResource, type ShownSubscription,
} from './resource'
import { newAuthenticitySecret, type SecretKey } from './secrets'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface WebhookRoutesOptions {
  db: Knex
  baseUrl: () => string
  now: () => Date
  key: SecretKey
  allow: DestinationPolicy
  /** Told when an event is queued again, so it goes out at once. */
  onRequeue: () => void
}

/** `data.attributes` of a WebhookSubscription request document, holding only what may be assigned. */
function attributesOf(req: Request, assignable: readonly string[]): Json {
  const attributes = attributesOfDocument(req.body, 'WebhookSubscription')
  for (const name of Object.keys(attributes)) {
    if (!assignable.includes(name)) throw new InvalidAttribute(`/data/attributes/${name}`, `${name} cannot be assigned here; assignable: ${assignable.join(', ')}`)
  }
  return attributes
}

const idParam = (raw: string | string[] | undefined) => {
  const id = typeof raw === 'string' ? parseId(raw) : undefined
  if (id === undefined) throw new NotFound()
  return id
}

export function webhookRoutes({ db, baseUrl, now, key, allow, onRequeue }: WebhookRoutesOptions): Router {
  const router = Router()
  router.use(WEBHOOKS_PATH, jsonBody())
  const notAllowed = (allowed: string[]) => () => {
    throw new MethodNotAllowed(allowed)
  }
  const organization = (req: Request) => ({ id: principalOf(req).organizationId, type: 'Organization' })

  const sendOne = <Row extends { id: string }>(req: Request, res: Response, type: ResourceType<Row>, row: Row, status = 200) => {
    const attributes = selectAttributes(type, parseQueryString(req.originalUrl))
    const [data] = serializeResources(type, [row], { attributes, baseUrl: baseUrl(), now: now() })
    res.status(status)
    sendDocument(res, readDocument(data!, organization(req)))
  }

  const sendList = <Row extends { id: string }>(
    req: Request, res: Response, type: ResourceType<Row>, path: string,
    { rows, totalCount }: { rows: Row[]; totalCount: number },
    { pairs, page, canOrderBy, canQueryBy, parent }: { pairs: QueryPairs; page: ReturnType<typeof parsePage>; canOrderBy: string[]; canQueryBy: string[]; parent: { id: string; type: string } },
  ) => {
    const attributes = selectAttributes(type, pairs)
    const meta = pageMeta(page, rows.length, totalCount)
    const data = serializeResources(type, rows, { attributes, baseUrl: baseUrl(), now: now() })
    sendDocument(res, listDocument(pageLinks(baseUrl(), path, pairs, meta), data, { ...meta, can_order_by: canOrderBy, can_query_by: canQueryBy }, parent))
  }

  const subscriptionOf = async (req: Request): Promise<SubscriptionRow> => {
    const row = await findSubscription(db, principalOf(req).organizationId, idParam(req.params.id))
    if (!row) throw new NotFound()
    return row
  }

  router
    .route(WEBHOOKS_PATH)
    .get((req, res) => sendOrganization({ db, baseUrl, now }, req, res, webhooksOrganizationResource))
    .all(notAllowed(['GET', 'HEAD', 'OPTIONS']))

  router
    .route(AVAILABLE_EVENTS_PATH)
    .get((req, res) => {
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const rows = EVENT_NAMES.slice(page.offset, page.offset + page.perPage).map((id) => ({ id }))
      sendList(req, res, availableEventResource, AVAILABLE_EVENTS_PATH, { rows, totalCount: EVENT_NAMES.length }, { pairs, page, canOrderBy: [], canQueryBy: [], parent: organization(req) })
    })
    .all(notAllowed(['GET', 'HEAD', 'OPTIONS']))

  router
    .route(SUBSCRIPTIONS_PATH)
    .get(async (req, res) => {
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const rawApplication = singleValue(pairs, 'where[application_id]')
      const applicationId = rawApplication === undefined ? undefined : parseId(rawApplication)
      if (rawApplication !== undefined && applicationId === undefined) throw new InvalidParameter('where[application_id]', 'where[application_id] must be an id')
      const listed = await listSubscriptions(db, principalOf(req).organizationId, page, applicationId === undefined ? {} : { applicationId })
      sendList(req, res, subscriptionResource, SUBSCRIPTIONS_PATH, listed, { pairs, page, canOrderBy: [], canQueryBy: ['application_id'], parent: organization(req) })
    })
    .post(async (req, res) => {
      const { organizationId, personId, applicationId } = principalOf(req)
      const attributes = attributesOf(req, ['active', 'name', 'url'])
      const { name, url, active } = attributes
      if (!isEventName(name)) throw new InvalidAttribute('/data/attributes/name', `name must be one of ${EVENT_NAMES.join(', ')}`)
      if (typeof url !== 'string') throw new InvalidAttribute('/data/attributes/url', 'url must be a string')
      const problem = urlProblem(url, allow)
      if (problem) throw new InvalidAttribute('/data/attributes/url', problem)
      const refusal = await destinationRefusal(new URL(url), allow)
      if (refusal) throw new Unprocessable('/data/attributes/url', `url is refused: ${refusal}`, 'destination_refused')
      if (active !== undefined && typeof active !== 'boolean') throw new InvalidAttribute('/data/attributes/active', 'active must be true or false')
      const secret = newAuthenticitySecret()
      const row = await insertSubscription(
        db,
        { organizationId, personId, applicationId: applicationId ?? null, name, url, active: active ?? true, sealedSecret: key.seal(secret), keyId: key.id },
        now(),
      )
      if (!row) throw new Unprocessable('/data', `An organization keeps at most ${MAX_SUBSCRIPTIONS} webhook subscriptions`, 'too_many_subscriptions')
      res.set('Location', `${baseUrl()}${SUBSCRIPTIONS_PATH}/${row.id}`)
      sendOne<ShownSubscription>(req, res, subscriptionResource, { ...row, authenticity_secret: secret }, 201)
    })
    .all(notAllowed(['GET', 'HEAD', 'POST', 'OPTIONS']))

  router
    .route(`${SUBSCRIPTIONS_PATH}/:id`)
    .get(async (req, res) => sendOne(req, res, subscriptionResource, await subscriptionOf(req)))
    .patch(async (req, res) => {
      const id = idParam(req.params.id)
      const { active } = attributesOf(req, ['active'])
      if (active !== undefined && typeof active !== 'boolean') throw new InvalidAttribute('/data/attributes/active', 'active must be true or false')
      const row = await updateSubscription(db, principalOf(req).organizationId, id, active === undefined ? {} : { active }, now())
      if (!row) throw new NotFound()
      // Reactivated, its waiting events may go at once.
      if (active === true) onRequeue()
      sendOne(req, res, subscriptionResource, row)
    })
    .delete(async (req, res) => {
      if (!(await deleteSubscription(db, principalOf(req).organizationId, idParam(req.params.id)))) throw new NotFound()
      res.status(204).end()
    })
    .all(notAllowed(['GET', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS']))

  router
    .route(`${SUBSCRIPTIONS_PATH}/:id/rotate_secret`)
    .post(async (req, res) => {
      const secret = newAuthenticitySecret()
      const row = await updateSubscription(db, principalOf(req).organizationId, idParam(req.params.id), { secret_ciphertext: key.seal(secret), secret_key_id: key.id }, now())
      if (!row) throw new NotFound()
      sendOne<ShownSubscription>(req, res, subscriptionResource, { ...row, authenticity_secret: secret })
    })
    .all(notAllowed(['POST', 'OPTIONS']))

  router
    .route(`${SUBSCRIPTIONS_PATH}/:id/events`)
    .get(async (req, res) => {
      const subscription = await subscriptionOf(req)
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const status = singleValue(pairs, 'where[status]')
      if (status !== undefined && !(EVENT_STATUSES as readonly string[]).includes(status)) {
        throw new InvalidParameter('where[status]', `where[status] must be one of ${EVENT_STATUSES.join(', ')}`)
      }
      const uuid = singleValue(pairs, 'where[uuid]')
      if (uuid !== undefined && !UUID.test(uuid)) throw new InvalidParameter('where[uuid]', 'where[uuid] must be a UUID')
      const order = singleValue(pairs, 'order')
      if (order !== undefined && order !== 'created_at' && order !== '-created_at') throw new InvalidParameter('order', 'order must be created_at or -created_at')
      const listed = await listEvents(db, subscription.organization_id, subscription.id, page, { ...(status ? { status } : {}), ...(uuid ? { uuid } : {}) }, order === '-created_at')
      sendList(req, res, eventResource(baseUrl()), `${SUBSCRIPTIONS_PATH}/${subscription.id}/events`, listed, {
        pairs, page, canOrderBy: ['created_at'], canQueryBy: ['status', 'uuid'], parent: { id: subscription.id, type: 'WebhookSubscription' },
      })
    })
    .all(notAllowed(['GET', 'HEAD', 'OPTIONS']))

  const eventOf = async (req: Request) => {
    const subscription = await subscriptionOf(req)
    const event = await findEvent(db, subscription.organization_id, subscription.id, idParam(req.params.eventId))
    if (!event) throw new NotFound()
    return event
  }

  router
    .route(`${SUBSCRIPTIONS_PATH}/:id/events/:eventId`)
    .get(async (req, res) => sendOne(req, res, eventResource(baseUrl()), await eventOf(req)))
    .all(notAllowed(['GET', 'HEAD', 'OPTIONS']))

  router
    .route(`${SUBSCRIPTIONS_PATH}/:id/events/:eventId/redeliver`)
    .post(async (req, res) => {
      const event = await eventOf(req)
      const requeued = await requeueEvent(db, event.organization_id, event.subscription_id, event.id, now())
      if (!requeued) throw new NotFound()
      onRequeue()
      sendOne(req, res, eventResource(baseUrl()), requeued)
    })
    .all(notAllowed(['POST', 'OPTIONS']))

  router
    .route(`${SUBSCRIPTIONS_PATH}/:id/events/:eventId/deliveries`)
    .get(async (req, res) => {
      const event = await eventOf(req)
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const listed = await listDeliveries(db, event.id, page)
      sendList(req, res, deliveryResource, `${SUBSCRIPTIONS_PATH}/${event.subscription_id}/events/${event.id}/deliveries`, listed, {
        pairs, page, canOrderBy: [], canQueryBy: [], parent: { id: event.id, type: 'Event' },
      })
    })
    .all(notAllowed(['GET', 'HEAD', 'OPTIONS']))

  return router
}
