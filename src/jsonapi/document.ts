// Builds JSON:API documents in PCO's key order from jsonapi-serializer's output, and sends them.
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Serializer } from 'jsonapi-serializer'
import { valuesOf, type QueryPairs } from './query-string'
import type { PageLinks, PageMeta } from './pagination'

export interface ResourceObject {
  type: string
  id: string
  attributes: Record<string, unknown>
  relationships: Record<string, unknown>
  links: Record<string, string>
}

export interface ParentMeta {
  parent: { id: string; type: string }
}

/** Describes one resource type: its JSON:API type, its attributes, and where it lives. */
export interface ResourceType<Row extends { id: string }> {
  readonly type: string
  /** Every attribute the type has, and how to read it from a row at the moment `now`; only requested ones are read. */
  readonly fields: Readonly<Record<string, (row: Row, now: Date) => unknown>>
  /** Served by default, in alphabetical order (wire contract §1); the rest only when named in `fields[Type]`. */
  readonly attributes: readonly string[]
  links(row: Row, baseUrl: string): Record<string, string>
}

/**
 * The attributes a request asks for: the defaults, or exactly those named in `fields[Type]`
 * that the type has, alphabetically. Unknown names are ignored, as PCO ignores them.
 */
export function selectAttributes<Row extends { id: string }>(type: ResourceType<Row>, pairs: QueryPairs): readonly string[] {
  const values = valuesOf(pairs, `fields[${type.type}]`)
  if (values.length === 0) return type.attributes
  const named = new Set(values.flatMap((v) => v.split(',')).map((name) => name.trim()))
  return Object.keys(type.fields).filter((name) => named.has(name)).sort()
}

interface SerializedResource {
  type: string
  id: string
  attributes?: Record<string, unknown>
  links: Record<string, string>
}

// Identity: columns are snake_case already, and user JSON such as `errors` must keep its own keys.
const keepKey = (key: string) => key

/** How rows are shown: which attributes, under which base URL, and at what moment (on the server's clock). */
export interface RenderOptions {
  attributes: readonly string[]
  baseUrl: string
  now: Date
}

/**
 * Serializes rows with jsonapi-serializer, then lays each out as type, id, attributes, relationships,
 * links.
 */
export function serializeResources<Row extends { id: string }>(type: ResourceType<Row>, rows: readonly Row[], { attributes, baseUrl, now }: RenderOptions): ResourceObject[] {
  const linksById = new Map(rows.map((row) => [row.id, type.links(row, baseUrl)]))
  const serializer = new Serializer(type.type, {
    attributes: [...attributes],
    keyForAttribute: keepKey,
    pluralizeType: false,
    dataLinks: { self: (record: { id: string }) => linksById.get(record.id)?.self ?? '' },
  })
  const readers = attributes.map((name) => [name, type.fields[name]!] as const)
  const input = rows.map((row) => {
    const record: Record<string, unknown> = { id: row.id }
    for (const [name, read] of readers) record[name] = read(row, now)
    return record
  })
  const { data } = serializer.serialize(input) as { data: SerializedResource[] }
  return data.map((resource) => ({
    type: resource.type,
    id: resource.id,
    attributes: resource.attributes ?? {},
    relationships: {},
    links: linksById.get(resource.id) ?? resource.links,
  }))
}

export interface ListMeta extends PageMeta {
  can_order_by: string[]
  can_query_by: string[]
}

export function listDocument(links: PageLinks, data: ResourceObject[], meta: ListMeta, parent: ParentMeta['parent']) {
  const { total_count, count, prev, next, can_order_by, can_query_by } = meta
  const orderedMeta: Record<string, unknown> = { total_count, count }
  if (prev) orderedMeta.prev = prev
  if (next) orderedMeta.next = next
  Object.assign(orderedMeta, { can_order_by, can_query_by, parent })
  return { links, data, included: [], meta: orderedMeta }
}

export function readDocument(data: ResourceObject, parent: ParentMeta['parent'] | undefined) {
  return { data, included: [], meta: parent ? { parent } : {} }
}

export const JSON_API_CONTENT_TYPE = 'application/vnd.api+json; charset=utf-8'

/** A weak validator of everything a document is made from, computed before the document is. */
export function weakEtag(...parts: ReadonlyArray<string | number | null | undefined>): string {
  return `W/"${createHash('sha1').update(parts.join('\u0000')).digest('base64url')}"`
}

const CACHE_CONTROL = 'max-age=0, private, must-revalidate'

/**
 * Sets the ETag and, when the client already holds that version (If-None-Match), answers 304 at
 * once: a poller that sees nothing new costs a query, not a serialization.
 */
export function answeredNotModified(req: IncomingMessage, res: ServerResponse, etag: string): boolean {
  res.setHeader('ETag', etag)
  res.setHeader('Cache-Control', CACHE_CONTROL)
  const held = req.headers['if-none-match']
  if (!held) return false
  const tags = held.split(',').map((tag) => tag.trim().replace(/^W\//, ''))
  if (!tags.includes('*') && !tags.includes(etag.replace(/^W\//, ''))) return false
  res.statusCode = 304
  res.end()
  return true
}

export function sendDocument(res: ServerResponse, document: unknown): void {
  const text = JSON.stringify(document)
  // A document without an ETag of its own gets one from its bytes, and a 304 when the client holds them.
  if (!res.hasHeader('ETag') && answeredNotModified(res.req, res, weakEtag(text))) return
  sendBody(res, Buffer.from(text))
}

/** A document's bytes, as sent. */
export function renderDocument(document: unknown): Buffer {
  return Buffer.from(JSON.stringify(document))
}

/** Sends bytes renderDocument made, now or for an earlier request. */
export function sendBody(res: ServerResponse, body: Buffer): void {
  res.setHeader('Content-Type', JSON_API_CONTENT_TYPE)
  res.setHeader('Cache-Control', CACHE_CONTROL)
  res.setHeader('Content-Length', body.length)
  res.end(body)
}
