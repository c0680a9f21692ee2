// Starts a real server on port 0 over the suite's database: DATABASE_URL's PostgreSQL, else in-memory PGlite.
import { Writable } from 'node:stream'
import pino from 'pino'
import { loadConfig, type Config } from '../../src/config'
import { startServer, type RunningServer, type StartOptions } from '../../src/server'

export interface TestServer extends RunningServer {
  /** Every JSON log line the server wrote. */
  readonly logs: string[]
  /** The server's clock: tests move it instead of sleeping. */
  readonly clock: TestClock
}

export const backend = process.env.DATABASE_URL ? 'postgres' : 'embedded'

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    DATA_DIR: 'memory://',
    PORT: '0',
    DEMO: 'false',
    LOG_LEVEL: 'info',
    ...env,
  })
}

export interface TestClock {
  now(): Date
  advance(ms: number): void
}

export function createClock(): TestClock {
  let offset = 0
  return { now: () => new Date(Date.now() + offset), advance: (ms: number) => void (offset += ms) }
}

/** A clock that moves only when told: for answers compared to the second. */
export function createStandingClock(): TestClock {
  let at = Date.now()
  return { now: () => new Date(at), advance: (ms: number) => void (at += ms) }
}

export async function startTestServer(
  env: Record<string, string> = {},
  { db, clock = createClock() }: Pick<StartOptions, 'db'> & { clock?: TestClock } = {},
): Promise<TestServer> {
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      done()
    },
  })
  const running = await startServer(testConfig(env), { db, logger: pino({ level: 'info', base: null }, sink), now: clock.now })
  return Object.assign(running, { logs, clock })
}
