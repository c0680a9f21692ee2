// Bearer tokens this process has seen valid, so a hot route can re-check one inside its own statement.
import { LruMap } from '../lru-map'
import { TOKEN_IN_FORCE } from './credentials'
import { COUNT_REQUEST, windowBindings, type Window } from './rate-limit'

/** What never changes about a token: whose it is, in which organization, with which scopes. */
export interface KnownToken {
  readonly personId: string
  readonly organizationId: string
  readonly scopes: readonly string[]
}

/**
 * digest → the token's immutable facts, most recently used last. Only facts that cannot change are
 * kept: whether the token is still valid (revoked, expired, its person deleted) is asked of the
 * database on every request, by `tokenCheck`, so a revocation takes effect at the next request.
 */
export class KnownTokens {
  private readonly tokens: LruMap<string, KnownToken>

  constructor(capacity = 10_000) {
    this.tokens = new LruMap(capacity)
  }

  remember(digest: string, token: KnownToken): void {
    this.tokens.set(digest, token)
  }

  find(digest: string): KnownToken | undefined {
    return this.tokens.get(digest)
  }

  forget(digest: string): void {
    this.tokens.delete(digest)
  }
}

/** Common table expressions that re-check a known token and count the request, for a statement's WITH. */
export interface TokenCheck {
  /** Defines `counted` (count, window_started_at): one row when the token is still valid, none otherwise. */
  readonly ctes: string
  readonly bindings: Record<string, unknown>
}

/** The token must still exist (deleting its person deletes it too), be unrevoked and unexpired at `now`. */
export function tokenCheck(digest: string, now: Date, periodSeconds: number): TokenCheck {
  return {
    ctes: `caller AS (
       SELECT t.person_id FROM oauth_access_tokens AS t
       WHERE t.token_digest = :callerDigest
         AND ${TOKEN_IN_FORCE}
     ), counted AS (
       ${COUNT_REQUEST("SELECT 'person:' || person_id, :now::timestamptz, 1 FROM caller")}
       RETURNING count, window_started_at
     )`,
    bindings: windowBindings(now, periodSeconds, { callerDigest: digest }),
  }
}

/** The window `counted` returned, read from the columns `caller_count` and `caller_window_started_at`. */
export function checkedWindow(row: Record<string, unknown> | undefined): Window | undefined {
  if (!row || row.caller_count === null || row.caller_count === undefined) return undefined
  return { count: Number(row.caller_count), startedAt: new Date(row.caller_window_started_at as string) }
}
