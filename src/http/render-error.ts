// The one place that turns every failure into a response; unknown failures never leak their details.
import type { ServerResponse } from 'node:http'
import type { ErrorRequestHandler } from 'express'
import type { Logger } from 'pino'
import { isDatabaseUnavailable } from '../db/database'
import { answerForDatabaseError, sqlStateOf } from '../db/errors'
import {
  ApiError, BadRequest, DatabaseRefusal, InternalServerError, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType,
} from '../jsonapi/errors'
import { databaseUnavailableAnswers } from './metrics'

/** Errors Express and its body parsers raise for a malformed request carry a 4xx `status` and `expose`. */
function clientErrorOf(error: unknown): { status: number; type?: string; limit?: number; charset?: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { status, expose } = error as { status?: unknown; expose?: unknown }
  if (typeof status !== 'number' || status < 400 || status >= 500 || expose !== true) return undefined
  return error as { status: number }
}

export function toApiError(error: unknown, unavailableRetryAfter: number): ApiError {
  if (error instanceof ApiError) return error
  if (isDatabaseUnavailable(error)) {
    databaseUnavailableAnswers.inc()
    return new ServiceUnavailable(unavailableRetryAfter)
  }
  const answer = answerForDatabaseError(error)
  if (answer) return new DatabaseRefusal(answer.status, answer.code, answer.detail, unavailableRetryAfter)
  if (error instanceof URIError) return new BadRequest('The request could not be parsed')
  const client = clientErrorOf(error)
  if (client?.status === 413) return new PayloadTooLarge(client.limit ?? 0)
  if (client?.status === 415) return new UnsupportedMediaType(client.charset ? `The charset ${client.charset} is not supported; send UTF-8` : 'The body is in an encoding this server does not read')
  if (client) return new BadRequest(client.type === 'entity.parse.failed' ? 'The request body is not valid JSON' : 'The request could not be parsed')
  return new InternalServerError()
}

/**
 * What a server fault's log line says: its kind and where it arose, never the client's data. A
 * database error's message can quote the values sent (`invalid input syntax for type bigint: "…"`),
 * so only its SQLSTATE and the names PostgreSQL reports are kept.
 */
export function describeFault(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error }
  const frames = error.stack?.split('\n').filter((line) => /^\s+at /.test(line)).join('\n')
  const state = sqlStateOf(error)
  if (state !== undefined) {
    const { routine, table, column, constraint } = error as { routine?: string; table?: string; column?: string; constraint?: string }
    return { type: error.name, sqlstate: state, routine, table, column, constraint, stack: frames }
  }
  return { type: error.name, message: error.message, stack: frames }
}

/** Answers with `error` in the documented envelope; a response already begun is cut off instead. */
export function sendFailure(logger: Logger, unavailableRetryAfter: number, error: unknown, res: ServerResponse): void {
  const apiError = toApiError(error, unavailableRetryAfter)
  if (apiError.status === 500) logger.error({ request_id: res.getHeader('X-Request-Id'), fault: describeFault(error) }, 'request failed')
  else if (apiError.status === 503) logger.warn({ request_id: res.getHeader('X-Request-Id'), fault: describeFault(error) }, 'database unavailable')
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = Buffer.from(apiError.render())
  res.statusCode = apiError.status
  // Planning Center marks its errors no-cache; a class may say more (its own Cache-Control wins).
  res.setHeader('Cache-Control', 'no-cache')
  for (const [name, value] of Object.entries(apiError.headers)) res.setHeader(name, value)
  res.setHeader('Content-Type', apiError.contentType)
  res.setHeader('Content-Length', body.length)
  res.removeHeader('ETag')
  res.end(body)
}

export function renderError(logger: Logger, unavailableRetryAfter: number): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => sendFailure(logger, unavailableRetryAfter, error, res)
}
