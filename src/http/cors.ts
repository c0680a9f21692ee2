// CORS for browser clients: any origin may read, and a preflight allows what PCO's JS client sends.
import type { ServerResponse } from 'node:http'
import type { RequestHandler } from 'express'

// The official JS client sends X-CSRF-Token and Content-Type even on GET (wire contract §7).
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-CSRF-Token', 'X-PCO-API-Version', 'If-None-Match', 'X-Request-Id', 'Idempotency-Key']
const EXPOSED_HEADERS = [
  'ETag', 'Retry-After', 'X-Request-Id', 'X-PCO-API-Processed-As-Version', 'X-PCO-API-Auth-Method',
  'X-PCO-API-Request-Rate-Count', 'X-PCO-API-Request-Rate-Limit', 'X-PCO-API-Request-Rate-Period',
  'Location', 'Idempotent-Replayed',
]

const EXPOSED = EXPOSED_HEADERS.join(', ')

/** What every answer carries, preflight or not. */
export function setCorsHeaders(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*')
  res.setHeader('Access-Control-Expose-Headers', EXPOSED)
}

export const cors: RequestHandler = (req, res, next) => {
  setCorsHeaders(res)
  if (req.method !== 'OPTIONS') return next()
  // A preflight never needs credentials: browsers send it without them.
  res.set('Access-Control-Allow-Methods', 'GET, HEAD, POST, PATCH, OPTIONS')
  res.set('Access-Control-Allow-Headers', ALLOWED_HEADERS.join(', '))
  res.set('Access-Control-Max-Age', '7200')
  res.status(204).end()
}
