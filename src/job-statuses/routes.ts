// GET /calendar/v2/job_statuses and /calendar/v2/job_statuses/{id}: parse, query, render.
import { Router, type Request, type RequestHandler, type Response } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { clientAddress, type FailureThrottle } from '../auth/failure-throttle'
import { tokenCheck, type KnownTokens } from '../auth/known-tokens'
import { applyWindow, type RateLimitRules, type Window } from '../auth/rate-limit'
import { digestSecret } from '../auth/secrets'
import { answeredNotModified, listDocument, readDocument, renderDocument, selectAttributes, sendBody, sendDocument, serializeResources, weakEtag, type ResourceCache, type Reuse } from '../jsonapi/document'
import { MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import { pageLinks, pageMeta, parsePage } from '../jsonapi/pagination'
import { parseQueryString } from '../jsonapi/query-string'
import { CAN_ORDER_BY, CAN_QUERY_BY, parseListQuery } from './parameters'
import type { PageCache, RenderedPage } from './pages'
import type { PositionCache } from './positions'
import { columnsFor, findJobStatus, findJobStatusChecked, isPlainList, listJobStatuses, listResults, type JobStatusRow, type ListedPage } from './query'
import { JOB_STATUSES_PATH, jobStatusResource, type JobStatusWithResults } from './resource'

/** What a document's rows contribute to its ETag: the row's version where it was read, else updated_at. */
const rowVersion = (row: JobStatusRow) => `${row.id}@${row.row_version ?? new Date(row.updated_at).getTime()}`

/** Reuses serialized rows by version; results live in a table of their own, so they are always read afresh. */
function reuseOf(cache: ResourceCache, attributes: readonly string[]): Reuse<JobStatusWithResults> | undefined {
  return attributes.includes('results') ? undefined : { cache, versionOf: (row) => row.row_version }
}

/** Attaches per-task results when the request named them in fields[JobStatus]. */
async function withResults(db: Knex, rows: JobStatusRow[], attributes: readonly string[]): Promise<JobStatusWithResults[]> {
  if (!attributes.includes('results')) return rows
  const results = await listResults(db, rows.map((row) => row.id))
  return rows.map((row) => ({ ...row, results: results.get(row.id) ?? [] }))
}

export interface JobStatusRoutesOptions {
  db: Knex
  baseUrl: () => string
  positions: PositionCache
  resources: ResourceCache
  pages: PageCache
}

/** Parses a list request; throws the 400s. */
function parseList(req: Request) {
  const pairs = parseQueryString(req.originalUrl)
  return { pairs, page: parsePage(pairs), ...parseListQuery(pairs), attributes: selectAttributes(jobStatusResource, pairs) }
}

type ParsedList = ReturnType<typeof parseList>

/** A list request's rendered page, if it may have one: a plain list without results (they live in their own table). */
function heldPage(pages: PageCache, req: Request, organizationId: string, baseUrl: string, list: ParsedList) {
  if (!isPlainList(list.filter, list.order) || list.attributes.includes('results')) return {}
  const key = pages.key(organizationId, baseUrl, req.originalUrl)
  return { key, held: pages.get(key) }
}

export function jobStatusRoutes({ db, baseUrl, positions, resources, pages }: JobStatusRoutesOptions): Router {
  const router = Router()
  const readOnly = () => {
    throw new MethodNotAllowed(['GET', 'HEAD', 'OPTIONS'])
  }

  router
    .route(JOB_STATUSES_PATH)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const list = parseList(req)
      const base = baseUrl()
      const { key, held } = heldPage(pages, req, organizationId, base, list)
      const listed = await listJobStatuses(db, positions, organizationId, list.page, list.filter, list.order, { columns: columnsFor(list.attributes), held: held?.revision })
      await sendList({ db, resources, pages }, base, req, res, organizationId, list, listed, key, held)
    })
    .all(readOnly)

  router
    .route(`${JOB_STATUSES_PATH}/:id`)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const id = parseId(req.params.id as string)
      // Another organization's job answers exactly like a missing one (wire contract §2).
      const attributes = selectAttributes(jobStatusResource, parseQueryString(req.originalUrl))
      const row = id === undefined ? undefined : await findJobStatus(db, organizationId, id, columnsFor(attributes))
      if (!row) throw new NotFound()
      await sendRead(db, resources, baseUrl(), req, res, organizationId, row, attributes)
    })
    .all(readOnly)

  return router
}

/**
 * Sends a list page: the page held from before when the organization has not changed since, else a
 * page built from the rows, which is kept (under `key`) for the next request.
 */
