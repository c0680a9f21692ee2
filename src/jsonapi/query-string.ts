// Reads a request's raw query string into ordered pairs and writes it back sorted, brackets literal.
import { InvalidParameter } from './errors'

export type QueryPairs = ReadonlyArray<readonly [string, string]>

/**
 * Parses the raw query string. Keys and values are percent-decoded, so `where%5Bstatus%5D` and
 * `where[status]` are the same key (wire contract §5: clients send both). A malformed escape is
 * kept literally rather than rejected, as URLSearchParams does.
 */
export function parseQueryString(rawUrl: string): QueryPairs {
  const at = rawUrl.indexOf('?')
  if (at === -1) return []
  return [...new URLSearchParams(rawUrl.slice(at + 1))]
}

/** All values given for one key, in request order. */
export function valuesOf(pairs: QueryPairs, key: string): string[] {
  return pairs.filter(([k]) => k === key).map(([, v]) => v)
}

/** The one value given for `key`, if any; given twice is a 400 naming it. */
export function singleValue(pairs: QueryPairs, key: string): string | undefined {
  const values = valuesOf(pairs, key)
  if (values.length > 1) throw new InvalidParameter(key, `${key} must be given once`)
  return values[0]
}

function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%5B/gi, '[').replace(/%5D/gi, ']')
}

function encodeValue(value: string): string {
  return encodeURIComponent(value).replace(/%2C/gi, ',')
}

/**
 * Writes pairs back as a query string sorted by key (a stable sort, so repeated keys keep their
 * order), with brackets and commas literal, as PCO's links show them (wire contract §5).
 */
export function formatQueryString(pairs: QueryPairs): string {
  const sorted = [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return sorted.map(([k, v]) => `${encodeKey(k)}=${encodeValue(v)}`).join('&')
}

/** The same pairs with every `key` replaced by one `key=value`. */
export function withPair(pairs: QueryPairs, key: string, value: string): QueryPairs {
  return [...pairs.filter(([k]) => k !== key), [key, value]]
}
