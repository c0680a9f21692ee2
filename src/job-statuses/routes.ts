// GET /calendar/v2/job_statuses and /calendar/v2/job_statuses/{id}: parse, query, render.
import { Router } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { listDocument, readDocument, selectAttributes, sendDocument, serializeResources } from '../jsonapi/document'
import { MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { parseId } from '../jsonapi/format'
import { pageLinks, pageMeta, parsePage } from '../jsonapi/pagination'
import { parseQueryString } from '../jsonapi/query-string'
import { PositionCache } from './positions'
import { findJobStatus, listJobStatuses } from './query'
import { JOB_STATUSES_PATH, jobStatusResource } from './resource'

export function jobStatusRoutes(db: Knex, baseUrl: () => string): Router {
  const router = Router()
  const positions = new PositionCache(db)
  const readOnly = () => {
    throw new MethodNotAllowed(['GET', 'HEAD', 'OPTIONS'])
  }

  router
    .route(JOB_STATUSES_PATH)
    .get(async (req, res) => {
      const { organizationId } = principalOf(req)
      const pairs = parseQueryString(req.originalUrl)
      const page = parsePage(pairs)
      const attributes = selectAttributes(jobStatusResource, pairs)
      const { rows, totalCount } = await listJobStatuses(db, positions, organizationId, page)
      const meta = { ...pageMeta(page, rows.length, totalCount), can_order_by: [], can_query_by: [] }
      const links = pageLinks(baseUrl(), JOB_STATUSES_PATH, pairs, meta)
      const data = serializeResources(jobStatusResource, rows, attributes, baseUrl())
      sendDocument(res, listDocument(links, data, meta, { id: organizationId, type: 'Organization' }))
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
      const [data] = serializeResources(jobStatusResource, [row], attributes, baseUrl())
      sendDocument(res, readDocument(data!, { id: organizationId, type: 'Organization' }))
    })
    .all(readOnly)

  return router
}
