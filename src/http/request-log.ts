// Request ids and one structured JSON log line per request; never a header, query string or body.
import { randomUUID } from 'node:crypto'
import type { RequestHandler } from 'express'
import type { Logger } from 'pino'

declare module 'express-serve-static-core' {
  interface Request {
    id: string
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint()
    const offered = req.headers['x-request-id']
    req.id = typeof offered === 'string' && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID()
    res.set('X-Request-Id', req.id)
    res.on('finish', () => {
      logger.info({
        request_id: req.id,
        method: req.method,
        // The path only: a query string is the client's data, and may hold anything.
        path: req.path,
        status: res.statusCode,
        duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        person_id: req.principal?.personId,
      }, 'request')
    })
    next()
  }
}
