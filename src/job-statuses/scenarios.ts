// Drives scripted jobs through their lifecycle, one step at a time, exactly once across every process.
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import type { Scenario } from './commands'

/** How often each process looks for scripted jobs whose next step is due. */
export const TICK_MS = 200
const BATCH = 20

interface DueRow {
  id: string
  status: string
  progress: number
  scenario: Scenario
}

/** What one step does to a job, given where it is. */
export function nextStep(row: DueRow): {
  changes: Record<string, unknown>
  result?: { task_id: string; task_id_is_number: boolean; action: string; success: boolean; status: string; errors: unknown; title: string }
  /** Whether another step follows, one task's time later. */
  continues: boolean
} {
  const { scenario } = row
  const task = row.progress + 1
  switch (row.status) {
    case 'queued':
      return { changes: { status: 'working', started_at: ':now', message: `Starting ${scenario.total} tasks` }, continues: true }
    case 'working':
      if (task === scenario.fail_at_task) {
        return {
          changes: {
            status: 'failed',
            failed_at: ':now',
            results_count: ':results + 1',
            message: `Task ${task} failed`,
            errors: JSON.stringify({ base: [`Task ${task} failed`] }),
          },
          result: { task_id: String(task), task_id_is_number: true, action: 'process', success: false, status: 'Failed', errors: `Task ${task} failed`, title: `Task ${task}` },
          continues: false,
        }
      }
      if (task === scenario.kill_at_task) return { changes: { status: 'stopping', message: `Stopping before task ${task}` }, continues: true }
      return {
        changes: {
          progress: task,
          results_count: ':results + 1',
          message: `Finished task ${task} of ${scenario.total}`,
          ...(task >= scenario.total ? { status: 'completed', completed_at: ':now' } : {}),
        },
        result: { task_id: String(task), task_id_is_number: true, action: 'process', success: true, status: 'Completed', errors: '', title: `Task ${task}` },
        continues: task < scenario.total,
      }
    case 'stopping':
      return { changes: { status: 'killed', message: `Killed before task ${task}` }, continues: false }
    default:
      // Moved on by someone else (the write API): the script has nothing more to do.
      return { changes: {}, continues: false }
  }
}

export class ScenarioDriver {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private failing = false

  constructor(
    private readonly db: Knex,
    private readonly now: () => Date,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined))
    }, TICK_MS)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }

  /** Takes due jobs no other process holds (SKIP LOCKED), moves each one step, and commits. */
  async tick(): Promise<number> {
    try {
      // Most ticks find nothing due: one indexed look, not a transaction, is all they cost an idle process.
      const [{ due }] = (await this.db.raw('SELECT EXISTS (SELECT 1 FROM job_statuses WHERE scenario_due_at <= ?) AS due', [this.now()])).rows as [{ due: boolean }]
      if (!due) return 0
      const moved = await this.db.transaction(async (trx) => {
        const now = this.now()
        const due = (await trx('job_statuses')
          .where('scenario_due_at', '<=', now)
          .orderBy('scenario_due_at')
          .limit(BATCH)
          .forUpdate()
          .skipLocked()
          .select('id', 'status', 'progress', 'scenario')) as DueRow[]
        for (const row of due) await this.step(trx, row, now)
        return due.length
      })
      this.failing = false
      return moved
    } catch (error) {
      // The database may be away for a while (a restart): say so once, and keep ticking.
      if (!this.failing) this.logger.warn({ err: error }, 'scenario jobs paused: the database did not answer')
      this.failing = true
      return 0
    }
  }

  private async step(trx: Knex, row: DueRow, now: Date): Promise<void> {
    const { changes, result, continues } = nextStep(row)
    const interval = (row.scenario.duration_seconds * 1000) / row.scenario.total
    const values = Object.fromEntries(
      Object.entries(changes).map(([column, value]) => [
        column,
        value === ':now' ? now : value === ':results + 1' ? trx.raw('results_count + 1') : value,
      ]),
    )
    await trx('job_statuses')
      .where({ id: row.id })
      .update({ ...values, updated_at: now, scenario_due_at: continues ? new Date(now.getTime() + interval) : null })
    if (result) await trx('job_status_results').insert({ job_status_id: row.id, ...result, errors: JSON.stringify(result.errors), created_at: now })
  }
}
