// Writes to job statuses: create, update, report progress, append results, move through the lifecycle.
// Each is one statement or one transaction, scoped to the organization, returning the row as committed.
import type { Knex } from 'knex'
import { Conflict, Unprocessable } from '../jsonapi/errors'
import { runStatement } from '../db/prepared'
import { sourcesOf, stampsFor, TRANSITIONS, type Status } from './lifecycle'
import { COLUMNS, fromDatabase, type JobStatusRow } from './query'

export interface Output {
  name: string
  records_count: number | null
  url: string | null
}

export interface Scenario {
  duration_seconds: number
  total: number
  fail_at_task?: number
  kill_at_task?: number
}

export interface NewJobStatus {
  kind?: string | null
  total?: number | null
  message?: string | null
  errors?: unknown
  outputs?: Output[]
  scenario?: Scenario
}

export interface JobStatusChanges {
  kind?: string | null
  total?: number | null
  progress?: number
  message?: string | null
  errors?: unknown
  outputs?: Output[]
}

export interface NewResult {
  id?: string | null
  /** Whether the worker sent `id` as a JSON number. */
  idIsNumber?: boolean
  action?: string | null
  success?: boolean | null
  status?: string | null
  errors?: unknown
  title?: string | null
}

/** The largest `total`, `progress` or count a job keeps: PostgreSQL's integer. */
export const MAX_COUNT = 2_147_483_647

/** The most results one job keeps; an append past it is refused whole. */
export const MAX_RESULTS_PER_JOB = 100_000

const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value))

export async function createJobStatus(db: Knex, organizationId: string, personId: string, job: NewJobStatus, now: Date): Promise<JobStatusRow> {
  const [row] = await db('job_statuses')
    .insert({
      organization_id: organizationId,
      created_by: personId,
      kind: job.kind ?? (job.scenario ? 'scenario' : null),
      total: job.total ?? job.scenario?.total ?? null,
      message: job.message ?? null,
      errors: json(job.errors ?? {}),
      outputs: json(job.outputs ?? []),
      scenario: json(job.scenario ?? null),
      // A scripted job starts moving right away (src/job-statuses/scenarios.ts).
      scenario_due_at: job.scenario ? now : null,
      created_at: now,
      updated_at: now,
    })
    .returning(COLUMNS)
  return fromDatabase(row)
}

/** Why a write found no row to change: the job is missing (undefined) or in the wrong status. */
async function currentState(db: Knex, organizationId: string, id: string): Promise<{ status: Status; progress: number; total: number | null; results_count: number } | undefined> {
  return db('job_statuses').where({ organization_id: organizationId, id }).first('status', 'progress', 'total', 'results_count')
}

async function currentStatus(db: Knex, organizationId: string, id: string): Promise<Status | undefined> {
  return (await currentState(db, organizationId, id))?.status
}

/** One write to one job: a progress report (`increment` tasks done) or a PATCH, with the attributes it sets. */
export interface JobChange {
  organizationId: string
  id: string
  /** Tasks done since the last report; only for a progress report. */
  increment?: number
  set: JobStatusChanges
}

const REPORTING: Status[] = ['working', 'stopping']

const setting = (name: keyof JobStatusChanges, value: string, otherwise: string) =>
  `CASE WHEN jsonb_exists(i.set, '${name}') THEN ${value} ELSE ${otherwise} END`
const NEW_TOTAL = setting('total', `(i.set->>'total')::integer`, 'j.total')
const NEW_PROGRESS = setting('progress', `(i.set->>'progress')::integer`, 'j.progress + coalesce(i.increment, 0)')

/**
 * Applies changes to distinct jobs in one UPDATE; changeJobStatuses' statement. The rows are locked
 * in id order first, so two statements that share jobs wait on each other, never in a cycle. The
 * guards are checked against the row as it is when locked, whatever another writer left:
 * - a progress report adds up with concurrent ones, only while the job is working or stopping, and
 *   never past its total or PostgreSQL's integer;
 * - a PATCH that changes progress or total never leaves progress past the total (a row from before
 *   this rule may be past it; its message can still change).
 */
const CHANGE_JOB_STATUSES = `WITH input AS (
    SELECT * FROM jsonb_to_recordset(:changes::jsonb) AS i(n integer, organization_id bigint, id bigint, increment integer, set jsonb)
  ), locked AS MATERIALIZED (
    SELECT j.id FROM job_statuses AS j JOIN input AS i ON j.organization_id = i.organization_id AND j.id = i.id
    ORDER BY j.id FOR UPDATE OF j
  )
  UPDATE job_statuses AS j SET
    kind = ${setting('kind', `i.set->>'kind'`, 'j.kind')},
    total = ${NEW_TOTAL},
    progress = ${NEW_PROGRESS},
    message = ${setting('message', `i.set->>'message'`, 'j.message')},
    errors = ${setting('errors', `i.set->'errors'`, 'j.errors')},
    outputs = ${setting('outputs', `i.set->'outputs'`, 'j.outputs')},
    updated_at = :now
  FROM input AS i
  WHERE j.organization_id = i.organization_id AND j.id = i.id AND j.id IN (SELECT id FROM locked)
    AND (i.increment IS NULL
      OR (j.status IN (${REPORTING.map((status) => `'${status}'`).join(', ')}) AND j.progress::bigint + i.increment <= coalesce(j.total, ${MAX_COUNT})))
    AND (NOT jsonb_exists_any(i.set, array['progress', 'total']) OR ${NEW_TOTAL} IS NULL OR ${NEW_PROGRESS} <= ${NEW_TOTAL})
  RETURNING i.n, ${COLUMNS.map((column) => `j.${column}`).join(', ')}`

