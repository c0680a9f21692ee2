// The OAuth 2 provider's endpoints: /oauth/authorize (sign-in and consent), /oauth/token and /oauth/revoke.
import OAuth2Server, { OAuthError, Request as OAuthRequest, Response as OAuthResponse } from '@node-oauth/oauth2-server'
import express, { Router, type Request, type RequestHandler, type Response } from 'express'
import type { Knex } from 'knex'
import { clientAddress, type FailureThrottle } from '../failure-throttle'
import { findPersonByPassword } from '../credentials'
import { createModel, findApplication, isPublicClient, resolveRedirectUris, revokeClientToken, type OAuthClient, type SavedToken } from './model'
import { consentPage, errorPage } from './pages'

/** Planning Center's lifetimes (wire contract §9). */
export const ACCESS_TOKEN_LIFETIME = 7200
export const REFRESH_TOKEN_LIFETIME = 365 * 24 * 3600
export const AUTHORIZATION_CODE_LIFETIME = 600

/** Planning Center's words for every invalid_grant (wire contract §9). */
const INVALID_GRANT =
  'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.'

const SUPPORTED_GRANTS = ['authorization_code', 'refresh_token']

const AUTHORIZE_PARAMETERS = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method'] as const

type Parameters = Partial<Record<(typeof AUTHORIZE_PARAMETERS)[number], string>> & {
  /** A parameter sent more than once, which RFC 6749 §3.1 forbids: the request is refused, naming it. */
  repeated?: string
}

/** A failure that must not redirect: the redirect_uri itself is not trusted. */
class AuthorizePageError extends Error {
  constructor(
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail)
  }
}

/** A failure reported to the client by redirecting to its (verified) redirect_uri (RFC 6749 §4.1.2.1). */
class AuthorizeRedirectError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description)
  }
}

const VSCHARS = /^[\x20-\x7e]+$/
const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/

function pickParameters(source: Record<string, unknown>): Parameters {
  const parameters: Parameters = {}
  for (const name of AUTHORIZE_PARAMETERS) {
    const value = source[name]
    if (Array.isArray(value)) parameters.repeated ??= name
    else if (typeof value === 'string' && value !== '') parameters[name] = value
  }
  return parameters
}

function redirectWith(redirectUri: string, values: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(values)) if (value !== undefined) url.searchParams.set(name, value)
  return url.toString()
}

const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'Content-Type': 'text/html; charset=utf-8',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
}

export interface OAuthRoutesOptions {
  db: Knex
  now: () => Date
  throttle: FailureThrottle
  /** Registered redirect URIs that are paths (the explorer's `/explorer/`) are resolved against it. */
  baseUrl: () => string
}

type CheckedClient = { client: OAuthClient & { public: boolean }; redirectUri: string }

