// A webhook receiver for tests: a real node:http server that records every delivery it is sent, with
// the exact bytes, and answers as the test says. It knows nothing of the server's delivery code.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  path: string
  headers: IncomingHttpHeaders
  raw: Buffer
  /** Whether X-PCO-Webhooks-Authenticity is the HMAC-SHA256 of the raw body under the path's secret. */
  signed: boolean
  event: { id: string; name: string; attempt: number; organizationId: string; payload: unknown }
  at: number
}

/** How to answer one delivery: a status, or `hang` to never answer. */
export type Answer = number | 'hang'

export interface Receiver {
  url: string
  received: Received[]
  /** The secret deliveries to `path` must be signed with. */
  secrets: Map<string, string>
  /** Chooses each answer; 200 when unset. */
  answer: (path: string, delivery: Received) => Answer
  /** Resolves once `predicate` holds over what was received, checked at every delivery. */
  until(predicate: (received: Received[]) => boolean): Promise<void>
  close(): Promise<void>
}

export function signatureOf(secret: string, raw: Buffer): string {
  return createHmac('sha256', secret).update(raw).digest('hex')
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const waiters: Array<{ predicate: (r: Received[]) => boolean; resolve: () => void }> = []
  const hanging = new Set<ServerResponse>()
  const receiver: Receiver = {
    url: '',
    received,
    secrets: new Map(),
    answer: () => 200,
    until(predicate) {
      if (predicate(received)) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ predicate, resolve }))
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const path = req.url ?? '/'
      const secret = receiver.secrets.get(path)
      const sent = String(req.headers['x-pco-webhooks-authenticity'] ?? '')
      const expected = secret === undefined ? '' : signatureOf(secret, raw)
      const signed = expected.length > 0 && sent.length === expected.length && timingSafeEqual(Buffer.from(sent), Buffer.from(expected))
      const [item] = (JSON.parse(raw.toString('utf8')) as { data: Array<{ id: string; attributes: { name: string; attempt: number; payload: string }; relationships: { organization: { data: { id: string } } } }> }).data
      const delivery: Received = {
        path,
        headers: req.headers,
        raw,
        signed,
        event: {
          id: item!.id,
          name: item!.attributes.name,
          attempt: item!.attributes.attempt,
          organizationId: item!.relationships.organization.data.id,
          payload: JSON.parse(item!.attributes.payload),
        },
        at: Date.now(),
      }
      received.push(delivery)
      const answer = receiver.answer(path, delivery)
      if (answer === 'hang') hanging.add(res)
      else res.writeHead(answer, { 'Content-Type': 'text/plain' }).end(`answered ${answer}`)
      for (const waiter of [...waiters]) {
        if (waiter.predicate(received)) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve()
        }
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return receiver
}
