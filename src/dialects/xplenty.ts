// Xplenty's jobs API over the same store: GET /{account_id}/api/jobs and /{account_id}/api/jobs/{job_id}.
import { Router, type Request, type RequestHandler, type Response } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import type { FailureThrottle } from '../auth/failure-throttle'
import { InvalidParameter, NotAcceptable, NotFound, Unauthorized, type ApiError } from '../jsonapi/errors'
import { formatTimestamp, parseId } from '../jsonapi/format'
import { parseQueryString, valuesOf, type QueryPairs } from '../jsonapi/query-string'
import type { Status } from '../job-statuses/lifecycle'
import { COLUMNS, fromDatabase, type JobStatusRow } from '../job-statuses/query'
import { runtimeOf } from '../job-statuses/resource'
import { countParameter, dialectAuthentication, dialectErrors, errorDetail, personByKey } from './shared'

export const XPLENTY_MEDIA_TYPE = 'application/vnd.xplenty+json; version=2'

/** Onto Xplenty's nine statuses; a killed job is "stopped" there. */
export const XPLENTY_STATUS: Record<Status, string> = {
  queued: 'queued',
  working: 'running',
  stopping: 'stopping',
  completed: 'completed',
  failed: 'failed',
  killed: 'stopped',
}

/** Xplenty's statuses a job here can be in, back onto this store's; the others (idle, pending, pending_stoppage) match none. */
const FROM_XPLENTY = new Map<string, Status[]>(
  ['idle', 'pending', 'queued', 'running', 'completed', 'failed', 'pending_stoppage', 'stopping', 'stopped'].map((name) => [
    name,
    (Object.keys(XPLENTY_STATUS) as Status[]).filter((status) => XPLENTY_STATUS[status] === name),
  ]),
)
const SORTS: Record<string, string> = { created: 'created_at', updated: 'updated_at' }

/** One of `allowed` (or `fallback` when absent); anything else is a 400 naming the parameter. */
function choice(pairs: QueryPairs, name: string, allowed: readonly string[], fallback: string): string {
  const value = valuesOf(pairs, name)[0] ?? fallback
  if (!allowed.includes(value)) throw new InvalidParameter(name, `${name} must be one of ${allowed.join(', ')}`)
  return value
}

/**
 * Whether an Accept header lets this server answer: Xplenty's media type at version 2 (or with no
 * version), or a wildcard. Asking for another version is as unacceptable as another media type.
 */
export function acceptsXplenty(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true
  return accept.split(',').some((range) => {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase())
    if (type === '*/*' || type === 'application/*') return true
    if (type !== 'application/vnd.xplenty+json') return false
    const version = parameters.find((parameter) => parameter.startsWith('version='))?.slice('version='.length)
    return version === undefined || version === '2'
  })
}

function errorsText(errors: unknown): string {
  if (errors === null || errors === undefined) return ''
  if (typeof errors === 'object' && Object.keys(errors).length === 0) return ''
  return typeof errors === 'string' ? errors : JSON.stringify(errors)
}

export interface XplentyOptions {
  db: Knex
  baseUrl: () => string
  throttle: FailureThrottle
  bearer: RequestHandler
  rateLimit: RequestHandler
  unavailableRetryAfter: number
  /** The server's clock: a running job's runtime counts to it. */
  now: () => Date
}

