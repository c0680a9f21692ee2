// One HTTP POST to a receiver: to an address the destination policy allows, cut off at the deadline,
// never following a redirect, keeping at most RESPONSE_BODY_LIMIT bytes of what came back.
import http from 'node:http'
import https from 'node:https'
import { addressRefusal, guardedLookup, literalAddress, type DestinationPolicy } from './destinations'

/** Bytes of a receiver's answer kept in the delivery log; the rest is read and dropped. */
export const RESPONSE_BODY_LIMIT = 10_240

export interface Answer {
  /** The receiver's HTTP status; undefined when it did not answer. */
  status?: number
  headers: Record<string, string | string[]>
  /** The answer's first bytes, or why there was none. */
  body: string | null
  /** Seconds from sending to the end of the answer (or to giving up). */
  timing: number
}

export interface Sender {
  post(url: string, body: string, headers: Record<string, string>): Promise<Answer>
  close(): void
}

export function sender({ allow, timeoutMs, maxConnections }: { allow: DestinationPolicy; timeoutMs: number; maxConnections: number }): Sender {
  const lookup = guardedLookup(allow)
  // Kept-alive connections: a receiver that takes a steady stream is not re-dialled every time. A
  // subscription has one request in flight at most, so one receiver's sockets are bounded by the
  // subscriptions a process serves at once, and none waits for another's socket.
  const agents = {
    'http:': new http.Agent({ keepAlive: true, lookup, maxSockets: maxConnections }),
    'https:': new https.Agent({ keepAlive: true, lookup, maxSockets: maxConnections }),
  }

  const post = (target: string, body: string, headers: Record<string, string>) =>
    new Promise<Answer>((resolve) => {
      const started = process.hrtime.bigint()
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9
      const fail = (reason: string) => resolve({ headers: {}, body: reason, timing: seconds() })
      const url = new URL(target)
      const agent = agents[url.protocol as 'http:' | 'https:']
      if (!agent) return fail(`Not sent: ${url.protocol} is not http: or https:`)
      // Node connects to an address written in the URL without asking lookup.
      const literal = literalAddress(url)
      const refusal = literal === undefined ? undefined : addressRefusal(literal, allow)
      if (refusal) return fail(`Not sent: ${refusal}`)

      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        agent,
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
      })
      const deadline = setTimeout(() => request.destroy(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs)
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(deadline)
        fail(`No answer: ${error.code === 'EREFUSEDDESTINATION' ? 'refused destination, ' : ''}${error.message}`)
      })
      request.on('response', (response) => {
        const chunks: Buffer[] = []
        let kept = 0
        response.on('data', (chunk: Buffer) => {
          if (kept >= RESPONSE_BODY_LIMIT) return
          chunks.push(chunk.subarray(0, RESPONSE_BODY_LIMIT - kept))
          kept += Math.min(chunk.length, RESPONSE_BODY_LIMIT - kept)
        })
        response.on('error', () => undefined)
        response.on('close', () => {
          clearTimeout(deadline)
          // An answer cut off by the deadline is no answer: its status may promise what its body never finished.
          if (!response.complete) return fail(`No answer: cut off after ${timeoutMs / 1000} s, before the answer ended`)
          resolve({
            status: response.statusCode,
            headers: response.headers as Record<string, string | string[]>,
            body: Buffer.concat(chunks).toString('utf8'),
            timing: seconds(),
          })
        })
      })
      request.end(body)
    })

  return {
    post,
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  }
}
