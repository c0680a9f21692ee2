// What a command of the command-line tool is, and what it is given to run.
import type { Knex } from 'knex'
import type { Config } from '../config'

export class UsageError extends Error {}

export type Values = Record<string, string | undefined> & { 'redirect-uri'?: string[] }

/** What a command runs with besides the database: notes and progress go to stderr, so stdout stays scriptable. */
export interface Context {
  config: Config
  note(line: string): void
  /** A line of the answer, for a command that answers as it goes. */
  print(line: string): void
  /** Resolves on Ctrl-C (or SIGTERM): a command that runs until then ends cleanly. */
  stopped: Promise<void>
}

export interface Command {
  readonly name: string
  /** Options after the name, as `--help` shows them. */
  readonly synopsis: string
  readonly summary: string
  readonly help: string
  readonly options: readonly string[]
  run(db: Knex, values: Values, context: Context): Promise<string>
}

/** The value of option `--name`, which the command cannot do without. */
export function required(values: Values, name: string): string {
  const value = values[name]
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`)
  return value
}
