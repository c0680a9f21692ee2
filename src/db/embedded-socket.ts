// Serves the embedded database to other processes over PostgreSQL's wire protocol, on a Unix socket
// in DATA_DIR that only its owner can open: the command-line tool and psql use it while the server
// runs, since PGlite's files may be open in one process only (data-dir-lock.ts).
//
// PGlite is one session. Each socket client takes the server's one database connection (knex's
// pool of one) from its first message until PGlite answers ReadyForQuery outside a transaction, so
// a client's transaction or half-sent extended query never interleaves with the server's own
// statements: they wait, as they would for any lock. A client that leaves mid-transaction is rolled back.
import { chmodSync, existsSync, unlinkSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { resolve, join } from 'node:path'
import type { Logger } from 'pino'
import type { Database } from './database'

/** libpq's name for a server's socket on port 5432: `psql -h DATA_DIR` finds it without more options. */
export const SOCKET_NAME = '.s.PGSQL.5432'

/** Longest path a Unix socket can have on Linux (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107

/** A single message larger than this closes the connection: the server holds each one whole. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

export function embeddedSocketPath(dataDir: string): string {
  return join(resolve(dataDir), SOCKET_NAME)
}

/** The part of PGlite this module uses. */
interface PGliteSession {
  runExclusive<T>(callback: () => Promise<T>): Promise<T>
  execProtocolRaw(message: Uint8Array, options?: { syncToFs?: boolean }): Promise<Uint8Array>
  isInTransaction(): boolean
}

interface PooledClient {
  acquireConnection(): Promise<PGliteSession>
  releaseConnection(connection: PGliteSession): Promise<void>
}

export interface EmbeddedSocket {
  readonly path: string
  close(): Promise<void>
}

/** Builds a simple-query ('Q') message. */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`)
  const message = Buffer.alloc(5 + text.length)
  message.write('Q', 0, 'latin1')
  message.writeInt32BE(4 + text.length, 1)
  text.copy(message, 5)
  return message
}

const SYNC = Uint8Array.from([0x53, 0, 0, 0, 4])

/** The transaction status of a response that ends with ReadyForQuery, else undefined. */
function readyStatus(response: Uint8Array): string | undefined {
  const at = response.length - 6
  if (at < 0 || response[at] !== 0x5a || response[at + 4] !== 5) return undefined
  return String.fromCharCode(response[at + 5] ?? 0)
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0)
  private started = false
  private held: PGliteSession | undefined
  private working = false
  private closed = false
  /** Settles once the socket has closed and the session has been given back clean. */
  readonly finished: Promise<void>
  private finish!: () => void

  constructor(
    private readonly socket: Socket,
    private readonly pool: PooledClient,
    private readonly logger: Logger | undefined,
  ) {
    this.finished = new Promise((resolve) => (this.finish = resolve))
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
      void this.work()
    })
    socket.on('close', () => {
      this.closed = true
      void this.work()
    })
    socket.on('error', () => socket.destroy())
  }

  /** The next whole message in the buffer, taken off it; undefined when one is not complete yet. */
  private nextMessage(): Buffer | undefined {
    const headerLength = this.started ? 5 : 4
    if (this.buffer.length < headerLength) return undefined
    const length = (this.started ? 1 : 0) + this.buffer.readInt32BE(this.started ? 1 : 0)
    if (length < headerLength - (this.started ? 1 : 0) || length > MAX_MESSAGE_BYTES) {
      this.logger?.warn({ length }, 'embedded database socket: message refused for its length; connection closed')
      this.socket.destroy()
      return undefined
    }
    if (this.buffer.length < length) return undefined
    const message = this.buffer.subarray(0, length)
    this.buffer = this.buffer.subarray(length)
    return message
  }

  /** Handles messages one at a time; reading pauses while one runs so input stays bounded. */
  private async work(): Promise<void> {
    if (this.working) return
    this.working = true
    this.socket.pause()
    try {
      for (let message = this.nextMessage(); message && !this.closed; message = this.nextMessage()) {
        if (!(await this.handle(message))) {
          this.socket.end()
          break
        }
        if (this.socket.writableNeedDrain) await new Promise((resolve) => this.socket.once('drain', resolve).once('close', resolve))
      }
      if (this.closed) await this.cleanUp()
    } catch (error) {
      this.logger?.warn({ err: error }, 'embedded database socket: connection closed after a failure')
      this.socket.destroy()
      await this.cleanUp().catch(() => undefined)
    } finally {
      this.working = false
      if (!this.closed) this.socket.resume()
    }
  }

  end(): void {
    this.socket.destroy()
  }

  /** Answers one message; false ends the connection. */
  private async handle(message: Buffer): Promise<boolean> {
    if (!this.started) {
      const code = message.readInt32BE(4)
      // No TLS or GSS on a local socket: 'N' tells the client to go on without.
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write('N')
        return true
      }
      if (code === CANCEL_REQUEST) return false
      this.started = true
    } else if (message[0] === 0x58) {
      return false // Terminate
    }
    const session = this.held ?? (this.held = await this.pool.acquireConnection())
    const response = await session.runExclusive(() => session.execProtocolRaw(message))
    if (response.length > 0) this.socket.write(response)
    if (readyStatus(response) === 'I') await this.release()
    return true
  }

  /** A client gone mid-transaction or mid-query leaves nothing behind: the session is reset for the server. */
  private async cleanUp(): Promise<void> {
    if (!this.started) return this.finish()
    this.started = false
    const session = this.held ?? (this.held = await this.pool.acquireConnection())
    try {
      await session.runExclusive(async () => {
        await session.execProtocolRaw(SYNC, { syncToFs: false })
        if (session.isInTransaction()) await session.execProtocolRaw(simpleQuery('ROLLBACK'), { syncToFs: false })
        await session.execProtocolRaw(simpleQuery('CLOSE ALL; RESET ALL; DEALLOCATE ALL'))
      })
    } finally {
      await this.release()
      this.finish()
    }
  }

  private async release(): Promise<void> {
    const session = this.held
    this.held = undefined
    if (session) await this.pool.releaseConnection(session)
  }
}

/**
 * Listens on DATA_DIR's socket with the database `db` (an embedded one). Returns undefined, after
 * a warning, where the path is too long for a Unix socket.
 */
export async function serveEmbeddedDatabase(db: Database, dataDir: string, logger?: Logger): Promise<EmbeddedSocket | undefined> {
  const path = embeddedSocketPath(dataDir)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    logger?.warn({ path }, 'the embedded database is not served to other processes: its socket path is longer than 107 bytes; use a shorter DATA_DIR')
    return undefined
  }
  // Whoever holds DATA_DIR's lock owns the socket: one left by a process that died is stale.
  if (existsSync(path)) unlinkSync(path)
  const pool = db.client as PooledClient
  const connections = new Set<Connection>()
  const server: Server = createServer((socket) => {
    const connection = new Connection(socket, pool, logger)
    connections.add(connection)
    socket.once('close', () => void connection.finished.then(() => connections.delete(connection)))
  })
  // The socket is created owner-only from the start, not opened to others until a chmod.
  const umask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => resolve())
    })
  } finally {
    process.umask(umask)
  }
  chmodSync(path, 0o600)
  return {
    path,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Clients still connected are cut off; their sessions are rolled back before the database closes.
      const open = [...connections]
      for (const connection of open) connection.end()
      await Promise.all(open.map((connection) => connection.finished))
      await closed
    },
  }
}
