// Authenticity secrets: made here, shown once, and kept sealed (AES-256-GCM) under a key the database
// never holds, so a dump of the database alone signs nothing.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config'

export interface SecretKey {
  /** The key's fingerprint, stored beside what it sealed: a process holding another key leaves those alone. */
  readonly id: string
  seal(secret: string): string
  open(sealed: string): string
}

export const KEY_FILE = 'webhook-secret.key'

export function secretKey(bytes: Buffer): SecretKey {
  const id = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
  return {
    id,
    seal(secret) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', bytes, iv)
      const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
      return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':')
    },
    open(sealed) {
      const [version, iv, tag, ciphertext] = sealed.split(':')
      if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('not a sealed webhook secret')
      const decipher = createDecipheriv('aes-256-gcm', bytes, Buffer.from(iv, 'base64'))
      decipher.setAuthTag(Buffer.from(tag, 'base64'))
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8')
    },
  }
}

/**
 * WEBHOOK_SECRET_KEY, or else a key kept in DATA_DIR (made on first use, readable by its owner only).
 * Servers on more than one host must share WEBHOOK_SECRET_KEY: each host's own file would differ.
 */
export async function loadSecretKey(config: Pick<Config, 'webhookSecretKey' | 'dataDir'>): Promise<{ key: SecretKey; fromFile?: string }> {
  if (config.webhookSecretKey) return { key: secretKey(config.webhookSecretKey) }
  if (config.dataDir === 'memory://') return { key: secretKey(randomBytes(32)) }
  const file = join(config.dataDir, KEY_FILE)
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  // Written whole under a name of its own, then linked into place: of processes starting together
  // (WORKERS, or two servers on one DATA_DIR), one key wins and none reads a half-written file.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(draft, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 })
  try {
    await link(draft, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await unlink(draft)
  }
  const hex = (await readFile(file, 'utf8')).trim()
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${file} does not hold a 32-byte key in hexadecimal`)
  return { key: secretKey(Buffer.from(hex, 'hex')), fromFile: file }
}

/** A new authenticity secret: 32 random bytes, in hexadecimal as Planning Center shows them. */
export function newAuthenticitySecret(): string {
  return randomBytes(32).toString('hex')
}

/** X-PCO-Webhooks-Authenticity: HMAC-SHA256 of the exact bytes sent, in hexadecimal. */
export function signature(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('hex')
}
