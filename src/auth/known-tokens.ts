// Credentials this process has seen valid, so the hot routes can re-check one in a shared statement.
import { LruMap } from '../lru-map'
import type { AuthMethod } from './presented'
import type { Window } from './rate-limit'
import { cacheLookups } from '../http/metrics'

/** What never changes about a credential: whose it is, in which organization, of which kind, with which scopes. */
export interface KnownToken {
  readonly personId: string
  readonly organizationId: string
  readonly method: AuthMethod
  /** A bearer token's scopes; a personal access token acts in every product and has none to check. */
  readonly scopes: readonly string[]
}

/**
 * A bearer token's digest, or a personal access token's app id and digest (presented.ts) → the
 * credential's immutable facts, most recently used last. Only facts that cannot change are
 * kept: whether the token is still valid (revoked, expired, its person deleted) is asked of the
 * database on every request (job-statuses/read-batch.ts), so a revocation takes effect at the next request.
 */
export class KnownTokens {
  private readonly tokens: LruMap<string, KnownToken>

  constructor(capacity = 10_000) {
    this.tokens = new LruMap(capacity)
  }

  remember(key: string, token: KnownToken): void {
    this.tokens.set(key, token)
  }

  find(key: string): KnownToken | undefined {
    const token = this.tokens.get(key)
    cacheLookups.inc({ cache: 'known_tokens', result: token ? 'hit' : 'miss' })
    return token
  }

  forget(key: string): void {
    this.tokens.delete(key)
  }
}

/** The window `counted` returned, read from the columns `caller_count` and `caller_window_started_at`. */
export function checkedWindow(row: Record<string, unknown> | undefined): Window | undefined {
  if (!row || row.caller_count === null || row.caller_count === undefined) return undefined
  return { count: Number(row.caller_count), startedAt: new Date(row.caller_window_started_at as string) }
}
