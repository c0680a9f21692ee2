// createApp(deps): the middleware pipeline and routers, with no I/O of its own.
import type { IncomingMessage, ServerResponse } from 'node:http'
import compression from 'compression'
import express from 'express'
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import { authenticate, authMethodOf, identifier } from './auth/authenticate'
import { FailureThrottle } from './auth/failure-throttle'
import { oauthRoutes } from './auth/oauth/routes'
import { KnownTokens } from './auth/known-tokens'
import { rateLimit } from './auth/rate-limit'
import type { CacheName, Config } from './config'
import { apiVersion, CALENDAR_VERSIONS, WEBHOOKS_VERSIONS } from './http/api-version'
import { cors } from './http/cors'
import { healthChecks } from './http/health'
import { metricsEndpoint, requestObserver } from './http/metrics'
import { openApiDocument } from './openapi/document'
import { explorerRoutes } from './explorer/routes'
import { renderError, sendFailure } from './http/render-error'
import { requestLog } from './http/request-log'
import { NotFound } from './jsonapi/errors'
import { xplentyRoutes } from './dialects/xplenty'
import { zendeskRoutes } from './dialects/zendesk'
import { hotRoutes } from './job-statuses/hot-routes'
import { ReadBatcher } from './job-statuses/read-batch'
import { jobStatusRoutes } from './job-statuses/routes'
import { PageCache } from './job-statuses/pages'
import { PositionCache } from './job-statuses/positions'
import type { JobStatusNotifications } from './job-statuses/notifications'
import { jobWriteRoutes } from './job-statuses/write-routes'
import { WriteBatcher } from './job-statuses/write-batch'
import { organizationRoutes } from './organizations/routes'
import type { SecretKey } from './webhooks/secrets'
import { webhookRoutes } from './webhooks/routes'

export interface AppDeps {
  db: Knex
  /** Where requests are counted for the rate limit (see openCounterDatabase). */
  counters: Knex
  config: Config
  logger: Logger
  /** The server's clock; tests move it instead of sleeping. */
  now: () => Date
  /** Tells watchers of a job when it changed, in any process. */
  notifications: JobStatusNotifications
  /** Scheme and host for every link, never taken from the request's Host (see docs/architecture.md). */
  baseUrl: () => string
  /** Seals webhook subscriptions' secrets. */
  webhookKey: SecretKey
  /** Told when a webhook event is queued again, so that it goes out at once. */
  wakeDeliveries: () => void
}

