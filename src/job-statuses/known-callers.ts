// The hot reads and writes of a caller this process has seen before, answered ahead of the Express app.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticate'
import { clientAddress, type FailureThrottle } from '../auth/failure-throttle'
import type { KnownTokens } from '../auth/known-tokens'
import { presentedCredential } from '../auth/presented'
import { applyWindow, type RateLimitRules } from '../auth/rate-limit'
import { resolveVersion } from '../http/api-version'
import { setSharedHeaders } from '../http/cors'
import { sendResponse } from '../http/idempotency'
import { isPlainJsonBody, readJsonBody } from '../http/json-body'
import { setRoute } from '../http/metrics'
import { sendFailure } from '../http/render-error'
import { beginRequestLog } from '../http/request-log'
import { JSON_API_CONTENT_TYPE } from '../jsonapi/document'
import { parseId } from '../jsonapi/format'
import type { JobChange } from './commands'
import { isPlainList } from './query'
import type { ReadBatcher } from './read-batch'
import { JOB_STATUSES_PATH } from './resource'
import { parseList, respondWithList, respondWithRead, type JobStatusRoutesOptions, type ParsedList } from './routes'
import type { WriteBatcher } from './write-batch'
import { jobChanger, JOBS_PATH, patchOf, progressOf } from './write-routes'

export interface KnownCallerOptions extends JobStatusRoutesOptions {
  /** The connections that count requests, where the hot statements run (see openCounterDatabase). */
  counters: Knex
  knownTokens: KnownTokens
  throttle: FailureThrottle
  rateLimit: RateLimitRules
  logger: Logger
  unavailableRetryAfter: number
  reads: ReadBatcher
  writes: WriteBatcher
}

/** Handles the request, or calls `fallback` having sent nothing, for the Express app to answer. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse, fallback: () => void) => void

const READ_PATH = new RegExp(`^${JOB_STATUSES_PATH}/([^/]+)$`)
const PATCH_PATH = new RegExp(`^${JOBS_PATH}/([^/]+)$`)
const PROGRESS_PATH = new RegExp(`^${JOBS_PATH}/([^/]+)/progress$`)

/** A request this listener can answer, as its URL says; anything it cannot is the app's. */
type Hot =
  | { kind: 'list'; list: ParsedList }
  | { kind: 'read'; id: string }
  | { kind: 'write'; id: string; asked: (body: unknown) => Omit<JobChange, 'organizationId' | 'id'> }

/** Each hot request's scope, and its route template as the OpenAPI document names it (for /metrics). */
const ROUTES = {
  list: { scope: 'calendar', template: JOB_STATUSES_PATH },
  read: { scope: 'calendar', template: `${JOB_STATUSES_PATH}/{id}` },
  patch: { scope: 'jobs', template: `${JOBS_PATH}/{id}` },
  progress: { scope: 'jobs', template: `${JOBS_PATH}/{id}/progress` },
} as const

/** What `req` asks, when it is one of the hot requests; throws where the app would answer a 400. */
function hotRequest(req: IncomingMessage, url: string): { route: keyof typeof ROUTES; hot: Hot } | undefined {
  const query = url.indexOf('?')
  const path = query < 0 ? url : url.slice(0, query)
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (path === JOB_STATUSES_PATH) {
      const list = parseList(url)
      return isPlainList(list.filter, list.order) ? { route: 'list', hot: { kind: 'list', list } } : undefined
    }
    const id = idIn(READ_PATH, path)
    return id === undefined ? undefined : { route: 'read', hot: { kind: 'read', id } }
  }
  // A write with a query string, an Idempotency-Key or a body in another form takes the app's way.
  if (query >= 0 || req.headers['idempotency-key'] !== undefined || !isPlainJsonBody(req.headers)) return undefined
  if (req.method === 'PATCH') {
    const id = idIn(PATCH_PATH, path)
    return id === undefined ? undefined : { route: 'patch', hot: { kind: 'write', id, asked: patchOf } }
  }
  if (req.method === 'POST') {
    const id = idIn(PROGRESS_PATH, path)
    return id === undefined ? undefined : { route: 'progress', hot: { kind: 'write', id, asked: progressOf } }
  }
  return undefined
}

const idIn = (pattern: RegExp, path: string) => {
  const segment = pattern.exec(path)?.[1]
  return segment === undefined ? undefined : parseId(decodeURIComponent(segment))
}

