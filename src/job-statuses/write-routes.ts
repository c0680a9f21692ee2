// The write API for workers and test harnesses, under /jobs/v1: PCO's own surface stays read-only.
import { Router, type Request } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { idempotently, idempotentRequest, sendStored, type StoredResponse } from '../http/idempotency'
import { jsonBody } from '../http/json-body'
import { JSON_API_CONTENT_TYPE, listDocument, readDocument, sendDocument, serializeResources, type ResourceType } from '../jsonapi/document'
import { InvalidAttribute, MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { formatTimestamp, parseId } from '../jsonapi/format'
import { pageLinks, pageMeta, parsePage } from '../jsonapi/pagination'
import { parseQueryString } from '../jsonapi/query-string'
import { attributesOf as attributesOfDocument, object, type Json } from '../jsonapi/request-document'
import { appendResults, createJobStatus, MAX_COUNT, transitionJobStatus, type JobChange, type NewResult, type Output, type Scenario } from './commands'
import { eventStreams } from './event-streams'
import { isStatus, STATUSES } from './lifecycle'
import type { JobStatusNotifications } from './notifications'
import { findJobStatus, listResults, pageResults, type JobStatusRow, type PagedResult } from './query'
import { jobStatusResource, type JobStatusWithResults } from './resource'
import type { WriteBatcher } from './write-batch'

export const JOBS_PATH = '/jobs/v1/job_statuses'
export const MAX_RESULTS_PER_APPEND = 10_000

/** The same JobStatus, with every attribute and links into this namespace. */
const jobResource: ResourceType<JobStatusWithResults> = {
  ...jobStatusResource,
  attributes: Object.keys(jobStatusResource.fields).filter((name) => name !== 'results').sort(),
  links: (row, baseUrl) => ({
    self: `${baseUrl}${JOBS_PATH}/${row.id}`,
    pco: `${baseUrl}/calendar/v2/job_statuses/${row.id}`,
    results: `${baseUrl}${JOBS_PATH}/${row.id}/results`,
  }),
}

/** One per-task result, paged under its job; `task_id` is the worker's own id for the task. */
const resultResource: ResourceType<PagedResult> = {
  type: 'JobStatusResult',
  fields: {
    action: (row) => row.action,
    created_at: (row) => formatTimestamp(row.createdAt),
    errors: (row) => row.errors,
    status: (row) => row.status,
    success: (row) => row.success,
    task_id: (row) => row.taskId,
    title: (row) => row.title,
  },
  attributes: ['action', 'created_at', 'errors', 'status', 'success', 'task_id', 'title'],
  links: () => ({}),
}

/** `data.attributes` of a JobStatus request document. */
const attributesOf = (req: Request): Json => attributesOfDocument(req.body, 'JobStatus')

function optional<T>(attributes: Json, name: string, check: (value: unknown) => boolean, expected: string): T | undefined {
  const value = attributes[name]
  if (value === undefined) return undefined
  if (!check(value)) throw new InvalidAttribute(`/data/attributes/${name}`, `${name} must be ${expected}`)
  return value as T
}

const isCount = (value: unknown) => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_COUNT
const isText = (max: number) => (value: unknown) => value === null || (typeof value === 'string' && value.length <= max)
const isJson = (value: unknown) => typeof value === 'object' && value !== null

function outputsOf(attributes: Json): Output[] | undefined {
  const outputs = optional<unknown[]>(attributes, 'outputs', Array.isArray, 'an array of {name, records_count, url}')
  return outputs?.map((output, i) => {
    const pointer = `/data/attributes/outputs/${i}`
    const o = object(output, pointer)
    if (typeof o.name !== 'string') throw new InvalidAttribute(`${pointer}/name`, 'an output needs a name')
    if (o.records_count !== undefined && o.records_count !== null && !isCount(o.records_count)) {
      throw new InvalidAttribute(`${pointer}/records_count`, 'records_count must be a whole number')
    }
    if (o.url !== undefined && o.url !== null && (typeof o.url !== 'string' || !URL.canParse(o.url))) {
      throw new InvalidAttribute(`${pointer}/url`, 'url must be an absolute URL')
    }
    return { name: o.name, records_count: (o.records_count as number | undefined) ?? null, url: (o.url as string | undefined) ?? null }
  })
}

function scenarioOf(attributes: Json): Scenario | undefined {
  if (attributes.scenario === undefined) return undefined
  const pointer = '/data/attributes/scenario'
  const s = object(attributes.scenario, pointer)
  const duration = s.duration_seconds
  const total = s.total
  if (typeof duration !== 'number' || !(duration > 0 && duration <= 86_400)) throw new InvalidAttribute(`${pointer}/duration_seconds`, 'duration_seconds must be more than 0 and at most 86400')
  if (!Number.isInteger(total) || (total as number) < 1 || (total as number) > 100_000) throw new InvalidAttribute(`${pointer}/total`, 'total must be a whole number from 1 to 100000')
  const scenario: Scenario = { duration_seconds: duration, total: total as number }
  for (const name of ['fail_at_task', 'kill_at_task'] as const) {
    const value = s[name]
    if (value === undefined) continue
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > scenario.total) {
      throw new InvalidAttribute(`${pointer}/${name}`, `${name} must be a task number from 1 to total`)
    }
    scenario[name] = value as number
  }
  if (scenario.fail_at_task && scenario.kill_at_task) throw new InvalidAttribute(pointer, 'a scenario fails or is killed, not both')
  return scenario
}

