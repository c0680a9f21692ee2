// The two hot reads for a caller this process has seen before, answered ahead of the Express app.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticate'
import { clientAddress, type FailureThrottle } from '../auth/failure-throttle'
import type { KnownTokens } from '../auth/known-tokens'
import { applyWindow, type RateLimitRules } from '../auth/rate-limit'
import { digestSecret } from '../auth/secrets'
import { resolveVersion } from '../http/api-version'
import { setSharedHeaders } from '../http/cors'
import { sendFailure } from '../http/render-error'
import { beginRequestLog } from '../http/request-log'
import { selectAttributes } from '../jsonapi/document'
import { NotFound } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import { parseQueryString } from '../jsonapi/query-string'
import { columnsFor, isPlainList } from './query'
import type { ReadBatcher } from './read-batch'
import { JOB_STATUSES_PATH, jobStatusResource } from './resource'
import { parseList, respondWithList, sendRead, type JobStatusRoutesOptions, type ParsedList } from './routes'
import { setRoute } from '../http/metrics'

export interface KnownCallerOptions extends JobStatusRoutesOptions {
  /** The connections that count requests, where the hot statements run (see openCounterDatabase). */
  counters: Knex
  knownTokens: KnownTokens
  throttle: FailureThrottle
  rateLimit: RateLimitRules
  logger: Logger
  unavailableRetryAfter: number
  reads: ReadBatcher
}

/** Handles the request, or calls `fallback` having sent nothing, for the Express app to answer. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse, fallback: () => void) => void

/** The read's route template, as the OpenAPI document names it (for /metrics). */
const READ_TEMPLATE = `${JOB_STATUSES_PATH}/{id}`
const READ_PATH = new RegExp(`^${JOB_STATUSES_PATH}/([^/]+)$`)
const BEARER = /^Bearer ([^\s]+)$/i

/**
 * GET (or HEAD) of a plain job status list or of one job status, with a bearer token this process
 * has already seen valid: the token is re-checked and the request counted in a statement shared with
 * the requests that arrive together (read-batch.ts, which also reads a job), and the answer is
 * written without the Express app's middleware chain, which cost a measurable share of these
 * requests (docs/performance.md). The headers are the chain's own, set by the same functions.
 * Anything else goes to the app before a byte is sent: an unknown or no longer valid token (the app
 * says why), a personal access token, a filtered or reordered list, a bad parameter or version (a
 * 400 comes after authentication there).
 */
export function knownCallers(options: KnownCallerOptions): RequestListener {
  const { counters, baseUrl, knownTokens, throttle, rateLimit, logger, unavailableRetryAfter } = options
  return (req, res, fallback) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return fallback()
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const path = query < 0 ? url : url.slice(0, query)
    const isList = path === JOB_STATUSES_PATH
    const readId = isList ? undefined : READ_PATH.exec(path)?.[1]
    if (!isList && readId === undefined) return fallback()
    const token = BEARER.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined) return fallback()
    const digest = digestSecret(token)
    const known = knownTokens.find(digest)
    if (!known || !known.scopes.includes('calendar')) return fallback()

    let list: ParsedList | undefined
    let id: string | undefined
    let version: string
    try {
      throttle.check(clientAddress(req))
      version = resolveVersion(firstHeader(req.headers['x-pco-api-version']))
      if (isList) list = parseList(url)
      else id = parseId(decodeURIComponent(readId!))
    } catch {
      return fallback()
    }
    if ((list && !isPlainList(list.filter, list.order)) || (!isList && id === undefined)) return fallback()

    const base = baseUrl()
    const answer = async () => {
      if (list) {
        const { window, at } = await options.reads.count(digest, known.organizationId)
        if (!window) return forget()
        begin(window, at)
        await respondWithList(options, counters, base, req, res, url, known.organizationId, list)
      } else {
        const attributes = selectAttributes(jobStatusResource, parseQueryString(url))
        const { row, window, at } = await options.reads.read(digest, known.organizationId, id!, columnsFor(attributes))
        if (!window) return forget()
        begin(window, at)
        if (!row) throw new NotFound()
        await sendRead(options.db, base, req, res, url, known.organizationId, row, attributes)
      }
    }
    let begun = false
    answer().catch((error: unknown) => {
      // Before anything was counted or sent (the database unreachable, say), the app answers as it would.
      if (!begun) return fallback()
      sendFailure(logger, unavailableRetryAfter, error, res)
    })

    function forget() {
      // Revoked, expired or gone since: the app looks it up and says which.
      knownTokens.forget(digest)
      fallback()
    }
    /** The counted request is this listener's to answer from here on, with the app's headers. */
    function begin(window: NonNullable<Principal['window']>, at: Date) {
      begun = true
      ;(req as IncomingMessage & { principal?: Principal }).principal = {
        personId: known!.personId, organizationId: known!.organizationId, method: 'OAuth2', scopes: known!.scopes, window,
      }
      beginRequestLog(logger, req, res)
      setRoute(res, list ? JOB_STATUSES_PATH : READ_TEMPLATE)
      res.setHeader('X-PCO-API-Auth-Method', 'OAuth2')
      setSharedHeaders(res)
      res.setHeader('X-PCO-API-Processed-As-Version', version)
      applyWindow(url, res, window, at, rateLimit)
    }
  }
}

const firstHeader = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)
