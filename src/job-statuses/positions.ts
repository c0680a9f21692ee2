// Where each page of an organization's job statuses starts, so a deep offset costs a short index skip.
import type { Knex } from 'knex'
import { LruMap } from '../lru-map'
import { cacheLookups } from '../http/metrics'

/**
 * Every STEP-th id of an organization, in id order, as of one version of its job_status_counts row.
 * Measured on 200,000 rows (docs/performance.md): building this takes one index scan; afterwards
 * any offset skips fewer than STEP index entries instead of up to 200,000.
 */
export const STEP = 250
/**
 * The first offset positions are taken and used for. Skipping fewer index entries than this costs
 * less than building an organization's positions: in traffic over 1,000 organizations of 800 jobs,
 * building them for every organization's first page past 250 cost the mixed scenario 19%
 * (docs/performance.md), and such an organization never has an offset this deep.
 */
export const DEEP_OFFSET = 4 * STEP
/** Organizations whose positions one process keeps; about 8 bytes per STEP rows each. */
const MAX_ORGANIZATIONS = 2_000

export interface Positions {
  version: string
  /** ids[i] is the id at offset i * STEP. */
  ids: string[]
}

export interface Anchor {
  version: string
  /** The id at `offset`, or 0 to start at the beginning. */
  fromId: string
  /** Rows to skip after fromId. */
  skip: number
}

export class PositionCache {
  private readonly cache: LruMap<string, Positions>
  private readonly building = new Map<string, Promise<Positions | undefined>>()

  constructor(
    private readonly db: Knex,
    capacity = MAX_ORGANIZATIONS,
  ) {
    this.cache = new LruMap(capacity)
  }

  /** The anchor for `offset`, if this process knows the organization's positions. */
  anchor(organizationId: string, offset: number): Anchor | undefined {
    if (offset < DEEP_OFFSET) return undefined
    const positions = this.cache.get(organizationId)
    cacheLookups.inc({ cache: 'positions', result: positions ? 'hit' : 'miss' })
    if (!positions) return undefined
    const index = Math.min(Math.floor(offset / STEP), positions.ids.length - 1)
    if (index < 0) return undefined
    return { version: positions.version, fromId: positions.ids[index]!, skip: offset - index * STEP }
  }

  /** Builds (once at a time per organization) the positions of the current version. */
  async refresh(organizationId: string): Promise<void> {
    // With no room to keep them, building positions would only cost a scan.
    if (this.cache.capacity === 0) return
    let pending = this.building.get(organizationId)
    if (!pending) {
      pending = this.build(organizationId).finally(() => this.building.delete(organizationId))
      this.building.set(organizationId, pending)
    }
    const positions = await pending
    if (!positions) return
    this.cache.set(organizationId, positions)
  }

  // One statement, so the ids and the version come from one snapshot.
  private async build(organizationId: string): Promise<Positions | undefined> {
    const { rows } = await this.db.raw(
      `SELECT c.version::text AS version,
              ARRAY(SELECT s.id::text FROM (
                      SELECT id, row_number() OVER (ORDER BY id) - 1 AS position
                      FROM job_statuses WHERE organization_id = c.organization_id) AS s
                    WHERE s.position % :step = 0 ORDER BY s.id) AS ids
       FROM job_status_counts AS c WHERE c.organization_id = :organizationId`,
      { organizationId, step: STEP },
    )
    const [row] = rows as Array<{ version: string; ids: string[] }>
    return row && { version: row.version, ids: row.ids }
  }
}
