// Makes and digests credentials: only a SHA-256 digest of a secret is ever stored or compared.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** 32 random bytes as 64 hex characters, the shape of a PCO access token. */
export function generateSecret(): string {
  return randomBytes(32).toString('hex')
}

/**
 * SHA-256 is enough here (no salt, no stretching): every secret is 256 random bits made by
 * generateSecret, so there is no dictionary to try, and a digest lookup stays a plain index probe.
 */
export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}

export function secretMatches(secret: string, expectedDigest: string): boolean {
  const actual = Buffer.from(digestSecret(secret), 'hex')
  const expected = Buffer.from(expectedDigest, 'hex')
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}