export function oauthRoutes({ db, now, throttle, baseUrl }: OAuthRoutesOptions): Router {
  const model = createModel(db, now, baseUrl)
  const server = new OAuth2Server({
    model,
    accessTokenLifetime: ACCESS_TOKEN_LIFETIME,
    refreshTokenLifetime: REFRESH_TOKEN_LIFETIME,
    authorizationCodeLifetime: AUTHORIZATION_CODE_LIFETIME,
    allowEmptyState: true,
    alwaysIssueNewRefreshToken: true,
  })
  const router = Router()
  const parseForm = express.urlencoded({ extended: false, limit: '16kb' })
  // RFC 6749 §3.1: a parameter must not be sent more than once; the parser makes an array of one that is.
  const form: RequestHandler[] = [
    parseForm,
    (req, res, next) => {
      const repeated = Object.entries((req.body ?? {}) as Record<string, unknown>).find(([, value]) => typeof value !== 'string')?.[0]
      if (repeated === undefined) return next()
      res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
      res.status(400).json({ error: 'invalid_request', error_description: `The parameter ${JSON.stringify(repeated)} was sent more than once` })
    },
  ]

  /** Finds the application and the redirect_uri to answer to; until both are verified nothing may redirect. */
  async function checkClient(parameters: Parameters): Promise<CheckedClient> {
    // Which of two client_ids or redirect_uris to trust cannot be known: nothing may redirect.
    if (parameters.repeated) throw new AuthorizePageError('Repeated parameter', `The parameter ${parameters.repeated} was sent more than once.`)
    const application = parameters.client_id ? await findApplication(db, parameters.client_id) : undefined
    if (!application || application.secretDigest === '') {
      throw new AuthorizePageError('Unknown application', 'The client_id does not name a registered application.')
    }
    const client = { ...resolveRedirectUris(application, baseUrl()), public: isPublicClient(application) }
    const { redirectUris } = client
    if (parameters.redirect_uri === undefined) {
      if (redirectUris.length !== 1) {
        throw new AuthorizePageError('Missing redirect_uri', 'This application has several redirect URIs: the request must name one.')
      }
      return { client, redirectUri: redirectUris[0]! }
    }
    // Exact string match, as RFC 6749 §3.1.2.3 asks: no prefix, case or normalization leeway.
    if (!redirectUris.includes(parameters.redirect_uri)) {
      throw new AuthorizePageError('Invalid redirect_uri', 'The redirect_uri does not match any URI registered for this application.')
    }
    return { client, redirectUri: parameters.redirect_uri }
  }

  /** The rest of the request, whose faults are reported to the application by redirect. */
  function checkParameters(client: CheckedClient['client'], parameters: Parameters): void {
    // RFC 6749 §A.5: VSCHAR only. Refused here, before a password is asked for: the OAuth library
    // refuses it at Allow and would send the application an error without its state.
    if (parameters.state !== undefined && !VSCHARS.test(parameters.state)) {
      throw new AuthorizeRedirectError('invalid_request', 'state must be printable ASCII characters (RFC 6749 appendix A.5)')
    }
    if (parameters.response_type !== 'code') {
      throw new AuthorizeRedirectError('unsupported_response_type', 'response_type must be code')
    }
    if (client.public && parameters.code_challenge === undefined) {
      throw new AuthorizeRedirectError('invalid_request', 'A public client must send a PKCE code_challenge')
    }
    const scopes = parameters.scope?.split(' ').filter(Boolean)
    if (scopes && !scopes.every((scope) => client.scopes.includes(scope))) {
      throw new AuthorizeRedirectError('invalid_scope', `This application may ask only for: ${client.scopes.join(' ')}`)
    }
    if (parameters.code_challenge !== undefined && !CODE_CHALLENGE.test(parameters.code_challenge)) {
      throw new AuthorizeRedirectError('invalid_request', 'code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, "-", ".", "_" and "~" (RFC 7636 §4.2)')
    }
    if (parameters.code_challenge !== undefined && parameters.code_challenge_method !== 'S256') {
      throw new AuthorizeRedirectError('invalid_request', 'code_challenge_method must be S256')
    }
    if (parameters.code_challenge === undefined && parameters.code_challenge_method !== undefined) {
      throw new AuthorizeRedirectError('invalid_request', 'code_challenge_method was sent without code_challenge')
    }
  }

  /** Runs an authorize step, turning its failures into the error page or a redirect. */
  async function authorizeStep(res: Response, parameters: Parameters, step: (checked: CheckedClient) => Promise<void>) {
    let checked: CheckedClient
    try {
      checked = await checkClient(parameters)
    } catch (error) {
      if (!(error instanceof AuthorizePageError)) throw error
      res.status(400).set(PAGE_HEADERS).send(errorPage(error.title, error.detail))
      return
    }
    try {
      checkParameters(checked.client, parameters)
      await step(checked)
    } catch (error) {
      if (!(error instanceof AuthorizeRedirectError)) throw error
      res.redirect(302, redirectWith(checked.redirectUri, { error: error.error, error_description: error.description, state: parameters.state }))
    }
  }

  router.get('/oauth/authorize', async (req, res) => {
    const parameters = pickParameters(req.query as Record<string, unknown>)
    await authorizeStep(res, parameters, async ({ client, redirectUri }) => {
      const scopes = parameters.scope?.split(' ').filter(Boolean) ?? client.scopes
      res.status(200).set(PAGE_HEADERS).send(consentPage({ applicationName: client.name, scopes, parameters: { ...parameters, redirect_uri: redirectUri } }))
    })
  })

  router.post('/oauth/authorize', ...form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>
    const parameters = pickParameters(body)
    await authorizeStep(res, parameters, async ({ client, redirectUri }) => {
      if (body.decision !== 'allow') {
        res.redirect(302, redirectWith(redirectUri, { error: 'access_denied', error_description: 'The person denied the request', state: parameters.state }))
        return
      }
      const scopes = parameters.scope?.split(' ').filter(Boolean) ?? client.scopes
      const email = typeof body.email === 'string' ? body.email.trim().toLowerCase() : ''
      const password = typeof body.password === 'string' ? body.password : ''
      const rerender = (status: number, error: string) => {
        res.status(status).set(PAGE_HEADERS).send(consentPage({ applicationName: client.name, scopes, parameters: { ...parameters, redirect_uri: redirectUri }, email, error }))
      }

      const address = clientAddress(req)
      try {
        throttle.check(address)
      } catch {
        return rerender(429, 'Too many failed sign-ins from this address. Wait a minute and try again.')
      }
      const person = await findPersonByPassword(db, email, password)
      if (!person) {
        throttle.recordFailure(address)
        return rerender(401, 'Email or password is incorrect.')
      }

      const request = new OAuthRequest({ headers: {}, method: 'POST', query: {}, body: { ...parameters, redirect_uri: redirectUri } })
      const response = new OAuthResponse({ headers: {} })
      try {
        await server.authorize(request, response, { authenticateHandler: { handle: async () => ({ id: String(person.id) }) } })
      } catch (error) {
        if (!(error instanceof OAuthError) || !response.get('location')) throw unwrap(error)
      }
      res.redirect(302, response.get('location') as string)
    })
  })

  router.post('/oauth/token', ...form, async (req, res) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    const address = clientAddress(req)
    try {
      throttle.check(address)
    } catch {
      return res.status(429).json({ error: 'slow_down', error_description: 'Too many failed requests from this address: retry later.' })
    }
    const grantType = req.body?.grant_type
    // The library also knows the password and client_credentials grants; this server offers neither.
    if (typeof grantType === 'string' && !SUPPORTED_GRANTS.includes(grantType)) {
      return res.status(400).json({ error: 'unsupported_grant_type', error_description: 'grant_type must be authorization_code or refresh_token' })
    }
    const request = new OAuthRequest({ headers: req.headers as Record<string, string>, method: req.method, query: {}, body: req.body ?? {} })
    const response = new OAuthResponse({ headers: {} })
    try {
      const token = (await server.token(request, response)) as SavedToken
      // Planning Center's token response, key for key (wire contract §9).
      res.status(200).json({
        access_token: token.accessToken,
        token_type: 'bearer',
        expires_in: ACCESS_TOKEN_LIFETIME,
        refresh_token: token.refreshToken,
        scope: token.scope.join(' '),
        created_at: Math.floor(token.createdAt.getTime() / 1000),
      })
    } catch (error) {
      if (!(error instanceof OAuthError) || error.name === 'server_error') throw unwrap(error)
      // RFC 6749 §5.2: a redirect_uri that differs from the authorization request's is invalid_grant.
      const name = error.name === 'invalid_request' && /redirect_uri/.test(error.message) && req.body?.code ? 'invalid_grant' : error.name
      if (name === 'invalid_grant' || name === 'invalid_client') throttle.recordFailure(address)
      const status = name === 'invalid_client' ? 401 : 400
      if (name === 'invalid_client') res.set('WWW-Authenticate', 'Basic realm="Application"')
      res.status(status).json({ error: name, error_description: name === 'invalid_grant' ? INVALID_GRANT : error.message })
    }
  })

  router.post('/oauth/revoke', ...form, async (req: Request, res: Response) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    const address = clientAddress(req)
    const body = (req.body ?? {}) as Record<string, unknown>
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const [clientId, clientSecret] = basic
      ? (() => {
          const decoded = Buffer.from(basic, 'base64').toString('utf8')
          const colon = decoded.indexOf(':')
          return colon < 0 ? [undefined, undefined] : [decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))]
        })()
      : [body.client_id, body.client_secret]
    try {
      throttle.check(address)
    } catch {
      return res.status(429).json({ error: 'slow_down', error_description: 'Too many failed requests from this address: retry later.' })
    }
    // A public client names itself without a secret (RFC 7009 §2.1); getClient refuses that for any other.
    const client = typeof clientId === 'string' ? await model.getClient(clientId, typeof clientSecret === 'string' ? clientSecret : undefined) : false
    if (!client) {
      throttle.recordFailure(address)
      return res.status(401).set('WWW-Authenticate', 'Basic realm="Application"').json({ error: 'invalid_client', error_description: 'Client authentication failed' })
    }
    if (typeof body.token !== 'string' || body.token === '') {
      return res.status(400).json({ error: 'invalid_request', error_description: 'Missing parameter: token' })
    }
    await revokeClientToken(db, client, body.token, now())
    res.status(200).json({})
  })

  return router
}

/** The library wraps any failure of ours as server_error; hand the original to the one error renderer. */
function unwrap(error: unknown): unknown {
  return (error instanceof OAuthError ? (error as OAuthError & { inner?: unknown }).inner : undefined) ?? error
}
