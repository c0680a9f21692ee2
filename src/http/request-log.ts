// Request ids and one structured JSON log line per request; never a header, query string or body.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RequestHandler } from 'express'
import type { Logger } from 'pino'
import type { Principal } from '../auth/authenticate'

declare module 'express-serve-static-core' {
  interface Request {
    id: string
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/

/**
 * Gives the request its id (the client's, when it is a sane one), sends it back as X-Request-Id,
 * and logs the request when the response is finished. Returns the id.
 */
export function beginRequestLog(logger: Logger, req: IncomingMessage & { principal?: Principal }, res: ServerResponse): string {
  const started = process.hrtime.bigint()
  // The path only: a query string is the client's data, and may hold anything.
  const path = (req.url ?? '/').split('?', 1)[0]
  const offered = req.headers['x-request-id']
  const id = typeof offered === 'string' && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID()
  res.setHeader('X-Request-Id', id)
  // With info off (the bench, a quiet production), no listener at all.
  if (logger.isLevelEnabled('info')) {
    res.on('finish', () => {
      logger.info({
        request_id: id,
        method: req.method,
        path,
        status: res.statusCode,
        duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        person_id: req.principal?.personId,
      }, 'request')
    })
  }
  return id
}

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    req.id = beginRequestLog(logger, req, res)
    next()
  }
}
