// per_page/offset pagination: parsing with PCO's clamps, and the meta and links of a list page.
import { InvalidParameter } from './errors'
import { formatQueryString, singleValue, withPair, type QueryPairs } from './query-string'

export interface Page {
  readonly perPage: number
  readonly offset: number
}

export const DEFAULT_PER_PAGE = 25
export const MAX_PER_PAGE = 100

/** Offsets past this are clamped: every page beyond it is empty anyway, and the arithmetic stays exact. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER - MAX_PER_PAGE

function integerParameter(pairs: QueryPairs, name: string): number | undefined {
  const raw = singleValue(pairs, name)
  if (raw === undefined) return undefined
  if (!/^-?\d+$/.test(raw)) throw new InvalidParameter(name, `${name} must be an integer`)
  // Any length of digits is an integer: a huge one becomes Infinity here and is clamped by parsePage.
  return Number(raw)
}

/** per_page: default 25, clamped to 1..100; offset: clamped to 0.. (wire contract §5). */
export function parsePage(pairs: QueryPairs): Page {
  const perPage = integerParameter(pairs, 'per_page') ?? DEFAULT_PER_PAGE
  const offset = integerParameter(pairs, 'offset') ?? 0
  return {
    perPage: Math.min(MAX_PER_PAGE, Math.max(1, perPage)),
    offset: Math.min(MAX_OFFSET, Math.max(0, offset)),
  }
}

export interface PageMeta {
  total_count: number
  count: number
  prev?: { offset: number }
  next?: { offset: number }
}

export function pageMeta(page: Page, count: number, totalCount: number): PageMeta {
  const meta: PageMeta = { total_count: totalCount, count }
  if (page.offset > 0) meta.prev = { offset: Math.max(0, page.offset - page.perPage) }
  if (page.offset + page.perPage < totalCount) meta.next = { offset: page.offset + page.perPage }
  return meta
}

export interface PageLinks {
  self: string
  prev?: string
  next?: string
}

/** `self` echoes the request; `prev`/`next` are the same request with only `offset` changed. */
export function pageLinks(baseUrl: string, path: string, pairs: QueryPairs, meta: PageMeta): PageLinks {
  const href = (p: QueryPairs) => (p.length === 0 ? `${baseUrl}${path}` : `${baseUrl}${path}?${formatQueryString(p)}`)
  const links: PageLinks = { self: href(pairs) }
  if (meta.prev) links.prev = href(withPair(pairs, 'offset', String(meta.prev.offset)))
  if (meta.next) links.next = href(withPair(pairs, 'offset', String(meta.next.offset)))
  return links
}
