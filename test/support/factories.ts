// Test data: each test makes its own organization, so counts are exact and files run in parallel.
import { randomUUID } from 'node:crypto'
import type { Knex } from 'knex'
import { createAccessToken, createPerson, createPersonalAccessToken, findOrCreateCommandLineApplication } from '../../src/auth/credentials'
import { createOrganization } from '../../src/organizations/query'

export interface Tenant {
  organizationId: string
  personId: string
  /** A bearer token with the calendar scope, valid for two hours from `now`. */
  token: string
  pat: { appId: string; secret: string }
}

export async function createTenant(db: Knex, now = new Date()): Promise<Tenant> {
  const organizationId = await createOrganization(db, { name: `Org ${randomUUID()}` })
  const personId = await createPerson(db, organizationId, { name: 'Test Person' })
  const token = await createToken(db, personId, { expiresAt: new Date(now.getTime() + 7200_000) })
  const pat = await createPersonalAccessToken(db, personId)
  return { organizationId, personId, token, pat }
}

export async function createToken(
  db: Knex,
  personId: string,
  { scopes = ['calendar'], expiresAt = null as Date | null } = {},
): Promise<string> {
  return createAccessToken(db, { personId, applicationId: await findOrCreateCommandLineApplication(db), scopes, expiresAt })
}

export interface JobStatusAttributes {
  status?: string
  message?: string | null
  errors?: unknown
  retries?: number
  started_at?: string | null
}

export async function insertJobStatus(db: Knex, organizationId: string, attributes: JobStatusAttributes = {}): Promise<string> {
  const { errors, ...rest } = attributes
  const [row] = await db('job_statuses')
    .insert({ organization_id: organizationId, ...rest, ...(errors === undefined ? {} : { errors: JSON.stringify(errors) }) })
    .returning('id')
  return String(row.id)
}

/** Ids of `count` inserted job statuses, in insertion (and so id) order. */
export async function insertJobStatuses(db: Knex, organizationId: string, count: number): Promise<string[]> {
  if (count === 0) return []
  const rows = await db('job_statuses')
    .insert(Array.from({ length: count }, (_, i) => ({ organization_id: organizationId, message: `job ${i + 1}` })))
    .returning('id')
  return rows.map((row: { id: string | number }) => String(row.id))
}
