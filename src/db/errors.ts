// One table from PostgreSQL's error codes (SQLSTATE) to what a client is told, consulted by the one
// renderer (http/render-error.ts). Input is validated before it reaches the database; this table is
// the net under that validation, so that no database error a client can provoke answers 500.

/** What a client is told for a database error: the HTTP status, the envelope's code and detail. */
export interface DatabaseErrorAnswer {
  readonly status: 400 | 409 | 413 | 422 | 503
  readonly code: string
  readonly detail: string
}

const unavailable: DatabaseErrorAnswer = {
  status: 503,
  code: 'database_unavailable',
  detail: 'The database cannot be reached right now. Please retry after the number of seconds in Retry-After.',
}
const busy: DatabaseErrorAnswer = {
  status: 503,
  code: 'database_busy',
  detail: 'The database could not finish this request right now. Please retry after the number of seconds in Retry-After.',
}
const unstorableText: DatabaseErrorAnswer = {
  status: 400,
  code: 'invalid_text',
  detail: 'The request holds text the database cannot store (such as U+0000 or an unpaired surrogate)',
}

/**
 * By exact SQLSTATE. Codes not listed here fall back to their class (the first two characters,
 * CLASSES below); anything else is a fault in the server and answers 500.
 */
export const SQLSTATE_ANSWERS: Readonly<Record<string, DatabaseErrorAnswer>> = {
  '22021': unstorableText, // character_not_in_repertoire: U+0000 in text
  '22P05': unstorableText, // untranslatable_character: \u0000 inside jsonb
  '22P02': { status: 400, code: 'invalid_text', detail: 'The request holds a value the database cannot read in its place' }, // invalid_text_representation
  '22003': { status: 422, code: 'out_of_range', detail: 'A number in the request is out of the range the server keeps' }, // numeric_value_out_of_range
  '22001': { status: 422, code: 'too_long', detail: 'A value in the request is longer than the server keeps' }, // string_data_right_truncation
  '22007': { status: 400, code: 'invalid_datetime', detail: 'A date or time in the request cannot be read' }, // invalid_datetime_format
  '22008': { status: 400, code: 'invalid_datetime', detail: 'A date or time in the request is out of range' }, // datetime_field_overflow
  '23505': { status: 409, code: 'conflict', detail: 'This would duplicate something that already exists' }, // unique_violation
  '23503': { status: 409, code: 'conflict', detail: 'This refers to something that does not exist, or is still referred to' }, // foreign_key_violation
  '23502': { status: 422, code: 'missing_value', detail: 'A value the server needs is missing' }, // not_null_violation
  '23514': { status: 422, code: 'invalid_value', detail: 'A value in the request is not allowed' }, // check_violation
  '54000': { status: 413, code: 'too_large', detail: 'The request is too large for the database to handle' }, // program_limit_exceeded
  '54001': { status: 413, code: 'too_large', detail: 'The request is too complex for the database to handle' }, // statement_too_complex
  '40001': busy, // serialization_failure
  '40P01': busy, // deadlock_detected
  '55P03': busy, // lock_not_available
  '57014': busy, // query_canceled (statement_timeout)
  '53300': unavailable, // too_many_connections
  '57P01': unavailable, // admin_shutdown
  '57P02': unavailable, // crash_shutdown
  '57P03': unavailable, // cannot_connect_now
  '25006': unavailable, // read_only_sql_transaction: connected to a standby, as during a failover
}

/** By SQLSTATE class, for codes not named above. */
export const SQLSTATE_CLASS_ANSWERS: Readonly<Record<string, DatabaseErrorAnswer>> = {
  '08': unavailable, // connection_exception
  '53': busy, // insufficient_resources
}

/** PostgreSQL's SQLSTATE of an error raised by `pg` or PGlite, if it has one. */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code } = error as { code?: unknown }
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** What to tell the client for a database error, or undefined when it is a fault of the server. */
export function answerForDatabaseError(error: unknown): DatabaseErrorAnswer | undefined {
  const state = sqlStateOf(error)
  if (state === undefined) return undefined
  return SQLSTATE_ANSWERS[state] ?? SQLSTATE_CLASS_ANSWERS[state.slice(0, 2)]
}
