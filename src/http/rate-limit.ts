// PCO's rate limit: a fixed window of requests per authenticated person, with the X-PCO-API-Request-Rate-* headers.
import type { RequestHandler } from 'express'
import { RateLimited } from '../jsonapi/errors'
import { principalOf } from '../auth/authenticate'

export interface RateLimitOptions {
  limit: number
  /** The lower limit for a request whose `offset` is above 30,000 (wire contract §9). */
  deepOffsetLimit: number
  periodSeconds: number
  now: () => Date
}

const DEEP_OFFSET = 30_000

interface Window {
  startedAt: number
  count: number
}

/** Counts in this process's memory: each server process keeps its own windows. */
export function rateLimit({ limit, deepOffsetLimit, periodSeconds, now }: RateLimitOptions): RequestHandler {
  const windows = new Map<string, Window>()
  const periodMs = periodSeconds * 1000
  return (req, res, next) => {
    const { personId } = principalOf(req)
    const at = now().getTime()
    let window = windows.get(personId)
    if (!window || at - window.startedAt >= periodMs) {
      window = { startedAt: at, count: 0 }
      windows.set(personId, window)
      if (windows.size > 10_000) {
        for (const [key, w] of windows) if (at - w.startedAt >= periodMs) windows.delete(key)
      }
    }
    window.count += 1
    const offset = Number(typeof req.query.offset === 'string' ? req.query.offset : 0)
    const applies = offset > DEEP_OFFSET ? deepOffsetLimit : limit
    res.set('X-PCO-API-Request-Rate-Count', String(window.count))
    res.set('X-PCO-API-Request-Rate-Limit', String(applies))
    res.set('X-PCO-API-Request-Rate-Period', String(periodSeconds))
    if (window.count > applies) {
      const retryAfter = Math.max(1, Math.ceil((window.startedAt + periodMs - at) / 1000))
      return next(new RateLimited(window.count, applies, periodSeconds, retryAfter))
    }
    next()
  }
}