/** Answers every request: the job-status traffic through its own pipeline (hot-routes.ts), the rest through the Express app. */
export function createApp({ db, counters, config, logger, now, baseUrl, notifications, webhookKey, wakeDeliveries }: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express()
  app.disable('x-powered-by')
  // Documents carry ETags computed from their rows (jsonapi/document.ts), errors none.
  app.set('etag', false)
  // Query strings are parsed by jsonapi/query-string.ts from the raw URL; Express's own parse is kept simple.
  app.set('query parser', 'simple')

  app.use(requestLog(logger))
  app.use((req, res, next) => {
    res.set('X-PCO-API-Auth-Method', authMethodOf(req))
    next()
  })
  app.use(cors)

  const throttle = new FailureThrottle({ limit: config.authFailureLimit, periodSeconds: config.authFailurePeriod, now })
  app.use(oauthRoutes({ db, now, throttle, baseUrl }))
  // Before the Calendar router: the OpenAPI document under /calendar/v2/open_api needs no credentials.
  app.use(explorerRoutes(baseUrl))

  const calendar = express.Router()
  // Everything under /calendar is authenticated, unknown paths included, as on PCO.
  calendar.use((req, _res, next) => next(/^\/calendar(\/|$)/.test(req.path) ? undefined : 'router'))
  calendar.use(apiVersion(CALENDAR_VERSIONS))
  const rules = { limit: config.rateLimit, deepOffsetLimit: config.rateLimitDeepOffset, periodSeconds: config.rateLimitPeriod }
  // CACHES_OFF (for the benchmark's with-and-without figures) leaves a cache with no room: it never hits.
  const off = (name: CacheName) => config.cachesOff.has(name)
  const knownTokens = new KnownTokens(off('known_tokens') ? 0 : undefined)
  const positions = new PositionCache(db, off('positions') ? 0 : undefined)
  const pages = new PageCache({
    capacityBytes: off('pages') ? 0 : undefined,
    aheadPages: off('pages_ahead') ? 0 : undefined,
    compressedCapacityBytes: off('compressed_pages') ? 0 : undefined,
  })
  calendar.use(authenticate({ db, now, scope: 'calendar', throttle, counters, rateLimitPeriod: config.rateLimitPeriod, knownTokens }))
  calendar.use(rateLimit({ db: counters, now, ...rules }))
  calendar.use(organizationRoutes({ db, baseUrl, now }))
  calendar.use(jobStatusRoutes())
  app.use(calendar)

  // The Zendesk and Xplenty dialects read the same store, with the PCO surface's bearer tokens and limits.
  const dialectBearer = authenticate({ db, now, scope: 'calendar', throttle, counters, rateLimitPeriod: config.rateLimitPeriod })
  const dialectRateLimit = rateLimit({ db: counters, limit: config.rateLimit, deepOffsetLimit: config.rateLimitDeepOffset, periodSeconds: config.rateLimitPeriod, now })
  const dialect = { db, baseUrl, throttle, bearer: dialectBearer, rateLimit: dialectRateLimit, unavailableRetryAfter: config.unavailableRetryAfter, now }
  app.use(zendeskRoutes(dialect))
  app.use(xplentyRoutes(dialect))

  const jobs = express.Router()
  jobs.use((req, _res, next) => next(/^\/jobs(\/|$)/.test(req.path) ? undefined : 'router'))
  jobs.use(authenticate({ db, now, scope: 'jobs', throttle, counters, rateLimitPeriod: config.rateLimitPeriod, knownTokens }))
  jobs.use(
    rateLimit({ db: counters, limit: config.rateLimit, deepOffsetLimit: config.rateLimitDeepOffset, periodSeconds: config.rateLimitPeriod, now }),
  )
  jobs.use(jobWriteRoutes({ db, baseUrl, now, notifications, maxEventStreams: config.eventStreamsMax, retryAfter: config.unavailableRetryAfter, idempotencyKeyTtl: config.idempotencyKeyTtl }))
  app.use(jobs)

  const webhooks = express.Router()
  webhooks.use((req, _res, next) => next(/^\/webhooks(\/|$)/.test(req.path) ? undefined : 'router'))
  webhooks.use(apiVersion(WEBHOOKS_VERSIONS))
  webhooks.use(authenticate({ db, now, scope: 'webhooks', throttle, counters, rateLimitPeriod: config.rateLimitPeriod }))
  webhooks.use(
    rateLimit({ db: counters, limit: config.rateLimit, deepOffsetLimit: config.rateLimitDeepOffset, periodSeconds: config.rateLimitPeriod, now }),
  )
  webhooks.use(webhookRoutes({ db, baseUrl, now, key: webhookKey, allow: config.webhookAllow, onRequeue: wakeDeliveries }))
  app.use(webhooks)

  app.use(() => {
    throw new NotFound()
  })
  app.use(renderError(logger, config.unavailableRetryAfter))

  // The list, read, progress report and PATCH of job statuses, for every caller; a credential is
  // identified here only when the known tokens do not hold it, and its request counted by the
  // statement that re-checks it.
  const identify = (scope: 'calendar' | 'jobs') =>
    identifier({ db, now, scope, throttle, counters, rateLimitPeriod: config.rateLimitPeriod, counts: false, knownTokens })
  const hot = hotRoutes({
    db, counters, baseUrl, now, positions, pages, knownTokens, throttle, rateLimit: rules, logger,
    identify: { calendar: identify('calendar'), jobs: identify('jobs') },
    unavailableRetryAfter: config.unavailableRetryAfter, idempotencyKeyTtl: config.idempotencyKeyTtl,
    reads: new ReadBatcher(counters, now, config.rateLimitPeriod), writes: new WriteBatcher(db, now),
  })
  const health = healthChecks(db, config.unavailableRetryAfter)
  const metrics = metricsEndpoint({
    token: config.metricsToken,
    host: config.host,
    fail: (error, res) => sendFailure(logger, config.unavailableRetryAfter, error, res),
  })
  const observeRequest = requestObserver(Object.keys(openApiDocument('').paths))
  const compress = compression({
    // Event streams are written as they happen; a compressor would hold them back.
    filter: (req, res) => !String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream') && compression.filter(req, res),
  })
  return (req, res) => {
    if (health(req, res)) return
    observeRequest(req, res)
    compress(req as express.Request, res as express.Response, () => {
      if (!metrics(req, res)) hot(req, res, () => app(req, res))
    })
  }
}
