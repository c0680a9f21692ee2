// The credential a request presents in its Authorization header, in the form the database stores it.
import { isStorableText } from '../db/storable'
import { digestSecret } from './secrets'

export type AuthMethod = 'OAuth2' | 'HTTPBasic'

/** A bearer token, or a personal access token's app id and secret; only a digest of the secret is kept. */
export interface PresentedCredential {
  readonly method: AuthMethod
  /** The SHA-256 digest of the bearer token, or of the personal access token's secret. */
  readonly digest: string
  /** The personal access token's app id; null for a bearer token. */
  readonly appId: string | null
  /** One string per credential, for the known tokens (known-tokens.ts). */
  readonly key: string
}

const BEARER = /^Bearer ([^\s]+)$/i

/** HTTP Basic's app id and secret, when the header holds them in a form a token could have. */
export function parseBasic(header: string): { appId: string; secret: string } | undefined {
  const match = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!match) return undefined
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return undefined
  const appId = decoded.slice(0, colon)
  // An id the database cannot hold (U+0000) names no token: refused like any unknown one.
  return isStorableText(appId) ? { appId, secret: decoded.slice(colon + 1) } : undefined
}

export const bearerCredential = (token: string): PresentedCredential => {
  const digest = digestSecret(token)
  return { method: 'OAuth2', digest, appId: null, key: digest }
}

export const basicCredential = (appId: string, secret: string): PresentedCredential => {
  const digest = digestSecret(secret)
  // A bearer token's key is a hex digest, never holding a colon: the two kinds of key never meet.
  return { method: 'HTTPBasic', digest, appId, key: `${appId}:${digest}` }
}

/** The credential in `header`, or undefined when it holds none in a form this server accepts. */
export function presentedCredential(header: string | undefined): PresentedCredential | undefined {
  if (header === undefined) return undefined
  const token = BEARER.exec(header)?.[1]
  if (token !== undefined) return bearerCredential(token)
  const basic = parseBasic(header)
  return basic && basicCredential(basic.appId, basic.secret)
}