function resultsOf(req: Request): NewResult[] {
  const data = object(req.body, '').data
  if (!Array.isArray(data) || data.length === 0 || data.length > MAX_RESULTS_PER_APPEND) {
    throw new InvalidAttribute('/data', `/data must be an array of 1 to ${MAX_RESULTS_PER_APPEND} results`)
  }
  return data.map((item, i) => {
    const r = object(item, `/data/${i}`)
    const text = (name: string) => {
      const value = r[name]
      if (value === undefined || value === null) return null
      if (typeof value === 'string' || typeof value === 'number') return String(value)
      throw new InvalidAttribute(`/data/${i}/${name}`, `${name} must be a string`)
    }
    if (r.success !== undefined && r.success !== null && typeof r.success !== 'boolean') throw new InvalidAttribute(`/data/${i}/success`, 'success must be true or false')
    return { id: text('id'), idIsNumber: typeof r.id === 'number', action: text('action'), success: (r.success as boolean | undefined) ?? null, status: text('status'), errors: r.errors ?? null, title: text('title') }
  })
}

/** What a progress report's body asks for; throws the 400s. */
export function progressOf(body: unknown): Omit<JobChange, 'organizationId' | 'id'> {
  const attributes = attributesOfDocument(body, 'JobStatus')
  const increment = optional<number>(attributes, 'increment', (v) => isCount(v) && (v as number) >= 1, `a whole number from 1 to ${MAX_COUNT}`) ?? 1
  const message = optional<string>(attributes, 'message', isText(10_000), 'a string')
  return { increment, set: message === undefined || message === null ? {} : { message } }
}

/** What a PATCH's body asks for; throws the 400s. */
export function patchOf(body: unknown): Omit<JobChange, 'organizationId' | 'id'> {
  const attributes = attributesOfDocument(body, 'JobStatus')
  if (attributes.status !== undefined) {
    throw new InvalidAttribute('/data/attributes/status', `status changes through POST ${JOBS_PATH}/{id}/transitions`)
  }
  const set = {
    kind: optional<string | null>(attributes, 'kind', isText(200), 'a string'),
    total: optional<number | null>(attributes, 'total', (v) => v === null || isCount(v), `a whole number from 0 to ${MAX_COUNT}`),
    progress: optional<number>(attributes, 'progress', isCount, `a whole number from 0 to ${MAX_COUNT}`),
    message: optional<string | null>(attributes, 'message', isText(10_000), 'a string'),
    errors: optional<unknown>(attributes, 'errors', isJson, 'a JSON object or array'),
    outputs: outputsOf(attributes),
  }
  return { set: Object.fromEntries(Object.entries(set).filter(([, value]) => value !== undefined)) }
}

/** Where a write's answer links to, and the clock its job's runtime counts to. */
export interface WriteAnswerOptions {
  baseUrl: () => string
  now: () => Date
}

/** The job as a write answers it: every attribute, and with its results when asked. */
export function jobRenderer({ baseUrl, now }: WriteAnswerOptions) {
  return async (db: Knex, row: JobStatusRow, withResults = false): Promise<string> => {
    const rows: JobStatusWithResults[] = withResults ? [{ ...row, results: (await listResults(db, [row.id])).get(row.id) ?? [] }] : [row]
    const attributes = withResults ? [...jobResource.attributes, 'results'].sort() : jobResource.attributes
    const [data] = serializeResources(jobResource, rows, { attributes, baseUrl: baseUrl(), now: now() })
    return JSON.stringify(readDocument(data!, { id: row.organization_id, type: 'Organization' }))
  }
}

/** Applies a progress report or PATCH (batched unless `db` is a transaction) and renders the answer. */
export function jobChanger(writes: WriteBatcher, answers: WriteAnswerOptions) {
  const render = jobRenderer(answers)
  return async (db: Knex, change: JobChange): Promise<StoredResponse> => {
    const row = await writes.apply(db, change)
    if (!row) throw new NotFound()
    return { status: 200, body: await render(db, row) }
  }
}

export interface WriteRoutesOptions {
  db: Knex
  baseUrl: () => string
  now: () => Date
  notifications: JobStatusNotifications
  /** How many event streams this process keeps open at once; one more answers 503. */
  maxEventStreams: number
  /** Seconds a client is told to wait before trying again (Retry-After). */
  retryAfter: number
  /** Seconds an Idempotency-Key is kept. */
  idempotencyKeyTtl: number
}

