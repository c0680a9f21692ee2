// The one lifecycle every job follows, and what each transition stamps on it.
//
//   queued ──▶ working ──▶ completed
//                 │  ├───▶ failed ──▶ queued (retries + 1)
//                 │  └───▶ killed
//                 └──▶ stopping ──▶ killed

export const STATUSES = ['queued', 'working', 'stopping', 'completed', 'failed', 'killed'] as const
export type Status = (typeof STATUSES)[number]

/** The statuses each status may move to. */
export const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  queued: ['working'],
  working: ['completed', 'failed', 'killed', 'stopping'],
  stopping: ['killed'],
  failed: ['queued'],
  completed: [],
  killed: [],
}

export const TERMINAL: readonly Status[] = ['completed', 'failed', 'killed']

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value)
}

/** The statuses a job must be in to move to `to`. */
export function sourcesOf(to: Status): Status[] {
  return STATUSES.filter((from) => TRANSITIONS[from].includes(to))
}

/** Column changes a move to `to` makes besides `status`, as SQL expressions over the row. */
export function stampsFor(to: Status): Record<string, string> {
  switch (to) {
    case 'working':
      return { started_at: ':now', completed_at: 'NULL', failed_at: 'NULL' }
    case 'completed':
      return { completed_at: ':now' }
    case 'failed':
      return { failed_at: ':now' }
    case 'queued':
      return { retries: 'retries + 1', failed_at: 'NULL', completed_at: 'NULL', progress: '0' }
    case 'killed':
    case 'stopping':
      return {}
  }
}
