// The one place that turns every failure into a response; unknown failures never leak their details.
import type { ServerResponse } from 'node:http'
import type { ErrorRequestHandler } from 'express'
import type { Logger } from 'pino'
import { isDatabaseUnavailable } from '../db/database'
import { ApiError, BadRequest, InternalServerError, ServiceUnavailable } from '../jsonapi/errors'

/** Errors Express and its parsers raise for a malformed request carry a 4xx `status` and `expose`. */
function isClientError(error: unknown): error is { status: number; message: string } {
  if (typeof error !== 'object' || error === null) return false
  const { status, expose } = error as { status?: unknown; expose?: unknown }
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true
}

export function toApiError(error: unknown, unavailableRetryAfter: number): ApiError {
  if (error instanceof ApiError) return error
  if (isDatabaseUnavailable(error)) return new ServiceUnavailable(unavailableRetryAfter)
  if (error instanceof URIError || isClientError(error)) return new BadRequest('The request could not be parsed')
  return new InternalServerError()
}

/** Answers with `error` in the documented envelope; a response already begun is cut off instead. */
export function sendFailure(logger: Logger, unavailableRetryAfter: number, error: unknown, res: ServerResponse): void {
  const apiError = toApiError(error, unavailableRetryAfter)
  if (apiError.status >= 500) logger.error({ request_id: res.getHeader('X-Request-Id'), err: error }, 'request failed')
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = Buffer.from(apiError.render())
  res.statusCode = apiError.status
  for (const [name, value] of Object.entries(apiError.headers)) res.setHeader(name, value)
  res.setHeader('Content-Type', apiError.contentType)
  res.setHeader('Content-Length', body.length)
  res.removeHeader('ETag')
  res.end(body)
}

export function renderError(logger: Logger, unavailableRetryAfter: number): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => sendFailure(logger, unavailableRetryAfter, error, res)
}
