// Data access for people and their credentials: personal access tokens, applications, bearer tokens.
import type { Knex } from 'knex'
import { COUNT_REQUEST, windowBindings, type Window } from './rate-limit'
import { isStorableText } from '../db/storable'
import { hashPassword, verifyAgainstNobody, verifyPassword } from './passwords'
import { digestSecret, generateSecret } from './secrets'

export interface AccessTokenRow {
  person_id: string
  application_id: string
  organization_id: string
  scopes: string[]
  expires_at: Date | null
  revoked_at: Date | null
}

export interface PersonalAccessTokenRow {
  person_id: string
  organization_id: string
  secret_digest: string
  revoked_at: Date | null
}

/** A bearer token `t` neither revoked nor expired at :now. */
export const TOKEN_IN_FORCE = '(t.revoked_at IS NULL OR t.revoked_at > :now) AND (t.expires_at IS NULL OR t.expires_at > :now)'

/**
 * Looks a bearer token up and, when it is valid for `scope` (and `counts`), counts the request in its
 * person's rate-limit window, in one statement. Runs on the counters connections (synchronous_commit off).
 */
export async function findAccessTokenAndCount(
  db: Knex,
  token: string,
  { now, scope, periodSeconds, counts = true }: { now: Date; scope: string; periodSeconds: number; counts?: boolean },
): Promise<(AccessTokenRow & { window?: Window }) | undefined> {
  const { rows } = await db.raw(
    `WITH token AS (
       SELECT t.person_id, t.application_id, p.organization_id, t.scopes, t.expires_at, t.revoked_at,
              (${TOKEN_IN_FORCE} AND :scope = ANY(t.scopes)) AS valid
       FROM oauth_access_tokens AS t JOIN people AS p ON p.id = t.person_id
       WHERE t.token_digest = :digest
     ), counted AS (
       ${COUNT_REQUEST("SELECT 'person:' || person_id, :now::timestamptz, 1 FROM token WHERE valid AND :counts")}
       RETURNING count, window_started_at
     )
     SELECT token.*, counted.count, counted.window_started_at FROM token LEFT JOIN counted ON true`,
    windowBindings(now, periodSeconds, { digest: digestSecret(token), scope, counts }),
  )
  const [row] = rows as Array<Record<string, unknown>>
  if (!row) return undefined
  return {
    person_id: String(row.person_id),
    application_id: String(row.application_id),
    organization_id: String(row.organization_id),
    scopes: row.scopes as string[],
    expires_at: row.expires_at === null ? null : new Date(row.expires_at as string),
    revoked_at: row.revoked_at === null ? null : new Date(row.revoked_at as string),
    ...(row.count === null || row.count === undefined
      ? {}
      : { window: { count: Number(row.count), startedAt: new Date(row.window_started_at as string) } }),
  }
}

export async function findPersonalAccessToken(db: Knex, appId: string): Promise<PersonalAccessTokenRow | undefined> {
  const row = await db('personal_access_tokens as t')
    .join('people as p', 'p.id', 't.person_id')
    .where('t.app_id', appId)
    .first('t.person_id', 'p.organization_id', 't.secret_digest', 't.revoked_at')
  return row && { ...row, person_id: String(row.person_id), organization_id: String(row.organization_id) }
}

/**
 * The person an email and password sign in as, or undefined. An unknown email costs the same work
 * as a wrong password; a digest made with older parameters is replaced once the password is known.
 */
export async function findPersonByPassword(db: Knex, email: string, password: string): Promise<{ id: string; organization_id: string } | undefined> {
  const normalized = email.trim().toLowerCase()
  const row = normalized && isStorableText(normalized)
    ? await db('people').whereRaw('lower(email) = ?', [normalized]).orderBy('id').first('id', 'organization_id', 'password_digest')
    : undefined
  if (!row?.password_digest) return verifyAgainstNobody(password).then(() => undefined)
  const { matches, outdated } = await verifyPassword(password, row.password_digest)
  if (!matches) return undefined
  if (outdated) await db('people').where({ id: row.id, password_digest: row.password_digest }).update({ password_digest: await hashPassword(password) })
  return { id: String(row.id), organization_id: String(row.organization_id) }
}

export async function createPerson(
  db: Knex,
  organizationId: string,
  attributes: { name: string; email?: string; password_digest?: string },
): Promise<string> {
  const [row] = await db('people').insert({ organization_id: organizationId, ...attributes }).returning('id')
  return String(row.id)
}

/** Creates a personal access token and returns its secret, which is never stored. */
export async function createPersonalAccessToken(db: Knex, personId: string): Promise<{ appId: string; secret: string }> {
  const appId = generateSecret()
  const secret = generateSecret()
  await db('personal_access_tokens').insert({ person_id: personId, app_id: appId, secret_digest: digestSecret(secret) })
  return { appId, secret }
}

/** The application that tokens minted by the command-line tool and the demo belong to. */
export async function findOrCreateCommandLineApplication(db: Knex): Promise<string> {
  const name = 'Command line'
  const existing = await db('oauth_applications').where({ name, client_secret_digest: '' }).orderBy('id').first('id')
  if (existing) return String(existing.id)
  // No secret digest can match an empty string, so nobody can sign in as this application.
  const [row] = await db('oauth_applications')
    .insert({ name, client_id: `cli-${generateSecret().slice(0, 16)}`, client_secret_digest: '', scopes: ['calendar'] })
    .returning('id')
  return String(row.id)
}

export interface NewAccessToken {
  personId: string
  applicationId: string
  scopes: readonly string[]
  expiresAt: Date | null
}

/** Creates a bearer token and returns it; only its digest is stored. */
export async function createAccessToken(db: Knex, token: NewAccessToken): Promise<string> {
  const secret = generateSecret()
  await db('oauth_access_tokens').insert({
    person_id: token.personId,
    application_id: token.applicationId,
    token_digest: digestSecret(secret),
    scopes: [...token.scopes],
    expires_at: token.expiresAt,
  })
  return secret
}
