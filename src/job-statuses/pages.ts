// List documents already sent, kept with the organization's revision they were built at.
import { LruMap } from '../lru-map'
import { compress, type StoredEncoding } from '../http/encodings'
import { cacheLookups } from '../http/metrics'

/**
 * A rendered list page. job_status_counts.revision changes with every insert, update or delete of
 * the organization's job statuses (db/migrations/20261124060000), so a page read at the same
 * revision from a later snapshot is the same page, and its bytes and ETag can be sent again.
 */
export interface RenderedPage {
  readonly revision: string
  readonly etag: string
  readonly body: Buffer
  /** The URL (without the base URL) of the page after this one, if there is one. */
  readonly next?: string
}

/** Bytes of rendered pages one process keeps: a 25-row page is about 6 kB, a 100-row one about 24 kB. */
const CAPACITY_BYTES = 8 * 1024 * 1024
/** Bytes of held pages kept compressed, for the clients that ask for br or gzip. */
const COMPRESSED_CAPACITY_BYTES = 4 * 1024 * 1024
/** Pages built ahead for walkers, each used at most once; and the walks followed. */
const AHEAD_PAGES = 64
const WALKS = 1_024
/** The most processes a walk may alternate between and still be served pages built ahead. */
const MAX_STRIDE_PAGES = 8

export class PageCache {
  private readonly pages: LruMap<string, RenderedPage>
  /** Pages built once: one is kept only when built again, so a walk over every page keeps nothing. */
  private readonly seenOnce = new Set<string>()

  /** Next pages being built or built for a walk over every page, by key. */
  private readonly ahead: LruMap<string, Promise<RenderedPage | undefined>>
  /** The offset each walk was served last, by the walk's key (its URL without the offset). */
  private readonly walks = new LruMap<string, { offset: number; stride: number }>(WALKS)

  /** Held pages' bytes compressed, by encoding and key, with the ETag of the page they were made from. */
  private readonly compressed: LruMap<string, { etag: string; body: Buffer }>

  private readonly capacityBytes: number

  constructor({ capacityBytes = CAPACITY_BYTES, aheadPages = AHEAD_PAGES, compressedCapacityBytes = COMPRESSED_CAPACITY_BYTES }: {
    capacityBytes?: number
    aheadPages?: number
    compressedCapacityBytes?: number
  } = {}) {
    this.capacityBytes = capacityBytes
    this.pages = new LruMap(capacityBytes, (page) => page.body.length + page.etag.length)
    this.ahead = new LruMap(aheadPages)
    this.compressed = new LruMap(compressedCapacityBytes, (entry) => entry.body.length + entry.etag.length)
  }

  /**
   * The held `page` for `key`, compressed with `encoding`: compressed once, then kept for as long as
   * the page stands, so the clients that ask for it compressed cost no compression each. An ETag
   * names the bytes it was computed for (a 304 relies on it), so bytes compressed from a page with the
   * held page's ETag are that page's. Undefined when this cache has no room: the compression stage
   * then compresses the answer as it does every other.
   */
  async compressedBody(key: string, page: RenderedPage, encoding: StoredEncoding): Promise<Buffer | undefined> {
    if (this.compressed.capacity === 0) return undefined
    const id = `${encoding}\u0000${key}`
    const kept = this.compressed.get(id)
    const hit = kept !== undefined && kept.etag === page.etag
    cacheLookups.inc({ cache: 'compressed_pages', result: hit ? 'hit' : 'miss' })
    if (hit) return kept.body
    const body = await compress(page.body, encoding)
    this.compressed.set(id, { etag: page.etag, body })
    return body
  }

  /**
   * The page held for `key`: one kept, or one built ahead for a walk (waiting for it if it is being
   * built; a page built ahead is handed out once). The caller still checks its revision.
   */
  async held(key: string): Promise<RenderedPage | undefined> {
    const kept = this.pages.get(key)
    const ahead = kept ? undefined : this.ahead.get(key)
    cacheLookups.inc({ cache: kept ? 'pages' : 'pages_ahead', result: kept || ahead ? 'hit' : 'miss' })
    if (kept) return kept
    if (!ahead) return undefined
    this.ahead.delete(key)
    return ahead.catch(() => undefined)
  }

  /**
   * Notes that a walk (`walk`: the URL without its offset) was served `offset`, and returns how far
   * ahead its next page here will be, or undefined if this is no walk. A walk served page after page
   * here comes back one page on; one whose pages alternate between processes (a new connection per
   * page, spread round-robin) comes back here as many pages on as it went since: the stride, taken
   * as one once it is the same twice running, so that clients reading pages at random build nothing.
   */
  walkStride(walk: string, offset: number, perPage: number): number | undefined {
    const last = this.walks.get(walk)
    const stride = last === undefined ? 0 : offset - last.offset
    this.walks.set(walk, { offset, stride })
    if (stride === perPage) return stride
    return stride > 0 && stride === last?.stride && stride % perPage === 0 && stride <= MAX_STRIDE_PAGES * perPage ? stride : undefined
  }

  /** Builds the page for `key` now, before it is asked for. */
  buildAhead(key: string, build: () => Promise<RenderedPage | undefined>): void {
    if (this.ahead.capacity === 0 || this.pages.get(key) || this.ahead.get(key)) return
    const building = build()
    // Nobody may ever ask for it: a failure here is only a page not built ahead.
    building.catch(() => undefined)
    this.ahead.set(key, building)
  }

  /** Everything a page's bytes are made from besides its rows: the organization, the base URL and the request's URL. */
  key(organizationId: string, baseUrl: string, url: string): string {
    return `${organizationId}\u0000${baseUrl}\u0000${url}`
  }

  get(key: string): RenderedPage | undefined {
    return this.pages.get(key)
  }

  set(key: string, page: RenderedPage): void {
    // A page kept before is replaced at once: its organization changed, and it is still asked for.
    if (this.seenOnce.delete(key) || this.pages.get(key)) {
      this.pages.set(key, page)
      return
    }
    // Bounded like the pages: forgetting a first sighting only delays keeping a page.
    if (this.seenOnce.size >= this.capacityBytes / 1024) this.seenOnce.clear()
    this.seenOnce.add(key)
  }
}
