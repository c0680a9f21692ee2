// GET /calendar/v2/job_statuses and /calendar/v2/job_statuses/{id}: parse, query, render.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Router } from 'express'
import type { Knex } from 'knex'
import { answeredNotModified, listDocument, readDocument, renderDocument, selectAttributes, sendBody, sendDocument, serializeResources, weakEtag } from '../jsonapi/document'
import { MethodNotAllowed, NotFound } from '../jsonapi/errors'
import { pageLinks, pageMeta, parsePage } from '../jsonapi/pagination'
import { formatQueryString, parseQueryString } from '../jsonapi/query-string'
import { storedEncodingFor } from '../http/encodings'
import { CAN_ORDER_BY, CAN_QUERY_BY, parseListQuery } from './parameters'
import type { PageCache, RenderedPage } from './pages'
import type { PositionCache } from './positions'
import { columnsFor, isPlainList, listJobStatuses, listResults, pageStart, settlePage, type JobStatusRow, type ListedPage, type PageStart, type PlainPage } from './query'
import { changesWithTime, JOB_STATUSES_PATH, jobStatusResource, type JobStatusWithResults } from './resource'

/** What a document's rows contribute to its ETag: the row's version where it was read, else updated_at. */
const rowVersion = (row: JobStatusRow) => `${row.id}@${row.row_version ?? new Date(row.updated_at).getTime()}`

/** Attaches per-task results when the request named them in fields[JobStatus]. */
async function withResults(db: Knex, rows: JobStatusRow[], attributes: readonly string[]): Promise<JobStatusWithResults[]> {
  if (!attributes.includes('results')) return rows
  const results = await listResults(db, rows.map((row) => row.id))
  return rows.map((row) => ({ ...row, results: results.get(row.id) ?? [] }))
}

export interface JobStatusRoutesOptions {
  db: Knex
  baseUrl: () => string
  /** The server's clock: a running job's runtime counts to it. */
  now: () => Date
  positions: PositionCache
  pages: PageCache
}

/** Parses a list request's URL; throws the 400s. */
export function parseList(url: string) {
  const pairs = parseQueryString(url)
  return { pairs, page: parsePage(pairs), ...parseListQuery(pairs), attributes: selectAttributes(jobStatusResource, pairs) }
}

export type ParsedList = ReturnType<typeof parseList>

/**
 * A list request's rendered page, if it may have one: a plain list without results (they live in
 * their own table) and without attributes that change with the clock alone.
 */
async function heldPage(pages: PageCache, url: string, organizationId: string, baseUrl: string, list: ParsedList) {
  if (!isPlainList(list.filter, list.order) || list.attributes.includes('results') || changesWithTime(list.attributes)) return {}
  const key = pages.key(organizationId, baseUrl, url)
  return { key, held: await pages.held(key) }
}

type ListOptions = Pick<JobStatusRoutesOptions, 'db' | 'now' | 'pages' | 'positions'>
type ReadOptions = Pick<JobStatusRoutesOptions, 'db' | 'now'>

/**
 * Reads a plain page from `start`: the statement shared with the requests that arrive together
 * (read-batch.ts), which also re-checks and counts the caller, and throws when it refuses them.
 */
export type PageReader = (start: PageStart, columns: string) => Promise<PlainPage>

/** Reads the job a read asks for, showing `columns` (none when the organization has no such job); throws when it refuses the caller. */
export type JobReader = (columns: string) => Promise<JobStatusRow | undefined>

/** Where a list or read is answered from, and for whom. */
export interface Answering {
  baseUrl: string
  req: IncomingMessage
  res: ServerResponse
  /** The request's URL, query string included. */
  url: string
  organizationId: string
}

/**
 * A plain list's stages once its caller is known: the page held for it (pages.ts), where its
 * statement starts (positions.ts), the page read by `read` and made exact (on `pagesDb`), then
 * sent, or only its organization's revision read when a held page still stands.
 */
export async function respondWithList(options: ListOptions, pagesDb: Knex, answering: Answering, list: ParsedList, read: PageReader) {
  const { baseUrl, url, organizationId } = answering
  const columns = columnsFor(list.attributes)
  const { key, held } = await heldPage(options.pages, url, organizationId, baseUrl, list)
  const start = pageStart(options.positions, organizationId, list.page, held?.revision)
  const page = await read(start, columns)
  const listed = await settlePage(pagesDb, options.positions, organizationId, list.page, columns, start, page)
  await sendList(options, answering, list, listed, key, held)
}

/** A filtered or reordered list's stages once its caller is known and counted: its page read afresh, then sent. */
export async function respondWithSearch(options: ListOptions, answering: Answering, list: ParsedList) {
  const listed = await listJobStatuses(options.db, options.positions, answering.organizationId, list.page, list.filter, list.order, { columns: columnsFor(list.attributes) })
  await sendList(options, answering, list, listed, undefined, undefined)
}

/** A read's stages once its caller is known: the job read by `read`, then sent (404 when the organization has none). */
export async function respondWithRead(options: ReadOptions, answering: Answering, read: JobReader) {
  const attributes = selectAttributes(jobStatusResource, parseQueryString(answering.url))
  const row = await read(columnsFor(attributes))
  // Another organization's job answers exactly like a missing one (wire contract §2).
  if (!row) throw new NotFound()
  await sendRead(options, answering, row, attributes)
}

/**
 * The methods the job status list and read do not allow; their GET and HEAD are answered by
 * hot-routes.ts, for every caller.
 */
