// PCO's rate limit per authenticated person, counted in PostgreSQL so every server process shares it.
import type { ServerResponse } from 'node:http'
import type { RequestHandler } from 'express'
import type { Knex } from 'knex'
import { RateLimited } from '../jsonapi/errors'
import { valuesOf, parseQueryString } from '../jsonapi/query-string'
import { principalOf } from './authenticate'
import { rateLimitRefusals } from '../http/metrics'

export interface RateLimitOptions {
  db: Knex
  limit: number
  /** The lower limit for a request whose `offset` is above 30,000 (wire contract §9). */
  deepOffsetLimit: number
  periodSeconds: number
  now: () => Date
}

const DEEP_OFFSET = 30_000

export interface Window {
  count: number
  startedAt: Date
}

/**
 * Counts one request in `key`'s window and returns the window. A window opens with the first
 * request after the last one closed and lasts `periodSeconds`; one upsert keeps it exact when
 * several processes count at once.
 */
export async function countRequest(db: Knex, key: string, now: Date, periodSeconds: number): Promise<Window> {
  const { rows } = await db.raw(`${COUNT_REQUEST('VALUES (:key, :now, 1)')} RETURNING count, window_started_at`, windowBindings(now, periodSeconds, { key }))
  const [row] = rows as Array<{ count: number; window_started_at: Date | string }>
  return { count: Number(row!.count), startedAt: new Date(row!.window_started_at) }
}

/**
 * The upsert that counts requests, for rows (key, now, requests) from `source`, at most one per key;
 * binds :now and :expired.
 */
export const COUNT_REQUEST = (source: string) => `INSERT INTO rate_limits AS r (key, window_started_at, count) ${source}
     ON CONFLICT (key) DO UPDATE SET
       count = CASE WHEN r.window_started_at <= :expired THEN EXCLUDED.count ELSE r.count + EXCLUDED.count END,
       window_started_at = CASE WHEN r.window_started_at <= :expired THEN :now ELSE r.window_started_at END`

export function windowBindings(now: Date, periodSeconds: number, more: Record<string, unknown> = {}) {
  return { ...more, now, expired: new Date(now.getTime() - periodSeconds * 1000) }
}

export const personKey = (personId: string) => `person:${personId}`

function isDeep(rawUrl: string): boolean {
  const offsets = valuesOf(parseQueryString(rawUrl), 'offset')
  return offsets.length === 1 && /^\d+$/.test(offsets[0]!) && Number(offsets[0]) > DEEP_OFFSET
}

export interface RateLimitRules {
  limit: number
  deepOffsetLimit: number
  periodSeconds: number
}

/** Sends the rate-limit headers for a counted request, and refuses it (429) past its limit. */
export function applyWindow(url: string, res: ServerResponse, window: Window, at: Date, { limit, deepOffsetLimit, periodSeconds }: RateLimitRules): void {
  const applies = isDeep(url) ? deepOffsetLimit : limit
  res.setHeader('X-PCO-API-Request-Rate-Count', String(window.count))
  res.setHeader('X-PCO-API-Request-Rate-Limit', String(applies))
  res.setHeader('X-PCO-API-Request-Rate-Period', String(periodSeconds))
  if (window.count > applies) {
    const retryAfter = Math.max(1, Math.ceil((window.startedAt.getTime() + periodSeconds * 1000 - at.getTime()) / 1000))
    rateLimitRefusals.inc({ limit: 'requests' })
    throw new RateLimited(window.count, applies, periodSeconds, retryAfter)
  }
}

export function rateLimit({ db, now, ...rules }: RateLimitOptions): RequestHandler {
  return async (req, res, next) => {
    const at = now()
    const principal = principalOf(req)
    // A bearer token's lookup counted the request already (findAccessTokenAndCount): one round trip less.
    const window = principal.window ?? (await countRequest(db, personKey(principal.personId), at, rules.periodSeconds))
    applyWindow(req.originalUrl, res, window, at, rules)
    next()
  }
}
