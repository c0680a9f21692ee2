// The requests that carry a job-status service's traffic, for every caller: a page of the list, a read,
// a progress report and a PATCH. One pipeline of stages, ahead of the Express app that answers the rest.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import { authMethodOf, type Identify, type Principal } from '../auth/authenticate'
import { clientAddress, type FailureThrottle } from '../auth/failure-throttle'
import type { KnownToken, KnownTokens } from '../auth/known-tokens'
import { presentedCredential, type PresentedCredential } from '../auth/presented'
import { applyWindow, type RateLimitRules } from '../auth/rate-limit'
import { resolveVersion } from '../http/api-version'
import { setSharedHeaders } from '../http/cors'
import { idempotently, sendStored } from '../http/idempotency'
import { readJsonBody } from '../http/json-body'
import { setRoute } from '../http/metrics'
import { sendFailure } from '../http/render-error'
import { beginRequestLog } from '../http/request-log'
import { JSON_API_CONTENT_TYPE } from '../jsonapi/document'
import { NotFound, Unauthorized } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import type { JobChange } from './commands'
import { isPlainList } from './query'
import type { Checked, ReadBatcher } from './read-batch'
import { JOB_STATUSES_PATH } from './resource'
import { parseList, respondWithList, respondWithRead, respondWithSearch, type Answering, type JobStatusRoutesOptions } from './routes'
import type { WriteBatcher } from './write-batch'
import { jobChanger, JOBS_PATH, patchOf, progressOf } from './write-routes'

type Scope = 'calendar' | 'jobs'

export interface HotRouteOptions extends JobStatusRoutesOptions {
  /** The connections that count requests, where the shared statements run (see openCounterDatabase). */
  counters: Knex
  knownTokens: KnownTokens
  /** Who presents a credential this process has not seen valid yet, for each scope (auth/authenticate.ts). */
  identify: Record<Scope, Identify>
  throttle: FailureThrottle
  rateLimit: RateLimitRules
  logger: Logger
  unavailableRetryAfter: number
  reads: ReadBatcher
  writes: WriteBatcher
  /** Seconds an Idempotency-Key is kept. */
  idempotencyKeyTtl: number
}

/** Answers the request, or calls `next` having sent nothing, for the Express app to answer. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse, next: () => void) => void

/** Each hot route: the scope its caller needs, and its template as the OpenAPI document names it (for /metrics). */
const ROUTES = {
  list: { scope: 'calendar', template: JOB_STATUSES_PATH },
  read: { scope: 'calendar', template: `${JOB_STATUSES_PATH}/{id}` },
  patch: { scope: 'jobs', template: `${JOBS_PATH}/{id}` },
  progress: { scope: 'jobs', template: `${JOBS_PATH}/{id}/progress` },
} as const

type RouteName = keyof typeof ROUTES

const READ_PATH = new RegExp(`^${JOB_STATUSES_PATH}/([^/]+)$`)
const PATCH_PATH = new RegExp(`^${JOBS_PATH}/([^/]+)$`)
const PROGRESS_PATH = new RegExp(`^${JOBS_PATH}/([^/]+)/progress$`)

/** A request target in absolute form (`http://host/path?query`, as proxies send it) as its path and query, as the app's routers read it. */
function originForm(target: string): string {
  if (target.startsWith('/')) return target
  try {
    const { pathname, search } = new URL(target)
    return pathname + search
  } catch {
    return target
  }
}

const pathOf = (url: string) => {
  const query = url.indexOf('?')
  return query < 0 ? url : url.slice(0, query)
}

/** The hot route a method and path ask for, with the path's id segment; anything else is the app's. */
function routeOf(method: string | undefined, path: string): { name: RouteName; segment?: string } | undefined {
  // One trailing slash names the same route, as it does to the app's routers.
  const route = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
  const segment = (pattern: RegExp) => pattern.exec(route)?.[1]
  const named = (name: RouteName, found: string | undefined) => (found === undefined ? undefined : { name, segment: found })
  if (method === 'GET' || method === 'HEAD') return route === JOB_STATUSES_PATH ? { name: 'list' } : named('read', segment(READ_PATH))
  if (method === 'PATCH') return named('patch', segment(PATCH_PATH))
  if (method === 'POST') return named('progress', segment(PROGRESS_PATH))
  return undefined
}

/**
 * The job an id segment names; undefined for one that names none (404), a URIError for one that is
 * not valid percent-encoding (400), each once the caller is counted, as the app's routes answer.
 */
const idIn = (segment: string) => parseId(decodeURIComponent(segment))

/** Who is calling: the credential presented, and what never changes about it. */
interface Caller {
  credential: PresentedCredential
  token: KnownToken
}