/**
 * The hot requests of a credential (bearer token or personal access token) this process has already
 * seen valid: GET (or HEAD) of a plain job status list or of one job status, and a job's progress
 * report or PATCH. The credential is re-checked and the request counted in a statement shared with
 * the requests that arrive together (read-batch.ts, which also reads the job or the page); a write
 * joins the writes that arrive together (write-batch.ts). The answer is written without the Express app's middleware chain, which cost a
 * measurable share of these requests (docs/performance.md); its headers are the chain's own, set by
 * the same functions, and it passes through the routes' own stages (routes.ts respondWithList and
 * respondWithRead, write-routes.ts jobChanger), with the check and count folded into their reading.
 * Anything else goes to the app before a byte is read or sent: an unknown or no longer valid
 * credential (the app says why), a filtered or reordered list, a bad parameter or
 * version (a 400 comes after authentication there), a write with an Idempotency-Key.
 */
export function knownCallers(options: KnownCallerOptions): RequestListener {
  const { counters, baseUrl, knownTokens, throttle, rateLimit, logger, unavailableRetryAfter } = options
  const change = jobChanger(options.writes, options)
  return (req, res, fallback) => {
    const authorization = req.headers.authorization
    if (authorization === undefined) return fallback()
    const url = req.url ?? '/'
    let matched: ReturnType<typeof hotRequest>
    let version: string | undefined
    try {
      matched = hotRequest(req, url)
      if (matched?.hot.kind !== 'write') version = resolveVersion(firstHeader(req.headers['x-pco-api-version']))
    } catch {
      return fallback()
    }
    if (!matched) return fallback()
    const { route, hot } = matched
    const credential = presentedCredential(authorization)
    if (credential === undefined) return fallback()
    const { scope } = ROUTES[route]
    const known = knownTokens.find(credential.key)
    // A personal access token acts in every product; a bearer token only where its scopes say.
    if (!known || (known.method === 'OAuth2' && !known.scopes.includes(scope))) return fallback()
    try {
      throttle.check(clientAddress(req))
    } catch {
      return fallback()
    }
    const organizationId = known.organizationId

    const base = baseUrl()
    // The routes' own stages, with the caller's check and count folded into the statement that reads.
    const answer = async () => {
      if (hot.kind === 'read') {
        return respondWithRead(options, base, req, res, url, organizationId, async (columns) => {
          const { row, window, at } = await options.reads.read(credential, organizationId, hot.id, columns)
          return checked(window, at) ? { row } : undefined
        })
      }
      if (hot.kind === 'list') {
        return respondWithList(options, counters, base, req, res, url, organizationId, hot.list, async (start, columns) => {
          const { page, window, at } = await options.reads.page(credential, organizationId, start, columns)
          return checked(window, at) ? page : undefined
        })
      }
      const { window, at } = await options.reads.count(credential, organizationId)
      if (!checked(window, at)) return
      const asked = hot.asked(await readJsonBody(req, res))
      sendResponse(res, await change(options.db, { organizationId, id: hot.id, ...asked }), JSON_API_CONTENT_TYPE)
    }
    let begun = false
    answer().catch((error: unknown) => {
      // Before anything was counted or sent (the database unreachable, say), the app answers as it would.
      if (!begun) return fallback()
      sendFailure(logger, unavailableRetryAfter, error, res)
    })

    /** Whether the token was still valid: the request is then counted and this listener's to answer; else the app's. */
    function checked(window: Principal['window'], at: Date): boolean {
      if (window) {
        begin(window, at)
        return true
      }
      // Revoked, expired or gone since: the app looks it up and says which.
      knownTokens.forget(credential!.key)
      fallback()
      return false
    }
    /** The counted request is this listener's to answer from here on, with the app's headers. */
    function begin(window: NonNullable<Principal['window']>, at: Date) {
      begun = true
      ;(req as IncomingMessage & { principal?: Principal }).principal = {
        personId: known!.personId, organizationId, method: known!.method, scopes: known!.method === 'OAuth2' ? known!.scopes : [scope], window,
      }
      beginRequestLog(logger, req, res)
      setRoute(res, ROUTES[route].template)
      res.setHeader('X-PCO-API-Auth-Method', known!.method)
      setSharedHeaders(res)
      if (version !== undefined) res.setHeader('X-PCO-API-Processed-As-Version', version)
      applyWindow(url, res, window, at, rateLimit)
    }
  }
}

const firstHeader = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)
