// GET /healthz (the process answers) and GET /readyz (the database answers and its schema is
// current), for load balancers and orchestrators: no credentials, no rate limit, no request log line.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Knex } from 'knex'
import { pendingMigrations } from '../db/migrate'
import { ServiceUnavailable, type ApiError } from '../jsonapi/errors'

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes.length, 'Cache-Control': 'no-store', ...headers })
  res.end(res.req.method === 'HEAD' ? undefined : bytes)
}

function sendUnavailable(res: ServerResponse, error: ApiError): void {
  send(res, error.status, error.body(), error.headers)
}

/** Answers the health paths (GET or HEAD) and returns true; anything else returns false, untouched. */
export function healthChecks(db: Knex, retryAfter: number): (req: IncomingMessage, res: ServerResponse) => boolean {
  // Once this process has seen its migrations applied they stay applied: asked once, then remembered.
  let schemaCurrent = false
  const ready = async (res: ServerResponse) => {
    try {
      await db.raw('SELECT 1')
      if (!schemaCurrent) {
        const pending = await pendingMigrations(db)
        if (pending.length > 0) {
          return sendUnavailable(res, new ServiceUnavailable(retryAfter, 'migrations_pending', `The database's schema is behind this server: ${pending.length} migration(s) to run`))
        }
        schemaCurrent = true
      }
      send(res, 200, { status: 'ready' })
    } catch {
      sendUnavailable(res, new ServiceUnavailable(retryAfter))
    }
  }
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path === '/healthz') {
      send(res, 200, { status: 'alive' })
      return true
    }
    if (path === '/readyz') {
      void ready(res)
      return true
    }
    return false
  }
}

/** What the port answers between binding it and the database being ready: alive, not yet ready. */
export function whileStarting(retryAfter: number): (req: IncomingMessage, res: ServerResponse) => void {
  const starting = new ServiceUnavailable(retryAfter, 'starting', 'The server is starting: its database is being opened and migrated')
  return (req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] === '/healthz') send(res, 200, { status: 'alive' })
    else sendUnavailable(res, starting)
  }
}
