// Where a delivery may go. A subscription's URL is checked when it is saved, and the address a
// delivery actually connects to is checked again after DNS resolution, so a name that later resolves
// somewhere private, or an address written in decimal, octal or as IPv4-mapped IPv6, gets nowhere.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { Config } from '../config'

export type DestinationPolicy = Config['webhookAllow']

/** The longest subscription URL kept. */
export const MAX_URL_LENGTH = 2048

/** Ranges a delivery may reach only with WEBHOOK_ALLOW_PRIVATE: private networks, link-local (cloud metadata) and shared NAT. */
const PRIVATE_RANGES = new Set(['private', 'uniqueLocal', 'linkLocal', 'carrierGradeNat', 'benchmarking'])

/** Why a delivery may not connect to `address`, or undefined when it may. */
export function addressRefusal(address: string, allow: DestinationPolicy): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`
  let parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address()
  const range = parsed.range()
  if (range === 'unicast') return undefined
  if (range === 'loopback') return allow.loopback ? undefined : `${address} is a loopback address`
  if (PRIVATE_RANGES.has(range)) return allow.private ? undefined : `${address} is a private or link-local address`
  return `${address} is not a public unicast address (${range})`
}

/** Thrown when a destination is refused; the delivery log and the API say why. */
export class RefusedDestination extends Error {
  readonly code = 'EREFUSEDDESTINATION'
}

/** Why a delivery may not go to `hostname`, which resolved to `addresses`: any refused one refuses the name. */
function resolvedRefusal(hostname: string, addresses: LookupAddress[], allow: DestinationPolicy): string | undefined {
  const refusal = addresses.map(({ address }) => addressRefusal(address, allow)).find(Boolean)
  return refusal ? `${hostname} resolves to ${refusal.replace(/ is /, ', which is ')}` : undefined
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * A `lookup` for http.request: resolves as Node would, then refuses the connection when any address
 * the name resolves to is refused (a name that mixes public and private answers is not trusted).
 */
export function guardedLookup(allow: DestinationPolicy) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    const byName = nameRefusal(hostname, allow)
    if (byName) return callback(new RefusedDestination(byName), '')
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '')
      const refusal = resolvedRefusal(hostname, addresses, allow)
      if (refusal) return callback(new RefusedDestination(refusal), '')
      if ((options as LookupAllOptions).all) return callback(null, addresses)
      const [first] = addresses
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '')
      callback(null, first.address, first.family)
    })
  }
}

/** The host of a parsed URL as an address, when it is one (URL already turned 0x7f.1 or 2130706433 into 127.0.0.1). */
export function literalAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  return isIP(host) ? host : undefined
}

/** What is wrong with `raw` as a subscription URL, before any address is looked at; undefined when nothing. */
export function urlProblem(raw: string, allow: DestinationPolicy): string | undefined {
  if (raw.length > MAX_URL_LENGTH) return `url must be at most ${MAX_URL_LENGTH} characters`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'url must be an absolute URL'
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allow.http)) {
    return allow.http ? 'url must start with https:// or http://' : 'url must start with https://'
  }
  if (url.username || url.password) return 'url may not carry a user name or password'
  if (url.hash) return 'url may not carry a fragment'
  return undefined
}

/** localhost and its subdomains are loopback by definition (RFC 6761), whatever a resolver says. */
function nameRefusal(hostname: string, allow: DestinationPolicy): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '')
  if (name !== 'localhost' && !name.endsWith('.localhost')) return undefined
  return allow.loopback ? undefined : `${hostname} is a loopback name`
}

/** Why a delivery to `url` would be refused, as far as can be told now: its address, or what its name resolves to. */
export async function destinationRefusal(url: URL, allow: DestinationPolicy): Promise<string | undefined> {
  const literal = literalAddress(url)
  if (literal !== undefined) return addressRefusal(literal, allow)
  const byName = nameRefusal(url.hostname, allow)
  if (byName) return byName
  const addresses = await new Promise<LookupAddress[] | undefined>((resolve) => {
    dnsLookup(url.hostname, { all: true }, (error, found) => resolve(error ? undefined : found))
  })
  // Nothing to check is nothing to trust; every delivery resolves the name afresh and checks the answer too.
  if (!addresses || addresses.length === 0) return `${url.hostname} does not resolve`
  return resolvedRefusal(url.hostname, addresses, allow)
}
