// Who is calling: bearer tokens through passport-http-bearer, personal access tokens through HTTP Basic.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Request, RequestHandler } from 'express'
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
export function authMethodOf(req: { headers: IncomingHttpHeaders }): AuthMethod | 'None' {
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
  /** Where a bearer token is looked up (and a valid one's request counted, in the same statement). */
  counters: Knex
  rateLimitPeriod: number
  /**
   * Whether a valid bearer token's lookup also counts the request for the rate limit; off where the
   * request is counted by the statement that re-checks the credential (job-statuses/hot-routes.ts).
   */
  counts?: boolean
  /** Where a valid credential is remembered, for routes that re-check it in their own statement. */
  knownTokens?: KnownTokens
}

/** Who presents the request's credential; throws the 401 that says why not (and the 429 of the failure throttle). */
export type Identify = (req: IncomingMessage, res: ServerResponse) => Promise<Principal>

/**
 * Identifies the caller of every request it is asked about. Bearer tokens are checked by
 * passport-http-bearer with a verify function that reports why a token fails, so the 401 can carry
 * PCO's hint; an address with too many failures is refused before any credential is looked at.
 */
export function identifier({ db, now, scope, throttle, counters, rateLimitPeriod, counts = true, knownTokens }: AuthenticateOptions): Identify {
  // An instance of our own: passport's default export is one global, shared by every app in the process.
  const passport = new Passport()
  const strategyName = 'bearer'
  passport.use(
    strategyName,
    new BearerStrategy((token, done) => {
      findAccessTokenAndCount(counters, token, { now: now(), scope, periodSeconds: rateLimitPeriod, counts }).then((row) => {
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

  const bearer = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<Principal>((resolve, reject) => {
      const handler = passport.authenticate(strategyName, { session: false }, (error: unknown, principal: Principal | false, info: unknown) => {
        if (error) return reject(error)
        if (!principal) return reject(new Unauthorized(hintOf(info)))
        resolve(principal)
      }) as (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void
      handler(req, res, reject)
    })

  const basic = async (header: string): Promise<Principal> => {
    const credentials = parseBasic(header)
    if (!credentials) throw new BasicAccessDenied()
    const row = await findPersonalAccessToken(db, credentials.appId)
    if (!row || row.revoked_at || !secretMatches(credentials.secret, row.secret_digest)) throw new BasicAccessDenied()
    knownTokens?.remember(basicCredential(credentials.appId, credentials.secret).key, { personId: row.person_id, organizationId: row.organization_id, method: 'HTTPBasic', scopes: [] })
    // A personal access token acts as its person in every product, as PCO's do.
    return { personId: row.person_id, organizationId: row.organization_id, method: 'HTTPBasic', scopes: [scope] }
  }

  return async (req, res) => {
    const header = req.headers.authorization
    const method = authMethodOf(req)
    if (header === undefined || method === 'None') throw new Unauthorized(undefined, { challengeBasic: true })
    const address = clientAddress(req)
    throttle.check(address)
    try {
      return await (method === 'OAuth2' ? bearer(req, res) : basic(header))
    } catch (error) {
      if (error instanceof Unauthorized || error instanceof BasicAccessDenied) throttle.recordFailure(address)
      throw error
    }
  }
}

/** Authenticates every request it guards: `req.principal` is the caller, or the request fails with why not. */
export function authenticate(options: AuthenticateOptions): RequestHandler {
  const identify = identifier(options)
  return (req, res, next) => {
    identify(req, res).then((principal) => {
      req.principal = principal
      next()
    }, next)
  }
}
