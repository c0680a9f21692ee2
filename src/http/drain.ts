// Stopping an HTTP server without cutting off a request: every request sent on an open connection
// is answered, and keep-alive clients are told to move on.
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { Server, type Socket } from 'node:net'

export interface Drain {
  /** Called first for every request: once draining, the answer to a connection's latest request closes it. */
  admit(req: IncomingMessage, res: ServerResponse): void
  /**
   * Stops accepting connections and resolves once every connection has closed, or after
   * `timeoutMs`, when the rest are cut off.
   */
  drain(timeoutMs: number): Promise<void>
}

/**
 * An idle keep-alive connection is not closed early: the server has told its client
 * (`Keep-Alive: timeout=5`) that it may send another request on it for that long, and a request
 * sent just as the connection was closed would be lost. Node closes such a connection when that
 * time is up, as it always does; a request that arrives before then is answered, with
 * `Connection: close`.
 */
export function drainable(server: HttpServer): Drain {
  const received = new Map<Socket, number>()
  let draining = false
  server.on('connection', (socket: Socket) => {
    received.set(socket, 0)
    socket.once('close', () => received.delete(socket))
  })

  return {
    admit(req, res) {
      const number = (received.get(req.socket) ?? 0) + 1
      received.set(req.socket, number)
      // Requests pipelined behind another are answered first; the last of them closes the connection.
      const writeHead = res.writeHead
      res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        if (draining && number === received.get(req.socket) && req.socket.readableLength === 0) this.setHeader('Connection', 'close')
        return writeHead.apply(this, args)
      } as ServerResponse['writeHead']
    },

    async drain(timeoutMs) {
      draining = true
      // net.Server's close stops accepting, without http.Server's closing of idle connections at once.
      const closed = new Promise<void>((resolve) => Server.prototype.close.call(server, () => resolve()))
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())
      await Promise.race([closed, timeout])
      server.closeAllConnections()
    },
  }
}