export function jobStatusRoutes(): Router {
  const router = Router({ caseSensitive: true })
  const readOnly = () => {
    throw new MethodNotAllowed(['GET', 'HEAD', 'OPTIONS'])
  }
  router.all(JOB_STATUSES_PATH, readOnly)
  router.all(`${JOB_STATUSES_PATH}/:id`, readOnly)
  return router
}

/**
 * Sends a list page: the page held from before when the organization has not changed since, else a
 * page built from the rows, which is kept (under `key`) for the next request. A client walking
 * every page in order gets the next one built while it reads this one.
 */
async function sendList(
  options: ListOptions, { baseUrl, req, res, url, organizationId }: Answering, list: ParsedList,
  listed: ListedPage, key: string | undefined, held: RenderedPage | undefined,
) {
  if (listed.unchanged && held) {
    if (!answeredNotModified(req, res, held.etag)) await sendHeld(options.pages, req, res, key!, held)
    if (key !== undefined && held.next !== undefined) buildAhead(options, baseUrl, organizationId, list, held.next)
    return
  }
  const now = options.now()
  const etag = listEtag(baseUrl, url, listed, list.attributes, now)
  if (answeredNotModified(req, res, etag)) return
  const { body, next } = await renderList(options, baseUrl, organizationId, list, listed, now)
  if (key !== undefined && listed.revision !== undefined) options.pages.set(key, { revision: listed.revision, etag, body, next })
  sendBody(res, body)
  if (key !== undefined && next !== undefined) buildAhead(options, baseUrl, organizationId, list, next)
}

/** A held page's bytes, compressed once for all the clients that ask for the same encoding (pages.ts). */
async function sendHeld(pages: PageCache, req: IncomingMessage, res: ServerResponse, key: string, page: RenderedPage) {
  const encoding = storedEncodingFor(req, page.body.length)
  const body = encoding && (await pages.compressedBody(key, page, encoding))
  if (!body) return sendBody(res, page.body)
  // Already encoded: the compression stage passes it on as it is (Vary names Accept-Encoding on every answer, cors.ts).
  res.setHeader('Content-Encoding', encoding)
  sendBody(res, body)
}

/** What the moment a document is made contributes to its ETag: its second, when the document changes with time. */
const momentOf = (attributes: readonly string[], now: Date) => (changesWithTime(attributes) ? [Math.floor(now.getTime() / 1000)] : [])

const listEtag = (baseUrl: string, url: string, { rows, totalCount }: ListedPage, attributes: readonly string[], now: Date) =>
  weakEtag(baseUrl, url, totalCount, ...rows.map(rowVersion), ...momentOf(attributes, now))

/** A list page's document at the moment `now`, as bytes, and the URL of the next page (without the base URL). */
async function renderList(
  { db }: Pick<JobStatusRoutesOptions, 'db'>,
  baseUrl: string, organizationId: string, list: ParsedList, { rows, totalCount }: ListedPage, now: Date,
) {
  const meta = { ...pageMeta(list.page, rows.length, totalCount), can_order_by: CAN_ORDER_BY, can_query_by: CAN_QUERY_BY }
  const links = pageLinks(baseUrl, JOB_STATUSES_PATH, list.pairs, meta)
  const data = serializeResources(jobStatusResource, await withResults(db, rows, list.attributes), { attributes: list.attributes, baseUrl, now })
  const body = renderDocument(listDocument(links, data, meta, { id: organizationId, type: 'Organization' }))
  return { body, next: links.next?.slice(baseUrl.length) }
}

/**
 * When this page continues a walk (the page after the one it was served before here, or as many pages
 * on as it went since, when its pages alternate between processes), builds its next page here now
 * (a page built ahead is sent only after the organization's revision is checked, like any held page).
 */
function buildAhead(
  options: ListOptions,
  baseUrl: string, organizationId: string, list: ParsedList, nextUrl: string,
) {
  const { pages, positions, db } = options
  const walk = pages.key(organizationId, baseUrl, formatQueryString(list.pairs.filter(([name]) => name !== 'offset')))
  const stride = pages.walkStride(walk, list.page.offset, list.page.perPage)
  if (stride === undefined) return
  // The next page's link, as the page that the walk will ask for here next: `stride` on from this one.
  const aheadUrl = nextUrl.replace(`offset=${list.page.offset + list.page.perPage}`, `offset=${list.page.offset + stride}`)
  if (stride !== list.page.perPage && aheadUrl === nextUrl) return
  const ahead = parseList(aheadUrl)
  pages.buildAhead(pages.key(organizationId, baseUrl, aheadUrl), async () => {
    const listed = await listJobStatuses(db, positions, organizationId, ahead.page, ahead.filter, ahead.order, { columns: columnsFor(ahead.attributes) })
    if (listed.revision === undefined || listed.rows.length === 0) return undefined
    const now = options.now()
    const rendered = await renderList(options, baseUrl, organizationId, ahead, listed, now)
    return { revision: listed.revision, etag: listEtag(baseUrl, aheadUrl, listed, ahead.attributes, now), ...rendered }
  })
}

async function sendRead({ db, now: clock }: ReadOptions, { baseUrl, req, res, url, organizationId }: Answering, row: JobStatusRow, attributes: readonly string[]) {
  const now = clock()
  if (answeredNotModified(req, res, weakEtag(baseUrl, url, rowVersion(row), ...momentOf(attributes, now)))) return
  const [data] = serializeResources(jobStatusResource, await withResults(db, [row], attributes), { attributes, baseUrl, now })
  sendDocument(res, readDocument(data!, { id: organizationId, type: 'Organization' }))
}
