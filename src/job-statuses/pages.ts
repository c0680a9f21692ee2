// List documents already sent, kept with the organization's revision they were built at.
import { LruMap } from '../lru-map'

/**
 * A rendered list page. job_status_counts.revision changes with every insert, update or delete of
 * the organization's job statuses (db/migrations/20261124060000), so a page read at the same
 * revision from a later snapshot is the same page, and its bytes and ETag can be sent again.
 */
export interface RenderedPage {
  readonly revision: string
  readonly etag: string
  readonly body: Buffer
}

/** Bytes of rendered pages one process keeps: a 25-row page is about 6 kB, a 100-row one about 24 kB. */
const CAPACITY_BYTES = 8 * 1024 * 1024

export class PageCache {
  private readonly pages: LruMap<string, RenderedPage>
  /** Pages built once: one is kept only when built again, so a walk over every page keeps nothing. */
  private readonly seenOnce = new Set<string>()

  constructor(private readonly capacityBytes = CAPACITY_BYTES) {
    this.pages = new LruMap(capacityBytes, (page) => page.body.length + page.etag.length)
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
