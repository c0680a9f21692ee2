// The demo organization a newcomer gets on first start, and a fresh token to try it with.
import type { Knex } from 'knex'
import { createAccessToken, createPerson, createPersonalAccessToken, findOrCreateCommandLineApplication } from './auth/credentials'
import { hashPassword } from './auth/passwords'
import { SCOPE_NAMES } from './auth/scopes'
import { generateSecret } from './auth/secrets'
import { insertJobStatuses } from './job-statuses/query'
import { createOrganization } from './organizations/query'

export const DEMO_JOB_STATUSES = 100
export const DEMO_EMAIL = 'demo@example.com'
const DEMO_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000

export interface Demo {
  organizationId: string
  personId: string
  /** Only on the start that created the organization: a PAT's secret cannot be shown twice. */
  personalAccessToken?: { appId: string; secret: string }
  bearerToken: string
  /** Signs in on the OAuth page (the API explorer's "Sign in") as DEMO_EMAIL; new every start, like the token. */
  password: string
}

/** Creates the demo organization once, and on every call mints a bearer token for its person. */
export async function ensureDemo(db: Knex, now: () => Date): Promise<Demo> {
  return db.transaction(async (trx) => {
    // One demo even when two processes start on an empty database at once.
    await trx.raw('SELECT pg_advisory_xact_lock(7366201)')
    const existing = await trx('organizations as o')
      .join('people as p', 'p.organization_id', 'o.id')
      .where('o.demo', true)
      .orderBy('p.id')
      .first('o.id as organization_id', 'p.id as person_id')
    let demo: Omit<Demo, 'bearerToken' | 'password'>
    if (existing) {
      demo = { organizationId: String(existing.organization_id), personId: String(existing.person_id) }
    } else {
      const organizationId = await createOrganization(trx, { name: 'Demo Church', demo: true })
      const personId = await createPerson(trx, organizationId, { name: 'Demo Person', email: DEMO_EMAIL })
      const personalAccessToken = await createPersonalAccessToken(trx, personId)
      await insertJobStatuses(trx, organizationId, DEMO_JOB_STATUSES, { createdBy: personId })
      demo = { organizationId, personId, personalAccessToken }
    }
    const applicationId = await findOrCreateCommandLineApplication(trx)
    const bearerToken = await createAccessToken(trx, {
      personId: demo.personId,
      applicationId,
      // Every scope: a newcomer can read, write jobs and subscribe a webhook with the one token printed.
      scopes: [...SCOPE_NAMES],
      expiresAt: new Date(now().getTime() + DEMO_TOKEN_LIFETIME_MS),
    })
    const password = generateSecret().slice(0, 16)
    await trx('people').where({ id: demo.personId }).update({ email: DEMO_EMAIL, password_digest: await hashPassword(password) })
    return { ...demo, bearerToken, password }
  })
}
