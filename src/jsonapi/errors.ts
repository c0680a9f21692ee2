// The error catalogue: one class per failure, each carrying its status, code and exact wire body.

export interface ErrorObject {
  code?: string
  title?: string
  status?: string
  detail: string
  source?: { parameter: string } | { pointer: string }
}

/** What a failure looks like on the wire: status, headers and a body in the documented envelope. */
export abstract class ApiError extends Error {
  abstract readonly status: number
  readonly headers: Record<string, string> = {}
  /** PCO sends errors as plain JSON, not JSON:API's media type (wire contract §8). */
  readonly contentType: string = 'application/json; charset=utf-8'

  abstract body(): unknown

  /** The serialized body; a subclass may answer in another media type. */
  render(): string {
    return JSON.stringify(this.body())
  }
}

function envelope(...errors: ErrorObject[]): { errors: ErrorObject[] } {
  return { errors }
}

export class NotFound extends ApiError {
  readonly status = 404
  override readonly headers = { 'Cache-Control': 'no-cache' }
  constructor() {
    super('not found')
  }
  body() {
    return envelope({ status: '404', title: 'Not Found', detail: 'The resource you requested could not be found' })
  }
}

export class MethodNotAllowed extends ApiError {
  readonly status = 405
  override readonly headers: Record<string, string>
  constructor(readonly allowed: readonly string[]) {
    super('method not allowed')
    this.headers = { Allow: allowed.join(', '), 'Cache-Control': 'no-cache' }
  }
  body() {
    return envelope({
      status: '405',
      title: 'Method Not Allowed',
      code: 'method_not_allowed',
      detail: `This endpoint accepts only ${this.allowed.join(', ')}`,
    })
  }
}

export class InvalidParameter extends ApiError {
  readonly status = 400
  constructor(
    readonly parameter: string,
    readonly detail: string,
  ) {
    super(detail)
  }
  body() {
    return envelope({
      status: '400',
      title: 'Bad Request',
      code: 'invalid_parameter',
      detail: this.detail,
      source: { parameter: this.parameter },
    })
  }
}

/** A request body member that is missing or wrong, named by its JSON pointer. */
export class InvalidAttribute extends ApiError {
  readonly status = 400
  constructor(
    readonly pointer: string,
    readonly detail: string,
  ) {
    super(detail)
  }
  body() {
    return envelope({ status: '400', title: 'Bad Request', code: 'invalid_attribute', detail: this.detail, source: { pointer: this.pointer } })
  }
}

/** A well-formed request member whose value the server will not keep, named by its JSON pointer. */
export class Unprocessable extends ApiError {
  readonly status = 422
  constructor(
    readonly pointer: string,
    readonly detail: string,
    readonly code = 'invalid_value',
  ) {
    super(detail)
  }
  body() {
    return envelope({ status: '422', title: 'Unprocessable Entity', code: this.code, detail: this.detail, source: { pointer: this.pointer } })
  }
}

/** A request body over the size limit, which the body names. */
export class PayloadTooLarge extends ApiError {
  readonly status = 413
  constructor(readonly limitBytes: number) {
    super('payload too large')
  }
  body() {
    return envelope({
      status: '413',
      title: 'Payload Too Large',
      code: 'payload_too_large',
      detail: `The request body is larger than the limit of ${this.limitBytes} bytes`,
    })
  }
}

/** A body in a media type this endpoint does not read. */
export class UnsupportedMediaType extends ApiError {
  readonly status = 415
  constructor(readonly detail: string) {
    super(detail)
  }
  body() {
    return envelope({ status: '415', title: 'Unsupported Media Type', code: 'unsupported_media_type', detail: this.detail })
  }
}

/** A database error a client's request provoked, answered as db/errors.ts's table says. */
export class DatabaseRefusal extends ApiError {
  override readonly headers: Record<string, string>
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    retryAfterSeconds: number,
  ) {
    super(detail)
    this.headers = status === 503 ? { 'Retry-After': String(retryAfterSeconds), 'Cache-Control': 'no-cache' } : { 'Cache-Control': 'no-cache' }
  }
  body() {
    return envelope({ status: String(this.status), title: TITLES[this.status] ?? 'Error', code: this.code, detail: this.detail })
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  503: 'Service Unavailable',
}

/** The client accepts no media type this endpoint can answer in. */
export class NotAcceptable extends ApiError {
  readonly status = 406
  constructor(readonly offered: string) {
    super('not acceptable')
  }
  body() {
    return envelope({ status: '406', title: 'Not Acceptable', code: 'not_acceptable', detail: `This endpoint answers in ${this.offered}` })
  }
}

/** A write that the resource's current state does not allow; nothing was changed. */
export class Conflict extends ApiError {
  readonly status = 409
  constructor(
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail)
  }
  body() {
    return envelope({ status: '409', title: 'Conflict', code: this.code, detail: this.detail })
  }
}

/** An Idempotency-Key already used for a different request. */
export class IdempotencyKeyReused extends ApiError {
  readonly status = 422
  constructor() {
    super('idempotency key reused')
  }
  body() {
    return envelope({
      status: '422',
      title: 'Unprocessable Entity',
      code: 'idempotency_key_reused',
      detail: 'This Idempotency-Key was already used for a different request; use a new key for a new request',
    })
  }
}