export function xplentyRoutes({ db, baseUrl, throttle, bearer, rateLimit, unavailableRetryAfter, now }: XplentyOptions): Router {
  const router = Router()
  const path = '/:account_id/api/jobs'

  const render = (row: JobStatusRow, accountId: string, creator: { id: string; name: string } | undefined) => {
    const url = `${baseUrl()}/${accountId}/api/jobs/${row.id}`
    const outputs = Array.isArray(row.outputs) ? (row.outputs as Array<{ name: string; records_count: number | null; url: string | null }>) : []
    const fraction = row.total ? Math.min(1, row.progress / row.total) : row.status === 'completed' ? 1 : 0
    return {
      id: Number(row.id),
      status: XPLENTY_STATUS[row.status as Status] ?? row.status,
      owner_id: row.created_by === null ? null : Number(row.created_by),
      progress: fraction,
      outputs_count: outputs.length,
      outputs: outputs.map((output, i) => ({
        id: i + 1,
        name: output.name,
        records_count: output.records_count,
        created_at: formatTimestamp(row.created_at),
        updated_at: formatTimestamp(row.updated_at),
        url: output.url,
        component: null,
      })),
      variables: {},
      dynamic_variables: {},
      started_at: formatTimestamp(row.started_at),
      created_at: formatTimestamp(row.created_at),
      failed_at: formatTimestamp(row.failed_at),
      updated_at: formatTimestamp(row.updated_at),
      cluster_id: null,
      package_id: null,
      errors: errorsText(row.errors),
      runtime_in_seconds: runtimeOf(row, now()) ?? 0,
      url,
      html_url: url,
      log_url: null,
      creator: creator ? { type: 'User', display_name: creator.name, id: Number(creator.id), url: null } : null,
      package: null,
      cluster: null,
    }
  }
  const creators = async (rows: JobStatusRow[]) => {
    const ids = [...new Set(rows.map((row) => row.created_by).filter((id): id is string => id !== null))]
    const people = ids.length ? await db('people').whereIn('id', ids).select('id', 'name') : []
    return new Map(people.map((p: { id: string | number; name: string }) => [String(p.id), { id: String(p.id), name: p.name }]))
  }
  // A Buffer, so Express does not append a charset to Xplenty's media type.
  const send = (res: Response, body: unknown) => res.set('Content-Type', XPLENTY_MEDIA_TYPE).send(Buffer.from(JSON.stringify(body)))
  /** The account in the path must be the caller's organization; any other answers like a missing one. */
  const account = (req: Request) => {
    const accountId = req.params.account_id as string
    if (accountId !== principalOf(req).organizationId) throw new NotFound()
    return accountId
  }

  router.use(path, (req, _res, next) => {
    // Xplenty requires its versioned media type; a client that accepts only something else is told so.
    next(acceptsXplenty(req.headers.accept) ? undefined : new NotAcceptable(XPLENTY_MEDIA_TYPE))
  })
  // The API key is the user name of HTTP Basic, with an empty password.
  router.use(path, dialectAuthentication(bearer, throttle, ({ user }) => personByKey(db, user), () => new Unauthorized(undefined)), rateLimit)

  router.get(path, async (req, res) => {
    const accountId = account(req)
    const pairs = parseQueryString(req.originalUrl)
    const limit = countParameter(pairs, 'limit', { fallback: 20, min: 1, max: 100 })
    const offset = countParameter(pairs, 'offset', { fallback: 0, min: 0, max: Number.MAX_SAFE_INTEGER })
    const status = choice(pairs, 'status', ['all', ...FROM_XPLENTY.keys()], 'all')
    const sort = choice(pairs, 'sort', Object.keys(SORTS), 'created')
    const direction = choice(pairs, 'direction', ['asc', 'desc'], 'desc')
    const query = db('job_statuses').where({ organization_id: accountId })
    if (status !== 'all') query.whereIn('status', FROM_XPLENTY.get(status)!)
    // id breaks ties, in the same direction: a total order, so pages never overlap.
    const rows = (await query.select(COLUMNS).orderBy(SORTS[sort]!, direction).orderBy('id', direction).limit(limit).offset(offset)).map(fromDatabase)
    const people = await creators(rows)
    send(res, rows.map((row) => render(row, accountId, row.created_by ? people.get(row.created_by) : undefined)))
  })

  router.get(`${path}/:job_id`, async (req, res) => {
    const accountId = account(req)
    const id = parseId(req.params.job_id as string)
    const row = id === undefined ? undefined : await db('job_statuses').where({ organization_id: accountId, id }).first(COLUMNS)
    if (!row) throw new NotFound()
    const job = fromDatabase(row)
    const people = await creators([job])
    send(res, render(job, accountId, job.created_by ? people.get(job.created_by) : undefined))
  })

  router.use(path, dialectErrors(XPLENTY_MEDIA_TYPE, xplentyError, unavailableRetryAfter))
  return router
}

/** Xplenty's error bodies: a message. */
function xplentyError(error: ApiError): unknown {
  switch (error.status) {
    case 401:
      return { message: 'Unauthorized: check your API key' }
    case 404:
      return { message: 'Resource not found' }
    case 406:
      return { message: `Not acceptable: send Accept: ${XPLENTY_MEDIA_TYPE}` }
    case 429:
      return { message: 'Rate limit exceeded' }
    default:
      return { message: errorDetail(error, 'Bad request') }
  }
}
