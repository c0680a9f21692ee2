// The one place that turns every failure into a response; unknown failures never leak their details.
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

export function renderError(logger: Logger, unavailableRetryAfter: number): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const apiError = toApiError(error, unavailableRetryAfter)
    if (apiError.status >= 500) logger.error({ request_id: req.id, err: error }, 'request failed')
    if (res.headersSent) {
      res.destroy()
      return
    }
    res.status(apiError.status)
    res.set(apiError.headers)
    res.set('Content-Type', apiError.contentType)
    res.removeHeader('ETag')
    res.send(apiError.render())
  }
}