/** A request the server cannot parse at all, such as a malformed percent-encoding in the path. */
export class BadRequest extends ApiError {
  readonly status = 400
  constructor(readonly detail: string) {
    super(detail)
  }
  body() {
    return envelope({ status: '400', title: 'Bad Request', code: 'bad_request', detail: this.detail })
  }
}

export class UnsupportedVersion extends ApiError {
  readonly status = 400
  constructor(readonly earliest = '2018-08-01') {
    super('unsupported version')
  }
  body() {
    return envelope({
      status: '400',
      title: 'Unsupported Version',
      code: 'unsupported_version_error',
      detail: `X-PCO-API-Version must be a date on or after ${this.earliest}, as YYYY-MM-DD, or LATEST`,
    })
  }
}

/**
 * Why a bearer token was refused. The hint words are Planning Center's (wire contract §8);
 * `undefined` is a token this server has never issued, which PCO does not document a hint for.
 */
export type UnauthorizedHint = 'BABOON' | 'CAPUCHIN' | 'PELICAN' | 'CHINCHILLA' | undefined

export class Unauthorized extends ApiError {
  readonly status = 401
  override readonly headers: Record<string, string>
  constructor(
    readonly hint: UnauthorizedHint,
    { challengeBasic = false } = {},
  ) {
    super('unauthorized')
    this.headers = challengeBasic ? { 'WWW-Authenticate': 'Basic realm="Application"' } : {}
  }
  body() {
    const detail = 'This request could not be authenticated.'
    return envelope({
      code: 'unauthorized',
      title: 'Unauthorized',
      status: '401',
      detail: this.hint ? `${detail} Error Code Hint: ${this.hint}` : detail,
    })
  }
}

/** Authenticated, or not asked to be, but not allowed this. */
export class Forbidden extends ApiError {
  readonly status = 403
  constructor(readonly detail: string) {
    super('forbidden')
  }
  body() {
    return envelope({ code: 'forbidden', title: 'Forbidden', status: '403', detail: this.detail })
  }
}

/** Rails' `request_http_basic_authentication` answer, byte for byte, which PCO sends for a bad PAT. */
export class BasicAccessDenied extends ApiError {
  readonly status = 401
  override readonly headers = { 'WWW-Authenticate': 'Basic realm="Application"' }
  override readonly contentType = 'text/html; charset=utf-8'
  constructor() {
    super('basic access denied')
  }
  body() {
    return 'HTTP Basic: Access denied.\n'
  }
  override render(): string {
    return this.body()
  }
}

export class RateLimited extends ApiError {
  readonly status = 429
  override readonly headers: Record<string, string>
  constructor(
    readonly count: number,
    readonly limit: number,
    readonly period: number,
    retryAfterSeconds: number,
  ) {
    super('rate limited')
    this.headers = { 'Retry-After': String(retryAfterSeconds) }
  }
  body() {
    return { errors: [{ code: '429', detail: `Rate limit exceeded: ${this.count} of ${this.limit} requests per ${this.period} seconds` }] }
  }
}

/** Too many failed authentications from one client address (not a PCO error: PCO's limits are per person). */
export class TooManyFailures extends ApiError {
  readonly status = 429
  override readonly headers: Record<string, string>
  constructor(
    readonly limit: number,
    readonly period: number,
    retryAfterSeconds: number,
    /** The failures counted in this address's period so far. */
    readonly count: number,
  ) {
    super('too many failed authentications')
    // The 429 row of the wire contract: Retry-After and the rate headers, here of the failures' limit.
    this.headers = {
      'Retry-After': String(retryAfterSeconds),
      'X-PCO-API-Request-Rate-Count': String(count),
      'X-PCO-API-Request-Rate-Limit': String(limit),
      'X-PCO-API-Request-Rate-Period': String(period),
    }
  }
  body() {
    return {
      errors: [
        {
          code: '429',
          detail: `Too many failed authentication attempts: ${this.limit} per ${this.period} seconds from one address. Retry after the number of seconds in Retry-After.`,
        },
      ],
    }
  }
}

export class ServiceUnavailable extends ApiError {
  readonly status = 503
  override readonly headers: Record<string, string>
  constructor(
    retryAfterSeconds: number,
    readonly code = 'database_unavailable',
    readonly detail = 'The database cannot be reached right now. Please retry after the number of seconds in Retry-After.',
  ) {
    super('service unavailable')
    this.headers = { 'Retry-After': String(retryAfterSeconds), 'Cache-Control': 'no-cache' }
  }
  body() {
    return envelope({ status: '503', title: 'Service Unavailable', code: this.code, detail: this.detail })
  }
}

export class InternalServerError extends ApiError {
  readonly status = 500
  constructor() {
    super('internal server error')
  }
  body() {
    return envelope({
      status: '500',
      title: 'Internal Server Error',
      detail:
        "An internal server error occurred on our end and we've been notified. Please contact support if the issue persists.",
    })
  }
}
