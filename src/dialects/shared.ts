// What the Zendesk and Xplenty dialects share: callers found by their dialect's credentials, and row access.
import type { ErrorRequestHandler, RequestHandler } from 'express'
import type { Knex } from 'knex'
import type { Principal } from '../auth/authenticate'
import { clientAddress, type FailureThrottle } from '../auth/failure-throttle'
import { findPersonByPassword } from '../auth/credentials'
import { digestSecret } from '../auth/secrets'
import { isStorableText } from '../db/storable'
import { toApiError } from '../http/render-error'
import { InvalidParameter, type ApiError } from '../jsonapi/errors'
import { valuesOf, type QueryPairs } from '../jsonapi/query-string'

/** HTTP Basic's user and password, or undefined for another scheme or a malformed header. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  if (!match) return undefined
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

type Found = { person_id: string | number; organization_id: string | number } | undefined

function principal(row: Found, method: Principal['method']): Principal | undefined {
  return row && { personId: String(row.person_id), organizationId: String(row.organization_id), method, scopes: ['calendar'] }
}

/** A personal access token's secret on its own, as an API key. */
export async function personByKey(db: Knex, key: string): Promise<Principal | undefined> {
  const row: Found = await db('personal_access_tokens as t')
    .join('people as p', 'p.id', 't.person_id')
    .where({ 't.secret_digest': digestSecret(key) })
    .whereNull('t.revoked_at')
    .first('t.person_id', 'p.organization_id')
  return principal(row, 'HTTPBasic')
}

/** Zendesk's `{email}/token:{api token}`: the person with that email, and one of their personal access tokens' secrets. */
export async function personByEmailAndKey(db: Knex, email: string, key: string): Promise<Principal | undefined> {
  if (!isStorableText(email)) return undefined
  const row: Found = await db('personal_access_tokens as t')
    .join('people as p', 'p.id', 't.person_id')
    .whereRaw('lower(p.email) = ?', [email.toLowerCase()])
    .where({ 't.secret_digest': digestSecret(key) })
    .whereNull('t.revoked_at')
    .first('t.person_id', 'p.organization_id')
  return principal(row, 'HTTPBasic')
}

export async function personByPassword(db: Knex, email: string, password: string): Promise<Principal | undefined> {
  const person = await findPersonByPassword(db, email, password)
  return principal(person && { person_id: person.id, organization_id: person.organization_id }, 'HTTPBasic')
}

/**
 * Authenticates a dialect's request: HTTP Basic by the dialect's own rule, anything else (a bearer
 * token) by the standard middleware. Failures count against the address like every other.
 */
export function dialectAuthentication(
  standard: RequestHandler,
  throttle: FailureThrottle,
  basic: (credentials: { user: string; password: string }) => Promise<Principal | undefined>,
  refuse: () => Error,
): RequestHandler {
  return (req, res, next) => {
    const credentials = basicCredentials(req.headers.authorization)
    if (!credentials) return standard(req, res, next)
    const address = clientAddress(req)
    throttle.check(address)
    basic(credentials).then((found) => {
      if (!found) {
        throttle.recordFailure(address)
        return next(refuse())
      }
      req.principal = found
      next()
    }, next)
  }
}

/** A dialect's own error bodies, from the same catalogue of failures. */
export function dialectErrors(contentType: string, body: (error: ApiError) => unknown, unavailableRetryAfter: number): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    const apiError = toApiError(error, unavailableRetryAfter)
    // Faults go to the one renderer, which logs them.
    if (apiError.status >= 500) return next(error)
    // A Buffer, so Express appends no charset: an error carries exactly the successes' media type.
    res.status(apiError.status).set(apiError.headers).set('Content-Type', contentType).send(Buffer.from(JSON.stringify(body(apiError))))
  }
}

/** A whole-number paging parameter: `fallback` when absent, a 400 below `min` or when not digits, clamped to `max`. */
export function countParameter(pairs: QueryPairs, name: string, { fallback, min, max }: { fallback: number; min: number; max: number }): number {
  const raw = valuesOf(pairs, name)[0]
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new InvalidParameter(name, `${name} must be a whole number of at least ${min}`)
  return Math.min(Number(raw), max)
}

/** The detail of a failure's standard body, for a dialect that words its own. */
export function errorDetail(error: ApiError, fallback: string): string {
  const body = error.body() as { errors?: Array<{ detail?: string }> }
  return body.errors?.[0]?.detail ?? fallback
}
