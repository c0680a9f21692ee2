// The encoding the compression stage (app.ts) would choose for an answer, and that compression done
// once, for bytes that are sent again and again (held list pages, job-statuses/pages.ts).
import type { IncomingMessage } from 'node:http'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import Negotiator from 'negotiator'

/** What the `compression` middleware offers and prefers, in its order, with the negotiator it uses. */
const OFFERED = ['br', 'gzip', 'deflate', 'identity']
const PREFERRED = ['br', 'gzip']
/** The middleware sends smaller bodies as they are. */
const THRESHOLD_BYTES = 1024

/** The encodings kept compressed: the ones the middleware prefers. */
export type StoredEncoding = 'br' | 'gzip'

/** The encoding the middleware would choose for `bytes` bytes to `req`, when it is one kept compressed. */
export function storedEncodingFor(req: IncomingMessage, bytes: number): StoredEncoding | undefined {
  // The middleware sends HEAD answers and requests that name no encoding as they are.
  if (req.method === 'HEAD' || bytes < THRESHOLD_BYTES || req.headers['accept-encoding'] === undefined) return undefined
  // @types/negotiator leaves out the preferred list, which negotiator takes since 0.6.3.
  const negotiator = new Negotiator(req) as unknown as { encoding(available: string[], preferred: string[]): string | undefined }
  const chosen = negotiator.encoding(OFFERED, PREFERRED)
  return chosen === 'br' || chosen === 'gzip' ? chosen : undefined
}

const brotli = promisify(brotliCompress)
const gzipped = promisify(gzip)

/** `body` compressed as the middleware compresses it (brotli at quality 4, gzip at zlib's default level). */
export function compress(body: Buffer, encoding: StoredEncoding): Promise<Buffer> {
  return encoding === 'br' ? brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }) : gzipped(body)
}
