// GET /calendar/v2/job_statuses and /calendar/v2/job_statuses/{id}: parse, query, render.
import { Router, type Request } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { answeredNotModified, listDocument, readDocument, selectAttributes, sendDocument, serializeResources, weakEtag } from '../jsonapi/document'
import { MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import { pageLinks, pageMeta, parsePage } from '../jsonapi/pagination'
import { parseQueryString } from '../jsonapi/query-string'
import { CAN_ORDER_BY, CAN_QUERY_BY, parseListQuery } from './parameters'
import { PositionCache } from './positions'
import { findJobStatus, listJobStatuses, listResults, type JobStatusRow } from './query'
import { JOB_STATUSES_PATH, jobStatusResource, type JobStatusWithResults } from './resource'

/** What a document's rows contribute to its ETag: anything that changes a row bumps updated_at. */
const rowVersion = (row: JobStatusRow) => `${row.id}@${new Date(row.updated_at).getTime()}`

/** Attaches per-task results when the request named them in fields[JobStatus]. */
async function withResults(db: Knex, rows: JobStatusRow[], attributes: readonly string[]): Promise<JobStatusWithResults[]> {
  if (!attributes.includes('results')) return rows
  const results = await listResults(db, rows.map((row) => row.id))
  return rows.map((row) => ({ ...row, results: results.get(row.id) ?? [] }))
}

export function jobStatusRoutes(db: Knex, baseUrl: () => string): Router {
  const router = Router()
  const positions = new PositionCache(db)
  const readOnly = () => {
    throw new MethodNotAllowed(['GET', 'HEAD', 'OPTIONS'])
  }
  const parent = (req: Request) => ({ id: principalOf(req).organizationId, type: 'Organization' })

  router
    .route(JOB_STATUSES_PATH)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const { filter, order } = parseListQuery(pairs)
      const attributes = selectAttributes(jobStatusResource, pairs)
      const { rows, totalCount } = await listJobStatuses(db, positions, organizationId, page, filter, order)
      if (answeredNotModified(req, res, weakEtag(baseUrl(), req.originalUrl, totalCount, ...rows.map(rowVersion)))) return
      const meta = { ...pageMeta(page, rows.length, totalCount), can_order_by: CAN_ORDER_BY, can_query_by: CAN_QUERY_BY }
      const links = pageLinks(baseUrl(), JOB_STATUSES_PATH, pairs, meta)
      const data = serializeResources(jobStatusResource, await withResults(db, rows, attributes), attributes, baseUrl())
      sendDocument(res, listDocument(links, data, meta, parent(req)))
    })
    .all(readOnly)

  router
    .route(`${JOB_STATUSES_PATH}/:id`)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const id = parseId(req.params.id as string)
      // Another organization's job answers exactly like a missing one (wire contract §2).
      const row = id === undefined ? undefined : await findJobStatus(db, organizationId, id)
      if (!row) throw new NotFound()
      const attributes = selectAttributes(jobStatusResource, parseQueryString(req.originalUrl))
      if (answeredNotModified(req, res, weakEtag(baseUrl(), req.originalUrl, rowVersion(row)))) return
      const [data] = serializeResources(jobStatusResource, await withResults(db, [row], attributes), attributes, baseUrl())
      sendDocument(res, readDocument(data!, parent(req)))
    })
    .all(readOnly)

  return router
}
