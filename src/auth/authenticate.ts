// Who is calling: bearer tokens through passport-http-bearer, personal access tokens through HTTP Basic.
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { Passport } from 'passport'
import { Strategy as BearerStrategy } from 'passport-http-bearer'
import type { Knex } from 'knex'
import { BasicAccessDenied, Unauthorized, type UnauthorizedHint } from '../jsonapi/errors'
import { findAccessTokenAndCount, findPersonalAccessToken } from './credentials'
import { clientAddress, type FailureThrottle } from './failure-throttle'
import type { Window } from './rate-limit'
import type { KnownTokens } from './known-tokens'
import { basicCredential, bearerCredential, parseBasic, type AuthMethod } from './presented'
import { secretMatches } from './secrets'

export type { AuthMethod } from './presented'

export interface Principal {
  readonly personId: string
  readonly organizationId: string
  readonly method: AuthMethod
  readonly scopes: readonly string[]
  /** The OAuth application a bearer token was issued to; none for a personal access token. */
  readonly applicationId?: string
  /** The rate-limit window, when authenticating already counted this request. */
  readonly window?: Window
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal
  }
}

/** The caller, set by `authenticate`; a route behind it can rely on it. */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error('principalOf called on a route without authenticate')
  return req.principal
}

/** The value of `X-PCO-API-Auth-Method`, from the scheme the client sent ("None" without one). */
export function authMethodOf(req: Request): AuthMethod | 'None' {
  const scheme = /^\s*(\S+)/.exec(req.headers.authorization ?? '')?.[1]?.toLowerCase()
  if (scheme === 'bearer') return 'OAuth2'
  if (scheme === 'basic') return 'HTTPBasic'
  return 'None'
}

/** passport-http-bearer reports a failure as an RFC 6750 challenge; its error_description is the hint. */
function hintOf(challenge: unknown): UnauthorizedHint {
  const description = typeof challenge === 'string' ? /error_description="([A-Z]+)"/.exec(challenge)?.[1] : undefined
  return HINTS.find((hint) => hint === description)
}

const HINTS: readonly UnauthorizedHint[] = ['BABOON', 'CAPUCHIN', 'PELICAN', 'CHINCHILLA']

export interface AuthenticateOptions {
  db: Knex
  now: () => Date
  /** The scope a bearer token must hold for this surface (`calendar` for /calendar/v2). */
  scope: string
  throttle: FailureThrottle
  /** Where a valid bearer token's request is counted, in the same statement as its lookup. */
  counters: Knex
  rateLimitPeriod: number
  /** Where a valid credential is remembered, for routes that re-check it in their own statement. */
  knownTokens?: KnownTokens
}

/**
 * Authenticates every request it guards. Bearer tokens are checked by passport-http-bearer with a
 * verify function that reports why a token fails, so the 401 can carry PCO's hint.
 */
export function authenticate({ db, now, scope, throttle, counters, rateLimitPeriod, knownTokens }: AuthenticateOptions): RequestHandler {
  // An instance of our own: passport's default export is one global, shared by every app in the process.
  const passport = new Passport()
  const strategyName = 'bearer'
  passport.use(
    strategyName,
    new BearerStrategy((token, done) => {
      findAccessTokenAndCount(counters, token, { now: now(), scope, periodSeconds: rateLimitPeriod }).then((row) => {
        let hint: UnauthorizedHint
        if (!row) hint = undefined
        else if (row.revoked_at && row.revoked_at <= now()) hint = 'CAPUCHIN'
        else if (row.expires_at && row.expires_at <= now()) hint = 'BABOON'
        else if (!row.scopes.includes(scope)) hint = 'PELICAN'
        else {
          const principal: Principal = {
            personId: row.person_id,
            organizationId: row.organization_id,
            method: 'OAuth2',
            scopes: row.scopes,
            applicationId: row.application_id,
            ...(row.window ? { window: row.window } : {}),
          }
          knownTokens?.remember(bearerCredential(token).key, { personId: row.person_id, organizationId: row.organization_id, method: 'OAuth2', scopes: row.scopes })
          return done(null, principal)
        }
        return done(null, false, hint ?? '')
      }, done)
    }),
  )

  const bearer = (req: Request, res: Response, next: NextFunction) => {
    const handler = passport.authenticate(
      strategyName,
      { session: false },
      (error: unknown, principal: Principal | false, info: unknown) => {
        if (error) return next(error)
        if (!principal) return next(new Unauthorized(hintOf(info)))
        req.principal = principal
        next()
      },
    ) as RequestHandler
    handler(req, res, next)
  }

  const basic = async (req: Request, header: string) => {
    const credentials = parseBasic(header)
    if (!credentials) throw new BasicAccessDenied()
    const row = await findPersonalAccessToken(db, credentials.appId)
    if (!row || row.revoked_at || !secretMatches(credentials.secret, row.secret_digest)) throw new BasicAccessDenied()
    // A personal access token acts as its person in every product, as PCO's do.
    req.principal = { personId: row.person_id, organizationId: row.organization_id, method: 'HTTPBasic', scopes: [scope] }
    knownTokens?.remember(basicCredential(credentials.appId, credentials.secret).key, { personId: row.person_id, organizationId: row.organization_id, method: 'HTTPBasic', scopes: [] })
  }

  return (req, res, next) => {
    const header = req.headers.authorization
    const method = authMethodOf(req)
    if (header === undefined || method === 'None') return next(new Unauthorized(undefined, { challengeBasic: true }))
    const address = clientAddress(req)
    throttle.check(address)
    const done = (error?: unknown) => {
      if (error instanceof Unauthorized || error instanceof BasicAccessDenied) throttle.recordFailure(address)
      next(error)
    }
    if (method === 'OAuth2') return bearer(req, res, done)
    basic(req, header).then(() => done(), done)
  }
}
