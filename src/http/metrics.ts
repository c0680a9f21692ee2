// GET /metrics in Prometheus' text format (prom-client). The figures are this process's: with
// WORKERS > 1, scrape each worker, or sum what the load balancer's targets report.
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Knex } from 'knex'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { Forbidden, Unauthorized } from '../jsonapi/errors'

export const registry = new Registry()

/**
 * How often the event loop delay is sampled. Each sample is a timer that wakes the process: at
 * prom-client's default of 10 ms an idle process woke 100 times a second, and beside it, with
 * WORKERS=2, the busy worker moved between cores more often and walked every page about 10% slower
 * (docs/performance.md). Once a second still catches every stall of a second or more.
 */
const EVENT_LOOP_SAMPLE_MS = 1000

let collectingProcessMetrics = false

/** Starts the process metrics (CPU, memory, event loop delay), once, in a process that serves requests. */
export function collectProcessMetrics(): void {
  if (collectingProcessMetrics) return
  collectingProcessMetrics = true
  collectDefaultMetrics({ register: registry, prefix: 'pco_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
}

const requests = new Counter({
  name: 'pco_http_requests_total',
  help: 'Requests answered, by route template, method and status',
  labelNames: ['route', 'method', 'status'] as const,
  registers: [registry],
})

const durations = new Histogram({
  name: 'pco_http_request_duration_seconds',
  help: 'Time from a request arriving to its response being handed to the socket, by route template, method and status',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
})

/** Answers 503 database_unavailable, counted where every such answer is made (render-error.ts). */
export const databaseUnavailableAnswers = new Counter({
  name: 'pco_database_unavailable_responses_total',
  help: 'Requests answered 503 because the database could not be reached',
  registers: [registry],
})

export const rateLimitRefusals = new Counter({
  name: 'pco_rate_limit_refusals_total',
  help: "Requests refused with 429: `requests` for a person's request limit, `failed_authentications` for an address past its failures",
  labelNames: ['limit'] as const,
  registers: [registry],
})

export const authenticationFailures = new Counter({
  name: 'pco_authentication_failures_total',
  help: 'Credentials that did not authenticate: bad tokens, personal access tokens, client secrets, codes and passwords',
  registers: [registry],
})

export const cacheLookups = new Counter({
  name: 'pco_cache_lookups_total',
  help: 'Lookups in the in-process caches, by cache and whether the entry was there',
  labelNames: ['cache', 'result'] as const,
  registers: [registry],
})

export const webhookDeliveries = new Counter({
  name: 'pco_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by what became of the event: delivered, retrying, or deactivated (given up on, with its subscription)',
  labelNames: ['result'] as const,
  registers: [registry],
})

export const webhookDeliveryDuration = new Histogram({
  name: 'pco_webhook_delivery_duration_seconds',
  help: 'Time from sending a webhook delivery to the end of its answer (or to giving up on one)',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
})

export const eventStreamsOpen = new Gauge({
  name: 'pco_event_streams_open',
  help: 'Event streams this process holds open',
  registers: [registry],
})

/** The pools /metrics reports, by name; a process running more than one server (the tests) sums them. */
const pools = new Map<string, Set<Knex>>()

new Gauge({
  name: 'pco_database_pool_connections',
  help: 'Database connections by pool and state: used (lent to a request), free (idle), pending (requests waiting for one)',
  labelNames: ['pool', 'state'] as const,
  registers: [registry],
  collect() {
    this.reset()
    for (const [name, databases] of pools) {
      const totals = { used: 0, free: 0, pending: 0 }
      for (const db of databases) {
        const pool = (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool
        if (!pool) continue
        totals.used += pool.numUsed()
        totals.free += pool.numFree()
        totals.pending += pool.numPendingAcquires()
      }
      for (const [state, value] of Object.entries(totals)) this.set({ pool: name, state }, value)
    }
  },
})

/** Reports `db`'s pool as `name` until the returned function is called. */
export function watchPool(name: string, db: Knex): () => void {
  const set = pools.get(name) ?? new Set()
  pools.set(name, set.add(db))
  return () => void set.delete(db)
}

const ROUTE = Symbol('route')
type Routed = ServerResponse & { [ROUTE]?: string }

/** Names the route template a response answers, where the caller knows it without matching the path. */
export function setRoute(res: ServerResponse, template: string): void {
  ;(res as Routed)[ROUTE] = template
}

/**
 * Counts and times each request once its response is finished, labelled with the template of the
 * documented path it asked for (`/calendar/v2/job_statuses/{id}`), whichever stage answered it: a
 * 401 or 429 comes before any route matched. Other paths share one label, `unmatched`, so a scan
 * cannot grow the series.
 */
export function requestObserver(templates: readonly string[]): (req: IncomingMessage, res: ServerResponse) => void {
  const exact = new Set(templates.filter((template) => !template.includes('{')))
  const patterns = templates
    .filter((template) => template.includes('{'))
    .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
  const templateOf = (req: IncomingMessage, res: ServerResponse) => {
    const own = (res as Routed)[ROUTE]
    if (own) return own
    const path = (req.url ?? '/').split('?', 1)[0]!
    if (exact.has(path)) return path
    return patterns.find(({ pattern }) => pattern.test(path))?.template ?? 'unmatched'
  }
  return (req, res) => {
    const started = process.hrtime.bigint()
    res.once('finish', () => {
      const labels = { route: templateOf(req, res), method: req.method ?? 'GET', status: String(res.statusCode) }
      requests.inc(labels)
      durations.observe(labels, Number(process.hrtime.bigint() - started) / 1e9)
    })
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

/**
 * GET /metrics: open when the server listens on loopback only, else only with METRICS_TOKEN as a
 * bearer token (which, when set, is asked for on loopback too). Returns false for any other path.
 */
export interface MetricsEndpointOptions {
  token: string | undefined
  host: string
  /** Answers a refusal or a fault: the server's one renderer of failures (render-error.ts). */
  fail(error: unknown, res: ServerResponse): void
}

export function metricsEndpoint(options: MetricsEndpointOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`)
  return (req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    if (expected) {
      const given = Buffer.from(req.headers.authorization ?? '')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        options.fail(new Unauthorized(undefined), res)
        return true
      }
    } else if (!LOOPBACK.test(options.host)) {
      options.fail(new Forbidden('/metrics is served beyond loopback only with METRICS_TOKEN set'), res)
      return true
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : text)
      },
      (error: unknown) => options.fail(error, res),
    )
    return true
  }
}