/**
 * Applies `changes`, each to a different job, in one statement, and returns each job as changed, or
 * undefined where a change was refused or its job is missing (refusal() says which).
 */
export async function changeJobStatuses(db: Knex, changes: readonly JobChange[], now: Date): Promise<Array<JobStatusRow | undefined>> {
  const input = changes.map((change, n) => ({ n, organization_id: change.organizationId, id: change.id, increment: change.increment ?? null, set: stored(change.set) }))
  const rows = await runStatement<Record<string, unknown>>(db, CHANGE_JOB_STATUSES, { changes: JSON.stringify(input), now })
  const changed: Array<JobStatusRow | undefined> = changes.map(() => undefined)
  for (const { n, ...row } of rows) changed[Number(n)] = fromDatabase(row)
  return changed
}

/** The attributes a change sets, without the ones it leaves alone. */
const stored = (set: JobStatusChanges) => Object.fromEntries(Object.entries(set).filter(([, value]) => value !== undefined))

/**
 * Why `change` changed nothing: undefined when its job is missing (a 404), else the refusal thrown,
 * read from the job as it is now.
 */
export async function refusal(db: Knex, change: JobChange): Promise<undefined> {
  const state = await currentState(db, change.organizationId, change.id)
  if (state === undefined) return undefined
  const { increment } = change
  if (increment === undefined) {
    const pointer = change.set.progress !== undefined ? '/data/attributes/progress' : '/data/attributes/total'
    throw new Unprocessable(pointer, `progress may not pass total: it would be ${change.set.progress ?? state.progress} of ${change.set.total ?? state.total}`, 'progress_above_total')
  }
  if (!REPORTING.includes(state.status)) {
    throw new Conflict('invalid_state', `Progress can be reported only while a job is working or stopping; this one is ${state.status}`)
  }
  if (state.total !== null && state.progress + increment > state.total) {
    throw new Unprocessable('/data/attributes/increment', `progress may not pass total: it would be ${state.progress + increment} of ${state.total}`, 'progress_above_total')
  }
  throw new Unprocessable('/data/attributes/increment', `progress can reach at most ${MAX_COUNT}; it is ${state.progress}`, 'out_of_range')
}

/** Appends per-task results and counts them, in one transaction. */
export async function appendResults(
  db: Knex,
  organizationId: string,
  id: string,
  results: NewResult[],
  now: Date,
): Promise<JobStatusRow | undefined> {
  return db.transaction(async (trx) => {
    // Taking the row first orders concurrent appends and keeps results_count equal to the rows.
    const [row] = await trx('job_statuses')
      .where({ organization_id: organizationId, id })
      .whereIn('status', REPORTING)
      .where('results_count', '<=', MAX_RESULTS_PER_JOB - results.length)
      .update({ results_count: trx.raw('results_count + ?', [results.length]), updated_at: now })
      .returning(COLUMNS)
    if (!row) {
      const state = await currentState(trx, organizationId, id)
      if (state === undefined) return undefined
      if (!REPORTING.includes(state.status)) {
        throw new Conflict('invalid_state', `Results can be appended only while a job is working or stopping; this one is ${state.status}`)
      }
      throw new Unprocessable('/data', `A job keeps at most ${MAX_RESULTS_PER_JOB} results; this one has ${state.results_count}`, 'too_many_results')
    }
    for (let i = 0; i < results.length; i += 1000) {
      await trx('job_status_results').insert(
        results.slice(i, i + 1000).map((result) => ({
          job_status_id: id,
          task_id: result.id ?? null,
          task_id_is_number: result.idIsNumber === true,
          action: result.action ?? null,
          success: result.success ?? null,
          status: result.status ?? null,
          errors: json(result.errors ?? null),
          title: result.title ?? null,
          created_at: now,
        })),
      )
    }
    return fromDatabase(row)
  })
}

/**
 * Moves a job to `to` if its current status allows it, in one conditional UPDATE: of two racing
 * moves (completed and failed, say) exactly one finds the row still working.
 */
export async function transitionJobStatus(
  db: Knex,
  organizationId: string,
  id: string,
  to: Status,
  changes: Pick<JobStatusChanges, 'message' | 'errors'>,
  now: Date,
): Promise<JobStatusRow | undefined> {
  const stamps = Object.fromEntries(
    Object.entries(stampsFor(to)).map(([column, expression]) => [column, expression === ':now' ? now : db.raw(expression)]),
  )
  const [row] = await db('job_statuses')
    .where({ organization_id: organizationId, id })
    .whereIn('status', sourcesOf(to))
    .update({
      status: to,
      ...stamps,
      ...(changes.message !== undefined ? { message: changes.message } : {}),
      ...(changes.errors !== undefined ? { errors: json(changes.errors) } : {}),
      updated_at: now,
    })
    .returning(COLUMNS)
  if (row) return fromDatabase(row)
  const status = await currentStatus(db, organizationId, id)
  if (status === undefined) return undefined
  const allowed = TRANSITIONS[status]
  throw new Conflict(
    'invalid_transition',
    `A ${status} job cannot become ${to}; ${allowed.length ? `it can become ${allowed.join(' or ')}` : 'it is finished'}`,
  )
}