export function jobWriteRoutes({ db, baseUrl, now, notifications, maxEventStreams, retryAfter, idempotencyKeyTtl }: WriteRoutesOptions): Router {
  const keys = { now, ttlSeconds: idempotencyKeyTtl }
  // Case-sensitive, as the hot routes (hot-routes.ts) match their paths.
  const router = Router({ caseSensitive: true })
  router.use(JOBS_PATH, jsonBody())

  const render = jobRenderer({ baseUrl, now })
  const idOf = (req: Request) => {
    const id = parseId(req.params.id as string)
    if (id === undefined) throw new NotFound()
    return id
  }
  const found = (row: JobStatusRow | undefined) => {
    if (!row) throw new NotFound()
    return row
  }
  const notAllowed = (allowed: string[]) => () => {
    throw new MethodNotAllowed(allowed)
  }

  router
    .route(JOBS_PATH)
    .post(async (req, res) => {
      const { organizationId, personId } = principalOf(req)
      const attributes = attributesOf(req)
      const job = {
        kind: optional<string | null>(attributes, 'kind', isText(200), 'a string'),
        total: optional<number | null>(attributes, 'total', (v) => v === null || isCount(v), `a whole number from 0 to ${MAX_COUNT}`),
        message: optional<string | null>(attributes, 'message', isText(10_000), 'a string'),
        errors: optional<unknown>(attributes, 'errors', isJson, 'a JSON object or array'),
        outputs: outputsOf(attributes),
        scenario: scenarioOf(attributes),
      }
      const response = await idempotently(db, idempotentRequest(req), personId, keys, async (trx) => {
        const row = await createJobStatus(trx, organizationId, personId, job, now())
        return { status: 201, body: await render(trx, row), location: `${baseUrl()}${JOBS_PATH}/${row.id}` }
      })
      sendStored(res, response, JSON_API_CONTENT_TYPE)
    })
    .all(notAllowed(['POST', 'OPTIONS']))

  // A PATCH of a job, like a progress report, is answered by hot-routes.ts; other methods here.
  router
    .route(`${JOBS_PATH}/:id`)
    .get(async (req, res) => {
      const row = found(await findJobStatus(db, principalOf(req).organizationId, idOf(req)))
      res.set('Content-Type', JSON_API_CONTENT_TYPE).send(await render(db, row, true))
    })
    .all(notAllowed(['GET', 'PATCH', 'OPTIONS']))

  // Server-Sent Events: the job now, then again at every change made through any process, until it ends.
  const stream = eventStreams({ db, notifications, render: (row) => render(db, row), maxStreams: maxEventStreams, retryAfter })
  router
    .route(`${JOBS_PATH}/:id/events`)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const id = idOf(req)
      found(await findJobStatus(db, organizationId, id))
      await stream(req, res, organizationId, id)
    })
    .all(notAllowed(['GET', 'OPTIONS']))

  router.route(`${JOBS_PATH}/:id/progress`).all(notAllowed(['POST', 'OPTIONS']))

  router
    .route(`${JOBS_PATH}/:id/results`)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const row = found(await findJobStatus(db, organizationId, idOf(req)))
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const results = await pageResults(db, row.id, page.offset, page.perPage)
      const path = `${JOBS_PATH}/${row.id}/results`
      const data = serializeResources(resultResource, results, { attributes: resultResource.attributes, baseUrl: baseUrl(), now: now() })
      const meta = pageMeta(page, results.length, row.results_count)
      const document = listDocument(pageLinks(baseUrl(), path, pairs, meta), data, { ...meta, can_order_by: [], can_query_by: [] }, { id: row.id, type: 'JobStatus' })
      sendDocument(res, document)
    })
    .post(async (req, res) => {
      const { organizationId, personId } = principalOf(req)
      const id = idOf(req)
      const results = resultsOf(req)
      const response = await idempotently(db, idempotentRequest(req), personId, keys, async (trx) => {
        const row = found(await appendResults(trx, organizationId, id, results, now()))
        return { status: 200, body: await render(trx, row) }
      })
      sendStored(res, response, JSON_API_CONTENT_TYPE)
    })
    .all(notAllowed(['GET', 'POST', 'OPTIONS']))

  router
    .route(`${JOBS_PATH}/:id/transitions`)
    .post(async (req, res) => {
      const attributes = attributesOf(req)
      const to = attributes.status
      if (!isStatus(to)) throw new InvalidAttribute('/data/attributes/status', `status must be one of ${STATUSES.join(', ')}`)
      const changes = {
        message: optional<string | null>(attributes, 'message', isText(10_000), 'a string'),
        errors: optional<unknown>(attributes, 'errors', isJson, 'a JSON object or array'),
      }
      const { organizationId, personId } = principalOf(req)
      const id = idOf(req)
      const response = await idempotently(db, idempotentRequest(req), personId, keys, async (trx) => {
        const row = found(await transitionJobStatus(trx, organizationId, id, to, changes, now()))
        return { status: 200, body: await render(trx, row) }
      })
      sendStored(res, response, JSON_API_CONTENT_TYPE)
    })
    .all(notAllowed(['POST', 'OPTIONS']))

  return router
}
