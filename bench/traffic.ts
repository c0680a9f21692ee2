// The traffic of a job-status service, for npm run bench: workers report progress while clients
// read and poll. Each scenario runs the same requests against the server and the reference.
import type { Knex } from 'knex'
import { createAccessToken, createPerson, findOrCreateCommandLineApplication } from '../src/auth/credentials'

export interface Caller {
  organization: string
  token: string
  min: number
  max: number
  total: number
}

export interface Traffic {
  /** Every organization but the largest, whose jobs are all `working` (so progress can be reported). */
  callers: Caller[]
  /** One caller per organization, the largest included: the mixed scenario's. */
  everyone: Caller[]
  /** 32 jobs of one organization that every writer of the hot scenario updates. */
  hot: { token: string; ids: number[] }
  /** The id range of the working jobs, for pgbench. */
  workingIds: { min: number; max: number }
}

export type Request = { method?: string; path: string; token: string; body?: string; headers?: Record<string, string> }

const any = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1))

/**
 * Callers with `calendar` and `jobs` tokens for every organization, and every job of the small
 * organizations `working` with no total, once, so that any of them takes a progress report.
 */
export async function prepareTraffic(db: Knex, organizations: string[], largeOrganization: string): Promise<Traffic> {
  const idle = await db('job_statuses').whereNot({ organization_id: largeOrganization }).whereNot({ status: 'working' }).first('id')
  if (idle) {
    console.log('traffic: making every job of the small organizations a working job')
    await db('job_statuses')
      .whereNot({ organization_id: largeOrganization })
      .update({ status: 'working', total: null, started_at: db.raw('coalesce(started_at, now())'), completed_at: null, failed_at: null })
    await db.raw('VACUUM ANALYZE job_statuses')
  }
  const application = await findOrCreateCommandLineApplication(db)
  const { rows: ranges } = (await db.raw('SELECT organization_id, min(id) AS min, max(id) AS max, count(*) AS total FROM job_statuses GROUP BY organization_id')) as {
    rows: Array<{ organization_id: string; min: string; max: string; total: string }>
  }
  const byOrganization = new Map(ranges.map((r) => [String(r.organization_id), { min: Number(r.min), max: Number(r.max), total: Number(r.total) }]))
  const everyone: Caller[] = []
  for (const organization of organizations) {
    const person = await createPerson(db, organization, { name: 'Bench traffic' })
    const token = await createAccessToken(db, { personId: person, applicationId: application, scopes: ['calendar', 'jobs'], expiresAt: null })
    everyone.push({ organization, token, ...byOrganization.get(organization)! })
  }
  const callers = everyone.filter((c) => c.organization !== largeOrganization)
  const hotCaller = callers[0]!
  const working = callers.map((c) => [c.min, c.max]).flat()
  return {
    callers,
    everyone,
    hot: { token: hotCaller.token, ids: Array.from({ length: 32 }, (_, i) => hotCaller.min + i) },
    workingIds: { min: Math.min(...working), max: Math.max(...working) },
  }
}

const progress = (caller: Caller, id: number): Request => ({
  method: 'POST',
  path: `/jobs/v1/job_statuses/${id}/progress`,
  token: caller.token,
  body: JSON.stringify({ data: { attributes: { increment: 1 } } }),
})

/** 40% reads, 40% list pages at a random offset, 10% progress reports, 10% PATCHes of `message`; random organizations. */
export function mixed(traffic: Traffic): () => Request {
  return () => {
    const roll = Math.random()
    if (roll < 0.4) {
      const caller = any(traffic.everyone)
      return { path: `/calendar/v2/job_statuses/${between(caller.min, caller.max)}`, token: caller.token }
    }
    if (roll < 0.8) {
      const caller = any(traffic.everyone)
      const offset = Math.floor(Math.random() * Math.ceil(caller.total / 25)) * 25
      return { path: `/calendar/v2/job_statuses?offset=${offset}`, token: caller.token }
    }
    const caller = any(traffic.callers)
    const id = between(caller.min, caller.max)
    if (roll < 0.9) return progress(caller, id)
    return { method: 'PATCH', path: `/jobs/v1/job_statuses/${id}`, token: caller.token, body: JSON.stringify({ data: { attributes: { message: `Step ${Date.now()}` } } }) }
  }
}

/** Progress reports on random working jobs of random organizations. */
export function writesRandom(traffic: Traffic): () => Request {
  return () => {
    const caller = any(traffic.callers)
    return progress(caller, between(caller.min, caller.max))
  }
}

/** Progress reports on 32 hot jobs of one organization. */
export function writesHot(traffic: Traffic): () => Request {
  const caller = traffic.callers[0]!
  return () => progress(caller, any(traffic.hot.ids))
}

/** Every client re-reads the same job or the same first page, with the ETag it has when `etag` is given. */
export function polling(caller: Caller, path: string, etag?: string): () => Request {
  const headers: Record<string, string> = etag ? { 'if-none-match': etag } : {}
  return () => ({ path, token: caller.token, headers })
}

/** The pgbench script of a progress report, as the server's UPDATE (without its organization, which pgbench cannot pick). */
export function progressStatement(ids: { min: number; max: number } | number[]): string {
  const choose = Array.isArray(ids) ? `\\set i random(0, ${ids.length - 1})\n\\set id ${ids[0]} + :i` : `\\set id random(${ids.min}, ${ids.max})`
  return `${choose}
UPDATE job_statuses SET progress = progress + 1, updated_at = now()
  WHERE id = :id AND status IN ('working', 'stopping') AND progress <= 2147483646 AND (total IS NULL OR progress + 1 <= total)
  RETURNING *;`
}
