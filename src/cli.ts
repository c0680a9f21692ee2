#!/usr/bin/env node
// The command-line tool: migrate, create organizations, people and tokens, and insert job statuses in bulk.
import { parseArgs } from 'node:util'
import type { Knex } from 'knex'
import { createAccessToken, createPerson, createPersonalAccessToken, findOrCreateCommandLineApplication } from './auth/credentials'
import { hashPassword } from './auth/passwords'
import { ConfigError, loadConfig } from './config'
import { openDatabase } from './db/database'
import { migrate } from './db/migrate'
import { createJobStatus } from './job-statuses/commands'
import { insertJobStatuses } from './job-statuses/query'
import { createOrganization } from './organizations/query'
import { createApplication } from './auth/oauth/model'

const USAGE = `Usage: pco-job-status <command> [options]

Works on the database named by DATABASE_URL, or on the embedded one in DATA_DIR (default ./.data).

Commands:
  migrate                                   bring the schema up to date
  org create --name NAME [--time-zone TZ]   create an organization; prints its id
  person create --org ID --name NAME [--email EMAIL --password PASSWORD]
                                            create a person; prints its id
  app create --name NAME --redirect-uri URI [--redirect-uri URI …] [--scope "calendar"]
                                            register an OAuth application; prints client_id and client_secret once
  token pat --person ID                     create a personal access token; prints app_id and secret once
  token bearer --person ID [--scope calendar] [--expires-in SECONDS]
                                            create a bearer token; prints it once
  jobs insert --org ID --count N            insert N job statuses spread over every status
  jobs scenario --person ID --duration SECONDS --total N [--fail-at TASK | --kill-at TASK]
                                            create a scripted job that a running server moves along; prints its id
`

class UsageError extends Error {}

type Values = Record<string, string | undefined> & { 'redirect-uri'?: string[] }

function required(values: Values, name: string): string {
  const value = values[name]
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`)
  return value
}

function positiveInteger(values: Values, name: string): number {
  const raw = required(values, name)
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} must be a positive whole number`)
  return Number(raw)
}

async function exists(db: Knex, table: string, id: string): Promise<void> {
  if (!/^\d+$/.test(id) || !(await db(table).where({ id }).first('id'))) throw new UsageError(`no row ${id} in ${table}`)
}

async function run(db: Knex, command: string, values: Values): Promise<string> {
  switch (command) {
    case 'migrate': {
      const applied = await migrate(db)
      return applied.length ? `applied ${applied.join(', ')}` : 'already up to date'
    }
    case 'org create': {
      await migrate(db)
      const id = await createOrganization(db, { name: required(values, 'name'), ...(values['time-zone'] ? { time_zone: values['time-zone'] } : {}) })
      return id
    }
    case 'person create': {
      await migrate(db)
      const org = required(values, 'org')
      await exists(db, 'organizations', org)
      const { email, password } = values
      if ((email === undefined) !== (password === undefined)) throw new UsageError('--email and --password go together')
      return createPerson(db, org, {
        name: required(values, 'name'),
        ...(email && password ? { email: email.toLowerCase(), password_digest: await hashPassword(password) } : {}),
      })
    }
    case 'app create': {
      await migrate(db)
      const redirectUris = values['redirect-uri'] ?? []
      if (redirectUris.length === 0) throw new UsageError('--redirect-uri is required')
      for (const uri of redirectUris) {
        if (!URL.canParse(uri) || new URL(uri).hash) throw new UsageError(`--redirect-uri must be an absolute URI without a fragment: ${uri}`)
      }
      const { clientId, clientSecret } = await createApplication(db, {
        name: required(values, 'name'),
        redirectUris,
        scopes: (values.scope ?? 'calendar').split(/[ ,]+/).filter(Boolean),
      })
      return `client_id: ${clientId}\nclient_secret: ${clientSecret}`
    }
    case 'token pat': {
      await migrate(db)
      const person = required(values, 'person')
      await exists(db, 'people', person)
      const { appId, secret } = await createPersonalAccessToken(db, person)
      return `app_id: ${appId}\nsecret: ${secret}`
    }
    case 'token bearer': {
      await migrate(db)
      const person = required(values, 'person')
      await exists(db, 'people', person)
      const expiresIn = values['expires-in'] === undefined ? undefined : positiveInteger(values, 'expires-in')
      return createAccessToken(db, {
        personId: person,
        applicationId: await findOrCreateCommandLineApplication(db),
        scopes: (values.scope ?? 'calendar').split(/[ ,]+/).filter(Boolean),
        expiresAt: expiresIn === undefined ? null : new Date(Date.now() + expiresIn * 1000),
      })
    }
    case 'jobs insert': {
      await migrate(db)
      const org = required(values, 'org')
      await exists(db, 'organizations', org)
      const count = positiveInteger(values, 'count')
      const started = Date.now()
      await insertJobStatuses(db, org, count)
      return `inserted ${count} job statuses in ${((Date.now() - started) / 1000).toFixed(1)} s`
    }
    case 'jobs scenario': {
      await migrate(db)
      const person = required(values, 'person')
      await exists(db, 'people', person)
      const { organization_id: organizationId } = await db('people').where({ id: person }).first('organization_id')
      const duration = Number(required(values, 'duration'))
      if (!(duration > 0 && duration <= 86_400)) throw new UsageError('--duration must be a number of seconds from 0 to 86400')
      const total = positiveInteger(values, 'total')
      const failAt = values['fail-at'] === undefined ? undefined : positiveInteger(values, 'fail-at')
      const killAt = values['kill-at'] === undefined ? undefined : positiveInteger(values, 'kill-at')
      if (failAt !== undefined && killAt !== undefined) throw new UsageError('--fail-at and --kill-at do not go together')
      if ((failAt ?? killAt ?? 1) > total) throw new UsageError('--fail-at and --kill-at must be at most --total')
      const row = await createJobStatus(db, String(organizationId), person, {
        scenario: { duration_seconds: duration, total, ...(failAt ? { fail_at_task: failAt } : {}), ...(killAt ? { kill_at_task: killAt } : {}) },
      }, new Date())
      return row.id
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'no command given')
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(
          ['name', 'time-zone', 'org', 'email', 'password', 'person', 'scope', 'expires-in', 'count', 'duration', 'total', 'fail-at', 'kill-at'].map(
            (name) => [name, { type: 'string' as const }],
          ),
        ),
        'redirect-uri': { type: 'string', multiple: true },
      },
    })
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const command = parsed.positionals.join(' ')
  if (command === '' || command === 'help') {
    process.stdout.write(USAGE)
    return command === '' ? 2 : 0
  }
  let db: Knex | undefined
  try {
    db = openDatabase(loadConfig(), { holder: 'the command-line tool', throughRunningServer: true })
    process.stdout.write(`${await run(db, command, parsed.values as Values)}\n`)
    return 0
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`)
      return 2
    }
    process.stderr.write(`failed: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  } finally {
    await db?.destroy()
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code))
