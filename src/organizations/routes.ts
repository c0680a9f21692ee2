// GET /calendar/v2: the caller's Organization.
import { Router, type Request, type Response } from 'express'
import type { Knex } from 'knex'
import { principalOf } from '../auth/authenticate'
import { readDocument, selectAttributes, sendDocument, serializeResources, type ResourceType } from '../jsonapi/document'
import { MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { parseQueryString } from '../jsonapi/query-string'
import { findOrganization, type OrganizationRow } from './query'
import { ORGANIZATION_PATH, organizationResource } from './resource'

export interface OrganizationRoutesOptions {
  db: Knex
  baseUrl: () => string
  now: () => Date
}

/** Sends the caller's Organization as `resource` shows it: the root of /calendar/v2 and of /webhooks/v2. */
export async function sendOrganization({ db, baseUrl, now }: OrganizationRoutesOptions, req: Request, res: Response, resource: ResourceType<OrganizationRow>): Promise<void> {
  const row = await findOrganization(db, principalOf(req).organizationId)
  if (!row) throw new NotFound()
  const attributes = selectAttributes(resource, parseQueryString(req.originalUrl))
  const [data] = serializeResources(resource, [row], { attributes, baseUrl: baseUrl(), now: now() })
  sendDocument(res, readDocument(data!, undefined))
}

export function organizationRoutes(options: OrganizationRoutesOptions): Router {
  const router = Router()
  router
    .route(ORGANIZATION_PATH)
    .get((req, res) => sendOrganization(options, req, res, organizationResource))
    .all(() => {
      throw new MethodNotAllowed(['GET', 'HEAD', 'OPTIONS'])
    })
  return router
}