/**
 * The stages of every hot request:
 *
 *   begin (request id and log, route label, the headers every answer carries)
 *   → version (the Calendar's routes) → caller (known tokens, else identified by auth/authenticate.ts)
 *   → check and count, in a statement shared with the requests that arrive together, which also
 *     reads the job or page (read-batch.ts); a write's change joins those of the same turn (write-batch.ts)
 *   → the route's own stages (routes.ts respondWithList, respondWithSearch, respondWithRead;
 *     write-routes.ts's parsing and jobChanger)
 *
 * and any failure is answered by render-error.ts, after the request was counted: a 401 and a 429
 * come before a 400 or 404, as they do on the app's routes. The caches are consulted by the stages:
 * known tokens by the caller stage; held pages, pages built ahead and page positions by the list's.
 * A credential the known tokens hold is still re-checked by the counting statement, so a revoked or
 * expired one is refused at its next request, and identified afresh to say why.
 */
export function hotRoutes(options: HotRouteOptions): RequestListener {
  const { counters, baseUrl, knownTokens, identify, throttle, rateLimit, logger, unavailableRetryAfter, reads } = options
  const change = jobChanger(options.writes, options)
  const keys = { now: options.now, ttlSeconds: options.idempotencyKeyTtl }

  return (req, res, next) => {
    const url = originForm(req.url ?? '/')
    const route = routeOf(req.method, pathOf(url))
    if (!route) return next()
    const { name, segment } = route
    const { scope, template } = ROUTES[name]
    beginRequestLog(logger, req, res)
    setRoute(res, template)
    res.setHeader('X-PCO-API-Auth-Method', authMethodOf(req))
    setSharedHeaders(res)

    let caller: Caller | undefined
    let counted = false
    answer().catch(async (error: unknown) => {
      // Every request its caller made is counted, refused ones too; past the limit, the 429 is the answer.
      if (caller && !counted) error = await count().then(() => error, (refusal: unknown) => refusal)
      sendFailure(logger, unavailableRetryAfter, error, res)
    })

    async function answer() {
      if (scope === 'calendar') res.setHeader('X-PCO-API-Processed-As-Version', resolveVersion(firstHeader(req.headers['x-pco-api-version'])))
      const { credential, token } = (caller = await callerOf())
      const { personId, organizationId, method } = token
      ;(req as IncomingMessage & { principal?: Principal }).principal = { personId, organizationId, method, scopes: method === 'OAuth2' ? token.scopes : [scope] }
      const answering: Answering = { baseUrl: baseUrl(), req, res, url, organizationId }
      const id = segment === undefined ? undefined : idIn(segment)

      if (name === 'list') {
        const list = parseList(url)
        if (!isPlainList(list.filter, list.order)) {
          await count()
          return respondWithSearch(options, answering, list)
        }
        return respondWithList(options, counters, answering, list, async (start, columns) => {
          const { page, ...checked } = await reads.page(credential, organizationId, start, columns)
          await admit(checked)
          return page!
        })
      }
      if (name === 'read') {
        return respondWithRead(options, answering, async (columns) => {
          if (id === undefined) return undefined
          const { row, ...checked } = await reads.read(credential, organizationId, id, columns)
          await admit(checked)
          return row
        })
      }
      await count()
      const body = await readJsonBody(req, res)
      const asked = name === 'patch' ? patchOf(body) : progressOf(body)
      if (id === undefined) throw new NotFound()
      const written = { key: firstHeader(req.headers['idempotency-key']), method: req.method!, path: pathOf(url), body }
      const response = await idempotently(options.db, written, personId, keys, (db) => change(db, { organizationId, id, ...asked } satisfies JobChange))
      sendStored(res, response, JSON_API_CONTENT_TYPE)
    }

    /** The caller: a credential this process has seen valid (the counting statement re-checks it), or one identified now. */
    async function callerOf(): Promise<Caller> {
      const credential = presentedCredential(req.headers.authorization)
      const known = credential && knownTokens.find(credential.key)
      // A personal access token acts in every product; a bearer token only where its scopes say.
      if (known && (known.method === 'HTTPBasic' || known.scopes.includes(scope))) {
        throttle.check(clientAddress(req))
        return { credential: credential!, token: known }
      }
      // Asks for the throttle too, after a missing credential's 401.
      const token = await identify[scope](req, res)
      // identify accepts only a credential presentedCredential reads.
      if (!credential) throw new Unauthorized(undefined)
      return { credential, token }
    }

    /** Checks and counts the request with nothing to read, in the shared statement. */
    async function count() {
      await admit(await reads.count(caller!.credential, caller!.token.organizationId))
    }

    /**
     * The request as the shared statement checked and counted it: its rate-limit headers, or the 429
     * past the limit. A credential no longer in force is forgotten, and identified afresh to say why.
     */
    async function admit({ window, at }: Checked) {
      counted = true
      if (!window) {
        knownTokens.forget(caller!.credential.key)
        await identify[scope](req, res)
        // Valid again since the statement ran (a revocation undone by hand): refused this once, known again.
        throw new Unauthorized(undefined)
      }
      applyWindow(url, res, window, at, rateLimit)
    }
  }
}

const firstHeader = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)