async function sendList(
  { db, resources, pages }: Pick<JobStatusRoutesOptions, 'db' | 'resources' | 'pages'>,
  baseUrl: string, req: Request, res: Response, organizationId: string, list: ParsedList,
  { rows, totalCount, revision, unchanged }: ListedPage, key: string | undefined, held: RenderedPage | undefined,
) {
  if (unchanged && held) {
    if (!answeredNotModified(req, res, held.etag)) sendBody(res, held.body)
    return
  }
  const etag = weakEtag(baseUrl, req.originalUrl, totalCount, ...rows.map(rowVersion))
  if (answeredNotModified(req, res, etag)) return
  const meta = { ...pageMeta(list.page, rows.length, totalCount), can_order_by: CAN_ORDER_BY, can_query_by: CAN_QUERY_BY }
  const links = pageLinks(baseUrl, JOB_STATUSES_PATH, list.pairs, meta)
  const data = serializeResources(jobStatusResource, await withResults(db, rows, list.attributes), list.attributes, baseUrl, reuseOf(resources, list.attributes))
  const body = renderDocument(listDocument(links, data, meta, { id: organizationId, type: 'Organization' }))
  if (key !== undefined && revision !== undefined) pages.set(key, { revision, etag, body })
  sendBody(res, body)
}

async function sendRead(db: Knex, resources: ResourceCache, baseUrl: string, req: Request, res: Response, organizationId: string, row: JobStatusRow, attributes: readonly string[]) {
  if (answeredNotModified(req, res, weakEtag(baseUrl, req.originalUrl, rowVersion(row)))) return
  const [data] = serializeResources(jobStatusResource, await withResults(db, [row], attributes), attributes, baseUrl, reuseOf(resources, attributes))
  sendDocument(res, readDocument(data!, { id: organizationId, type: 'Organization' }))
}

export interface KnownCallerOptions extends JobStatusRoutesOptions {
  /** The connections that count requests (synchronous_commit off): the statement here counts one. */
  counters: Knex
  knownTokens: KnownTokens
  throttle: FailureThrottle
  rateLimit: RateLimitRules
  now: () => Date
}

const READ_PATH = new RegExp(`^${JOB_STATUSES_PATH}/([^/]+)$`)

/**
 * The two hot reads in one round trip, for a bearer token this process has already seen valid: the
 * token is re-checked and the request counted inside the page's own statement, instead of a lookup
 * before it. Anything else goes on to the ordinary chain (authenticate → rate limit → routes), which
 * answers exactly as before: an unknown or no longer valid token (and says why), a personal access
 * token, a filtered or reordered list, a bad parameter (a 400 comes after authentication there).
 */
export function knownCallerRoutes({ db, counters, baseUrl, positions, resources, pages, knownTokens, throttle, rateLimit, now }: KnownCallerOptions): RequestHandler {
  return async (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next()
    const isList = req.path === JOB_STATUSES_PATH
    const readId = isList ? undefined : READ_PATH.exec(req.path)?.[1]
    if (!isList && readId === undefined) return next()
    const token = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const digest = token === undefined ? undefined : digestSecret(token)
    const known = digest === undefined ? undefined : knownTokens.find(digest)
    if (!known || !known.scopes.includes('calendar')) return next()
    throttle.check(clientAddress(req))

    let list: ParsedList | undefined
    let id: string | undefined
    try {
      if (isList) list = parseList(req)
      else id = parseId(decodeURIComponent(readId!))
    } catch {
      return next()
    }
    if ((list && !isPlainList(list.filter, list.order)) || (!isList && id === undefined)) return next()

    const at = now()
    const check = tokenCheck(digest!, at, rateLimit.periodSeconds)
    if (list) {
      const base = baseUrl()
      const { key, held } = heldPage(pages, req, known.organizationId, base, list)
      const listed = await listJobStatuses(counters, positions, known.organizationId, list.page, list.filter, list.order, { columns: columnsFor(list.attributes), check, held: held?.revision })
      if (!listed.window) return forget()
      accept(listed.window, at)
      await sendList({ db, resources, pages }, base, req, res, known.organizationId, list, listed, key, held)
    } else {
      const attributes = selectAttributes(jobStatusResource, parseQueryString(req.originalUrl))
      const { row, window } = await findJobStatusChecked(counters, known.organizationId, id!, columnsFor(attributes), check)
      if (!window) return forget()
      accept(window, at)
      if (!row) throw new NotFound()
      await sendRead(db, resources, baseUrl(), req, res, known.organizationId, row, attributes)
    }

    function forget() {
      // Revoked, expired or gone since: the ordinary chain looks it up and says which.
      knownTokens.forget(digest!)
      next()
    }
    function accept(window: Window, at: Date) {
      req.principal = { personId: known!.personId, organizationId: known!.organizationId, method: 'OAuth2', scopes: known!.scopes, window }
      applyWindow(req, res, window, at, rateLimit)
    }
  }
}
