// Idempotency-Key: the first response to a key is stored with the write it describes, and replayed after.
import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Knex } from 'knex'
import { IdempotencyKeyReused, InvalidParameter } from '../jsonapi/errors'

export interface StoredResponse {
  status: number
  body: string
  location?: string
}

/** What identifies a write to its Idempotency-Key: the key, and the request it was first sent with. */
export interface IdempotentRequest {
  /** The Idempotency-Key header; none for a write without one. */
  key: string | undefined
  method: string
  /** The request's path, without its query string. */
  path: string
  body: unknown
}

/** An Express request's Idempotency-Key and what it stands for. */
export const idempotentRequest = (req: { get(name: string): string | undefined; method: string; path: string; body?: unknown }): IdempotentRequest => ({
  key: req.get('Idempotency-Key'),
  method: req.method,
  path: req.path,
  body: req.body,
})

export interface KeyLifetime {
  now: () => Date
  /** Seconds a key is kept; after that it is gone, and may be used again for a new request. */
  ttlSeconds: number
}

/**
 * Runs `write` in a transaction that also claims the key, so the effect and the stored response
 * commit together or not at all. A concurrent request with the same key waits on the claim and then
 * replays; a failed write (4xx thrown) leaves the key unclaimed.
 */
export async function idempotently(
  db: Knex,
  { key, method, path, body: requestBody }: IdempotentRequest,
  personId: string,
  { now, ttlSeconds }: KeyLifetime,
  write: (trx: Knex) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  if (key === undefined) return { ...(await write(db)), replayed: false }
  if (key.length === 0 || key.length > 255) throw new InvalidParameter('Idempotency-Key', 'Idempotency-Key must be 1 to 255 characters')
  const fingerprint = createHash('sha256').update(`${method} ${path}\n${JSON.stringify(requestBody ?? null)}`).digest('hex')

  const fresh = await db.transaction(async (trx) => {
    // An expired key not yet swept is claimed afresh, as if it had been.
    const at = now()
    const { rows } = await trx.raw(
      `INSERT INTO idempotency_keys (person_id, key, request_fingerprint, status, body, created_at) VALUES (?, ?, ?, 0, '', ?)
       ON CONFLICT (person_id, key) DO UPDATE SET request_fingerprint = EXCLUDED.request_fingerprint, status = 0, body = '', created_at = EXCLUDED.created_at
       WHERE idempotency_keys.created_at <= ?
       RETURNING key`,
      [personId, key, fingerprint, at, expiredBefore(at, ttlSeconds)],
    )
    if ((rows as unknown[]).length === 0) return undefined
    const response = await write(trx)
    await trx('idempotency_keys')
      .where({ person_id: personId, key })
      .update({ status: response.status, body: JSON.stringify({ body: response.body, location: response.location ?? null }) })
    return response
  })
  if (fresh) return { ...fresh, replayed: false }

  const stored = await db('idempotency_keys').where({ person_id: personId, key }).first('request_fingerprint', 'status', 'body')
  if (stored.request_fingerprint !== fingerprint) throw new IdempotencyKeyReused()
  const { body, location } = JSON.parse(stored.body) as { body: string; location: string | null }
  return { status: stored.status, body, ...(location ? { location } : {}), replayed: true }
}

const expiredBefore = (now: Date, ttlSeconds: number) => new Date(now.getTime() - ttlSeconds * 1000)

/**
 * Deletes expired keys, a batch at a time; a key a write is claiming right now is skipped (SKIP
 * LOCKED), so the sweep never waits on a write nor makes one wait. Returns how many it deleted.
 */
export async function sweepExpiredKeys(db: Knex, { now, ttlSeconds }: KeyLifetime, batch = 1000): Promise<number> {
  let deleted = 0
  for (;;) {
    const { rowCount } = (await db.raw(
      `DELETE FROM idempotency_keys WHERE (person_id, key) IN (
         SELECT person_id, key FROM idempotency_keys WHERE created_at <= ? ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED)`,
      [expiredBefore(now(), ttlSeconds), batch],
    )) as { rowCount: number }
    deleted += rowCount ?? 0
    if (!rowCount || rowCount < batch) return deleted
  }
}

export function sendStored(res: ServerResponse, response: StoredResponse & { replayed: boolean }, contentType: string): void {
  if (response.replayed) res.setHeader('Idempotent-Replayed', 'true')
  sendResponse(res, response, contentType)
}

/** Sends a write's response: its status, body and Location. */
export function sendResponse(res: ServerResponse, response: StoredResponse, contentType: string): void {
  const body = Buffer.from(response.body)
  res.statusCode = response.status
  res.setHeader('Content-Type', contentType)
  if (response.location) res.setHeader('Location', response.location)
  res.setHeader('Content-Length', body.length)
  res.end(body)
}
