// Reads the environment once into a frozen, typed Config, and fails fast naming the bad variable.

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  /** `postgres://…` for a PostgreSQL server; undefined means the embedded PGlite database. */
  readonly databaseUrl: string | undefined
  /** Where the embedded database keeps its files; `memory://` keeps it in memory only. */
  readonly dataDir: string
  readonly host: string
  readonly port: number
  /** Base of every link the API writes; undefined means `http://HOST:PORT` as bound. */
  readonly publicUrl: string | undefined
  readonly logLevel: LogLevel
  /** `pretty` or `json` lines; undefined means pretty on a terminal, JSON otherwise. */
  readonly logFormat: 'pretty' | 'json' | undefined
  /** Create the demo organization on an empty database and print a token for it. */
  readonly demo: boolean
  readonly databasePoolMax: number
  /** Seconds a client is told to wait (`Retry-After`) while the database is unreachable. */
  readonly unavailableRetryAfter: number
  readonly rateLimit: number
  readonly rateLimitDeepOffset: number
  readonly rateLimitPeriod: number
  /** Failed authentications one client address may make per period before it is refused for the rest of it. */
  readonly authFailureLimit: number
  readonly authFailurePeriod: number
  /** In-process caches turned off, to measure what each is worth (npm run bench); none in production. */
  readonly cachesOff: ReadonlySet<CacheName>
  /** Server processes sharing the port (node:cluster); more than one needs DATABASE_URL. */
  readonly workers: number
  /** Seconds a SIGTERM waits for requests in flight before closing anyway. */
  readonly shutdownTimeout: number
  /** Event streams one process keeps open at once. */
  readonly eventStreamsMax: number
  /** Seconds an Idempotency-Key and its stored response are kept. */
  readonly idempotencyKeyTtl: number
  /** The bearer token /metrics asks for; undefined leaves it open on a loopback bind and closed beyond. */
  readonly metricsToken: string | undefined
  /** Seals webhook secrets at rest (32 bytes); undefined means a key file kept in DATA_DIR. */
  readonly webhookSecretKey: Buffer | undefined
  /** Seconds a webhook receiver has to answer before the attempt counts as failed. */
  readonly webhookTimeout: number
  /** Milliseconds (a fraction allowed) before a failed delivery's first retry; each later retry waits twice as long. */
  readonly webhookRetryBase: number
  /** Days delivered and failed webhook events (and their deliveries) are kept after their last change. */
  readonly webhookRetentionDays: number
  /** Which destinations a subscription may name beyond public https addresses. */
  readonly webhookAllow: { readonly http: boolean; readonly loopback: boolean; readonly private: boolean }
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function text(env: Env, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

/** A number that may have a fraction, such as 0.5. */
function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `must be a number such as 30000 or 0.5, got ${JSON.stringify(raw)}`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase()
  if (raw === undefined) return fallback
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`)
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = text(env, name)
  if (raw === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, 'must be an absolute URL')
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`)
  }
  return raw
}

/** 32 bytes, written as 64 hexadecimal digits or in base64. */
function key(env: Env, name: string): Buffer | undefined {
  const raw = text(env, name)
  if (raw === undefined) return undefined
  const bytes = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : /^[A-Za-z0-9+/]{43}=?$/.test(raw) ? Buffer.from(raw, 'base64') : undefined
  if (bytes?.length !== 32) throw new ConfigError(name, 'must be 32 bytes as 64 hexadecimal digits or base64 (openssl rand -hex 32)')
  return bytes
}

/** The in-process caches, by the names /metrics counts their lookups under. */
export const CACHE_NAMES = ['known_tokens', 'pages', 'pages_ahead', 'compressed_pages', 'positions'] as const
export type CacheName = (typeof CACHE_NAMES)[number]

function cacheNames(env: Env, name: string): ReadonlySet<CacheName> {
  const names = (text(env, name) ?? '').split(',').map((n) => n.trim()).filter(Boolean)
  const unknown = names.filter((n) => !(CACHE_NAMES as readonly string[]).includes(n))
  if (unknown.length > 0) throw new ConfigError(name, `must list caches among ${CACHE_NAMES.join(', ')}; got ${unknown.join(', ')}`)
  return new Set(names as CacheName[])
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:'])
  if (publicUrl !== undefined) {
    const parsed = new URL(publicUrl)
    if (parsed.pathname !== '/' || parsed.search || parsed.hash) {
      throw new ConfigError('PUBLIC_URL', 'must be a scheme and host only, such as https://api.example.org')
    }
  }
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)
  }
  const logFormat = text(env, 'LOG_FORMAT')?.toLowerCase()
  if (logFormat !== undefined && logFormat !== 'pretty' && logFormat !== 'json') {
    throw new ConfigError('LOG_FORMAT', `must be pretty or json, got ${JSON.stringify(logFormat)}`)
  }
  const metricsToken = text(env, 'METRICS_TOKEN')
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,}$/.test(metricsToken)) {
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 printable characters without spaces')
  }
  const demo = boolean(env, 'DEMO', databaseUrl === undefined)
  const config: Config = {
    databaseUrl,
    dataDir: text(env, 'DATA_DIR') ?? './.data',
    host: text(env, 'HOST') ?? '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    publicUrl: publicUrl?.replace(/\/$/, ''),
    logLevel,
    logFormat,
    demo,
    databasePoolMax: integer(env, 'DATABASE_POOL_MAX', 10, 1, 1000),
    unavailableRetryAfter: integer(env, 'UNAVAILABLE_RETRY_AFTER', 5, 1, 3600),
    rateLimit: integer(env, 'RATE_LIMIT', 100, 1, 1_000_000_000),
    rateLimitDeepOffset: integer(env, 'RATE_LIMIT_DEEP_OFFSET', 75, 1, 1_000_000_000),
    rateLimitPeriod: integer(env, 'RATE_LIMIT_PERIOD', 20, 1, 86_400),
    authFailureLimit: integer(env, 'AUTH_FAILURE_LIMIT', 20, 1, 1_000_000_000),
    authFailurePeriod: integer(env, 'AUTH_FAILURE_PERIOD', 60, 1, 86_400),
    shutdownTimeout: integer(env, 'SHUTDOWN_TIMEOUT', 10, 0, 3600),
    workers: integer(env, 'WORKERS', 1, 1, 64),
    cachesOff: cacheNames(env, 'CACHES_OFF'),
    eventStreamsMax: integer(env, 'EVENT_STREAMS_MAX', 1000, 1, 1_000_000),
    idempotencyKeyTtl: integer(env, 'IDEMPOTENCY_KEY_TTL', 86_400, 60, 31_536_000),
    metricsToken,
    webhookSecretKey: key(env, 'WEBHOOK_SECRET_KEY'),
    webhookTimeout: integer(env, 'WEBHOOK_TIMEOUT', 10, 1, 300),
    webhookRetryBase: decimal(env, 'WEBHOOK_RETRY_BASE', 30_000, 0.001, 86_400_000),
    webhookRetentionDays: integer(env, 'WEBHOOK_RETENTION_DAYS', 30, 1, 3650),
    webhookAllow: {
      http: boolean(env, 'WEBHOOK_ALLOW_HTTP', demo),
      loopback: boolean(env, 'WEBHOOK_ALLOW_LOOPBACK', demo),
      private: boolean(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    },
  }
  if (config.workers > 1 && config.databaseUrl === undefined) {
    throw new ConfigError('WORKERS', 'more than 1 needs DATABASE_URL: the embedded database can be open in one process only')
  }
  return Object.freeze(config)
}
