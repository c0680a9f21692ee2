// The headers every answer shares with Planning Center's, as its recorded responses carry them: CORS
// for browser clients (any origin may read; a preflight allows what PCO's JS client sends), Vary,
// and the security headers.
import type { ServerResponse } from 'node:http'
import type { RequestHandler } from 'express'

// The official JS client sends X-CSRF-Token and Content-Type even on GET (wire contract §7).
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-CSRF-Token', 'X-PCO-API-Version', 'If-None-Match', 'X-Request-Id', 'Idempotency-Key']
// Planning Center exposes ETag, Link and X-PCO-API-Auth-Method; the rest are this server's own.
const EXPOSED_HEADERS = [
  'ETag', 'Link', 'Retry-After', 'X-Request-Id', 'X-PCO-API-Processed-As-Version', 'X-PCO-API-Auth-Method',
  'X-PCO-API-Request-Rate-Count', 'X-PCO-API-Request-Rate-Limit', 'X-PCO-API-Request-Rate-Period',
  'Location', 'Idempotent-Replayed',
]

/**
 * What every answer carries, preflight or not, with Planning Center's values. Strict-Transport-Security
 * is left to whatever terminates TLS in front of this server: over plain HTTP it means nothing.
 */
const SHARED_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Credentials', 'true'],
  ['Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', ')],
  ['Vary', 'Accept, Accept-Encoding, Origin'],
  ['Referrer-Policy', 'no-referrer-when-downgrade'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '1; mode=block'],
]

export function setSharedHeaders(res: ServerResponse): void {
  for (const [name, value] of SHARED_HEADERS) res.setHeader(name, value)
}

export const cors: RequestHandler = (req, res, next) => {
  setSharedHeaders(res)
  if (req.method !== 'OPTIONS') return next()
  // A preflight never needs credentials: browsers send it without them.
  res.set('Access-Control-Allow-Methods', 'GET, HEAD, POST, PATCH, OPTIONS')
  res.set('Access-Control-Allow-Headers', ALLOWED_HEADERS.join(', '))
  res.set('Access-Control-Max-Age', '7200')
  res.status(204).end()
}
