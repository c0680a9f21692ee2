// GET /calendar/v2: the caller's Organization.
import { Router } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { readDocument, selectAttributes, sendDocument, serializeResources } from '../jsonapi/document'
import { MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { parseQueryString } from '../jsonapi/query-string'
import { findOrganization } from './query'
import { ORGANIZATION_PATH, organizationResource } from './resource'

export function organizationRoutes(db: Knex, baseUrl: () => string): Router {
  const router = Router()
  router
    .route(ORGANIZATION_PATH)
    .get(async (req, res) => {
      const row = await findOrganization(db, principalOf(req).organizationId)
      if (!row) throw new NotFound()
      const attributes = selectAttributes(organizationResource, parseQueryString(req.originalUrl))
      const [data] = serializeResources(organizationResource, [row], attributes, baseUrl())
      sendDocument(res, readDocument(data!, undefined))
    })
    .all(() => {
      throw new MethodNotAllowed(['GET', 'HEAD', 'OPTIONS'])
    })
  return router
}
