#!/usr/bin/env node
// The command-line tool: migrate, create organizations, people and tokens, insert job statuses in bulk, manage webhooks.
import { parseArgs } from 'node:util'
import type { Knex } from 'knex'
import { ALL_OPTIONS, COMMANDS, UsageError, type Command, type Values } from './cli/commands'
import { ConfigError, loadConfig } from './config'
import { openDatabase } from './db/database'
import { migrate } from './db/migrate'

const USAGE = `Usage: pco-job-status <command> [options]
       pco-job-status <command> --help

Works on the database named by DATABASE_URL, or on the embedded one in DATA_DIR (default ./.data):
through the server when one runs on it, else on its files.

Commands:
${COMMANDS.map((command) => `  ${`${command.name} ${command.synopsis}`.trimEnd()}\n      ${command.summary}`).join('\n')}
`

const commandHelp = (command: Command) => `Usage: pco-job-status ${`${command.name} ${command.synopsis}`.trimEnd()}\n\n${command.help}\n`

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(ALL_OPTIONS.map((name) => [name, { type: 'string' as const, multiple: name === 'redirect-uri' }])),
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const name = parsed.positionals.join(' ')
  if (name === '' || name === 'help') {
    process.stdout.write(USAGE)
    return name === '' && !parsed.values.help ? 2 : 0
  }
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${USAGE}`)
    return 2
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(command))
    return 0
  }
  const values = parsed.values as Values
  const stray = Object.keys(values).find((option) => values[option] !== undefined && !command.options.includes(option))
  if (stray) {
    process.stderr.write(`${name} takes no --${stray}\n\n${commandHelp(command)}`)
    return 2
  }
  let db: Knex | undefined
  try {
    const config = loadConfig()
    db = openDatabase(config, { holder: 'the command-line tool', throughRunningServer: true })
    if (command.name !== 'migrate') await migrate(db)
    // Ctrl-C is caught only for a command that asks when to stop; any other it ends as usual.
    let stopped: Promise<void> | undefined
    const answer = await command.run(db, values, {
      config,
      note: (line) => process.stderr.write(`${line}\n`),
      print: (line) => process.stdout.write(`${line}\n`),
      get stopped() {
        return (stopped ??= new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve())
          process.once('SIGTERM', () => resolve())
        }))
      },
    })
    process.stdout.write(`${answer}\n`)
    return 0
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n\n${commandHelp(command)}`)
      return 2
    }
    process.stderr.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  } finally {
    await db?.destroy()
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code))
