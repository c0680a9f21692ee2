// Password digests for people who sign in: Argon2id at OWASP's parameters, through @node-rs/argon2.
// Digests from before (scrypt, `scrypt$<salt hex>$<key hex>`) still verify and are replaced at the
// next successful sign-in. Passwords, unlike token secrets, are guessable: they need a slow, salted hash.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { Algorithm, hash, verify } from '@node-rs/argon2'

/** OWASP's Password Storage Cheat Sheet, first Argon2id configuration: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

const CURRENT_PREFIX = `$argon2id$v=19$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}$`

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>

export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS)
}

export interface Verification {
  readonly matches: boolean
  /** The digest was made with older parameters: store a new one now that the password is known. */
  readonly outdated: boolean
}

export async function verifyPassword(password: string, digest: string): Promise<Verification> {
  if (digest.startsWith('$argon2')) {
    const matches = await verify(digest, password).catch(() => false)
    return { matches, outdated: matches && !digest.startsWith(CURRENT_PREFIX) }
  }
  const [scheme, saltHex, keyHex] = digest.split('$')
  if (scheme !== 'scrypt' || !saltHex || !keyHex) return { matches: false, outdated: false }
  const expected = Buffer.from(keyHex, 'hex')
  const actual = await scryptAsync(password, Buffer.from(saltHex, 'hex'), expected.length)
  const matches = timingSafeEqual(actual, expected)
  return { matches, outdated: matches }
}

let dummyDigest: Promise<string> | undefined

/**
 * The same work as checking a password against a real digest, for a sign-in whose email has no
 * account (or no password): answering faster would tell anyone which emails have accounts.
 */
export async function verifyAgainstNobody(password: string): Promise<false> {
  dummyDigest ??= hashPassword(randomBytes(16).toString('hex'))
  await verify(await dummyDigest, password).catch(() => false)
  return false
}
