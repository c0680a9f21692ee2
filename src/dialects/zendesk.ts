// Zendesk's job_statuses API over the same store: GET /api/v2/job_statuses, /{id} and /show_many, each with or without .json.
import { Router, type Request, type RequestHandler } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import type { FailureThrottle } from '../auth/failure-throttle'
import { InvalidParameter, NotFound, Unauthorized, type ApiError } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import { parseQueryString, valuesOf } from '../jsonapi/query-string'
import type { Status } from '../job-statuses/lifecycle'
import { COLUMNS, fromDatabase, listResults, type JobStatusRow, type ResultRow } from '../job-statuses/query'
import { countParameter, dialectAuthentication, dialectErrors, errorDetail, personByEmailAndKey, personByKey, personByPassword } from './shared'

/** Zendesk knows no "stopping": a stopping job is still working there. */
export const ZENDESK_STATUS: Record<Status, string> = {
  queued: 'queued',
  working: 'working',
  stopping: 'working',
  completed: 'completed',
  failed: 'failed',
  killed: 'killed',
}

const MAX_SHOW_MANY = 100

function zendeskResult(result: ResultRow) {
  // In the type the worker sent: Zendesk's own are the records' numeric ids.
  const id = result.id !== null && result.idIsNumber ? Number(result.id) : result.id
  return { id, action: result.action, success: result.success, status: result.status, errors: result.errors ?? '', title: result.title }
}

export interface ZendeskOptions {
  db: Knex
  baseUrl: () => string
  throttle: FailureThrottle
  /** The bearer-token authentication of the PCO surface. */
  bearer: RequestHandler
  /** The per-person rate limit of the PCO surface, counted in the same windows. */
  rateLimit: RequestHandler
  unavailableRetryAfter: number
}

export function zendeskRoutes({ db, baseUrl, throttle, bearer, rateLimit, unavailableRetryAfter }: ZendeskOptions): Router {
  const router = Router()
  const render = (row: JobStatusRow, results: ResultRow[]) => ({
    id: row.id,
    url: `${baseUrl()}/api/v2/job_statuses/${row.id}.json`,
    total: row.total,
    progress: row.progress,
    status: ZENDESK_STATUS[row.status as Status] ?? row.status,
    message: row.message,
    results: results.map(zendeskResult),
  })
  const renderAll = async (rows: JobStatusRow[]) => {
    const results = await listResults(db, rows.map((row) => row.id))
    return rows.map((row) => render(row, results.get(row.id) ?? []))
  }
  const send = (res: import('express').Response, body: unknown) => res.set('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify(body))
  const scoped = (req: Request) => db('job_statuses').where({ organization_id: principalOf(req).organizationId })

  // Zendesk accepts an API token ({email}/token:{token}), a password ({email}:{password}) or an OAuth bearer token.
  router.use(
    // `use` matches whole path segments: the list's .json form is a path of its own.
    ['/api/v2/job_statuses', '/api/v2/job_statuses.json'],
    dialectAuthentication(bearer, throttle, ({ user, password }) =>
      user.endsWith('/token') ? personByEmailAndKey(db, user.slice(0, -'/token'.length), password) : user.includes('@') ? personByPassword(db, user, password) : personByKey(db, password),
    () => new Unauthorized(undefined),
    ),
    rateLimit,
  )

  router.get(['/api/v2/job_statuses.json', '/api/v2/job_statuses'], async (req, res) => {
    const pairs = parseQueryString(req.originalUrl)
    const perPage = countParameter(pairs, 'per_page', { fallback: 100, min: 1, max: 100 })
    const page = countParameter(pairs, 'page', { fallback: 1, min: 1, max: 1_000_000 })
    // Newest first, as Zendesk lists them; id breaks ties.
    const [rows, counted] = await Promise.all([
      scoped(req).select(COLUMNS).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(perPage).offset((page - 1) * perPage),
      scoped(req).count({ count: '*' }).first(),
    ])
    const count = Number(counted?.count ?? 0)
    const link = (n: number) => `${baseUrl()}/api/v2/job_statuses.json?page=${n}&per_page=${perPage}`
    send(res, {
      job_statuses: await renderAll(rows.map(fromDatabase)),
      next_page: page * perPage < count ? link(page + 1) : null,
      previous_page: page > 1 ? link(page - 1) : null,
      count,
    })
  })

  // Zendesk answers each path with and without .json alike.
  router.get(['/api/v2/job_statuses/show_many.json', '/api/v2/job_statuses/show_many'], async (req, res) => {
    const raw = valuesOf(parseQueryString(req.originalUrl), 'ids')[0]
    const ids = raw?.split(',').map((id) => id.trim()).filter(Boolean) ?? []
    if (ids.length === 0 || ids.length > MAX_SHOW_MANY) throw new InvalidParameter('ids', `ids must list 1 to ${MAX_SHOW_MANY} job status ids, separated by commas`)
    const valid = ids.map(parseId).filter((id): id is string => id !== undefined)
    const rows = valid.length ? (await scoped(req).whereIn('id', valid).select(COLUMNS)).map(fromDatabase) : []
    const byId = new Map(rows.map((row) => [row.id, row]))
    // In the order asked for; unknown and other organizations' ids are left out.
    const ordered = [...new Set(valid)].map((id) => byId.get(id)).filter((row): row is JobStatusRow => row !== undefined)
    send(res, { job_statuses: await renderAll(ordered) })
  })

  router.get(['/api/v2/job_statuses/:id.json', '/api/v2/job_statuses/:id'], async (req, res) => {
    const id = parseId(req.params.id as string)
    const row = id === undefined ? undefined : await scoped(req).where({ id }).first(COLUMNS)
    if (!row) throw new NotFound()
    const [job] = await renderAll([fromDatabase(row)])
    send(res, { job_status: job })
  })

  router.use('/api/v2', dialectErrors('application/json; charset=utf-8', zendeskError, unavailableRetryAfter))
  return router
}

/** Zendesk's error bodies. */
function zendeskError(error: ApiError): unknown {
  switch (error.status) {
    case 401:
      return { error: "Couldn't authenticate you" }
    case 404:
      return { error: 'RecordNotFound', description: 'Not found' }
    case 429:
      return { error: 'TooManyRequests', description: 'Rate limit exceeded' }
    default:
      return { error: 'InvalidValue', description: errorDetail(error, 'Invalid request') }
  }
}
