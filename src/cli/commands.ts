// The command-line tool's commands: each with its synopsis, its help, the options it takes and what it does.
import type { Knex } from 'knex'
import { createAccessToken, createPerson, createPersonalAccessToken, findOrCreateCommandLineApplication } from '../auth/credentials'
import { createApplication } from '../auth/oauth/model'
import { hashPassword } from '../auth/passwords'
import { parseScopes, SCOPE_NAMES, type Scope } from '../auth/scopes'
import { migrate } from '../db/migrate'
import { createJobStatus } from '../job-statuses/commands'
import { insertJobStatuses } from '../job-statuses/query'
import { createOrganization } from '../organizations/query'
import { required, UsageError, type Command, type Values } from './command'
import { progress } from './progress'
import { WEBHOOK_COMMANDS } from './webhook-commands'

export { UsageError, type Command, type Values } from './command'

/** A bearer token from the tool lasts as long as the demo's unless --expires-in says otherwise. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600

function positiveInteger(values: Values, name: string): number {
  const raw = required(values, name)
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} must be a positive whole number`)
  return Number(raw)
}

function scopes(values: Values): Scope[] {
  const parsed = parseScopes(values.scope ?? 'calendar')
  if ('unknown' in parsed) throw new UsageError(`unknown scope ${parsed.unknown.map((name) => `"${name}"`).join(', ')}: the scopes are ${SCOPE_NAMES.join(', ')}`)
  if (parsed.scopes.length === 0) throw new UsageError(`--scope names none of ${SCOPE_NAMES.join(', ')}`)
  return parsed.scopes
}

async function exists(db: Knex, table: string, id: string): Promise<void> {
  if (!/^\d+$/.test(id) || !(await db(table).where({ id }).first('id'))) throw new UsageError(`no row ${id} in ${table}`)
}

const scopeHelp = `Scopes: ${SCOPE_NAMES.join(', ')} (calendar: the Calendar API and the Zendesk and Xplenty reads; jobs: the write API; webhooks: the Webhooks API); several are separated by spaces or commas.`

const CORE_COMMANDS: readonly Command[] = [
  {
    name: 'migrate',
    synopsis: '',
    summary: 'bring the schema up to date',
    help: 'Applies the migrations the database has not had yet, naming each. The server does this at every start too.',
    options: [],
    run: async (db, _values, output) => {
      const applied = await migrate(db, { onStep: (name) => output.note(`applying ${name}`) })
      return applied.length ? `applied ${applied.join(', ')}` : 'already up to date'
    },
  },
  {
    name: 'org create',
    synopsis: '--name NAME [--time-zone TZ]',
    summary: 'create an organization; prints its id',
    help: 'Creates an organization. --time-zone is an IANA name such as Europe/London (default America/Los_Angeles).',
    options: ['name', 'time-zone'],
    run: async (db, values) => createOrganization(db, { name: required(values, 'name'), ...(values['time-zone'] ? { time_zone: values['time-zone'] } : {}) }),
  },
  {
    name: 'person create',
    synopsis: '--org ID --name NAME [--email EMAIL --password PASSWORD]',
    summary: 'create a person; prints its id',
    help: 'Creates a person in organization ID. With --email and --password the person can sign in to the explorer and to OAuth applications.',
    options: ['org', 'name', 'email', 'password'],
    run: async (db, values) => {
      const org = required(values, 'org')
      await exists(db, 'organizations', org)
      const { email, password } = values
      if ((email === undefined) !== (password === undefined)) throw new UsageError('--email and --password go together')
      return createPerson(db, org, {
        name: required(values, 'name'),
        ...(email && password ? { email: email.toLowerCase(), password_digest: await hashPassword(password) } : {}),
      })
    },
  },
  {
    name: 'app create',
    synopsis: '--name NAME --redirect-uri URI [--redirect-uri URI …] [--scope SCOPES]',
    summary: 'register an OAuth application; prints client_id and client_secret once',
    help: `Registers an OAuth application that may ask for SCOPES (default calendar) and send people back to each URI. ${scopeHelp}`,
    options: ['name', 'redirect-uri', 'scope'],
    run: async (db, values) => {
      const redirectUris = values['redirect-uri'] ?? []
      if (redirectUris.length === 0) throw new UsageError('--redirect-uri is required')
      for (const uri of redirectUris) {
        if (!URL.canParse(uri) || new URL(uri).hash) throw new UsageError(`--redirect-uri must be an absolute URI without a fragment: ${uri}`)
      }
      const { clientId, clientSecret } = await createApplication(db, { name: required(values, 'name'), redirectUris, scopes: scopes(values) })
      return `client_id: ${clientId}\nclient_secret: ${clientSecret}`
    },
  },
  {
    name: 'token pat',
    synopsis: '--person ID',
    summary: 'create a personal access token; prints app_id and secret once',
    help: 'Creates a personal access token for person ID: send it as HTTP Basic app_id:secret. It does not expire; it reads what the person may read.',
    options: ['person'],
    run: async (db, values) => {
      const person = required(values, 'person')
      await exists(db, 'people', person)
      const { appId, secret } = await createPersonalAccessToken(db, person)
      return `app_id: ${appId}\nsecret: ${secret}`
    },
  },
  {
    name: 'token bearer',
    synopsis: '--person ID [--scope SCOPES] [--expires-in SECONDS]',
    summary: 'create a bearer token; prints it once',
    help: `Creates an OAuth bearer token for person ID with SCOPES (default calendar), valid for SECONDS (default ${DEFAULT_TOKEN_LIFETIME_SECONDS}, 30 days). ${scopeHelp}`,
    options: ['person', 'scope', 'expires-in'],
    run: async (db, values, output) => {
      const person = required(values, 'person')
      const granted = scopes(values)
      await exists(db, 'people', person)
      const lifetime = values['expires-in'] === undefined ? DEFAULT_TOKEN_LIFETIME_SECONDS : positiveInteger(values, 'expires-in')
      const expiresAt = new Date(Date.now() + lifetime * 1000)
      const token = await createAccessToken(db, { personId: person, applicationId: await findOrCreateCommandLineApplication(db), scopes: granted, expiresAt })
      output.note(`scopes ${granted.join(' ')}; expires ${expiresAt.toISOString()}${values['expires-in'] === undefined ? ' (the default, 30 days; --expires-in SECONDS for another)' : ''}`)
      return token
    },
  },
  {
    name: 'jobs insert',
    synopsis: '--org ID --count N [--person ID]',
    summary: 'insert N job statuses spread over every status',
    help: 'Inserts N job statuses into organization ID, spread over every status, for trying the API at scale, created by person ID when given (Xplenty shows them as the owner). Shows its progress on stderr.',
    options: ['org', 'count', 'person'],
    run: async (db, values) => {
      const org = required(values, 'org')
      const count = positiveInteger(values, 'count')
      await exists(db, 'organizations', org)
      const person = values.person
      if (person !== undefined) {
        await exists(db, 'people', person)
        const owner = await db('people').where({ id: person }).first('organization_id')
        if (String(owner.organization_id) !== org) throw new UsageError(`person ${person} is not in organization ${org}`)
      }
      const started = Date.now()
      const bar = progress('rows', count)
      await insertJobStatuses(db, org, count, { createdBy: person, onProgress: (done) => bar.update(done) })
      bar.finish()
      return `inserted ${count} job statuses in ${((Date.now() - started) / 1000).toFixed(1)} s`
    },
  },
  {
    name: 'jobs scenario',
    synopsis: '--person ID --duration SECONDS --total N [--fail-at TASK | --kill-at TASK]',
    summary: 'create a scripted job that a running server moves along; prints its id',
    help: 'Creates a job of N tasks that a running server moves along by itself over SECONDS, failing at or being killed before task TASK when asked.',
    options: ['person', 'duration', 'total', 'fail-at', 'kill-at'],
    run: async (db, values) => {
      const person = required(values, 'person')
      const duration = Number(required(values, 'duration'))
      if (!(duration > 0 && duration <= 86_400)) throw new UsageError('--duration must be a number of seconds from 0 to 86400')
      const total = positiveInteger(values, 'total')
      const failAt = values['fail-at'] === undefined ? undefined : positiveInteger(values, 'fail-at')
      const killAt = values['kill-at'] === undefined ? undefined : positiveInteger(values, 'kill-at')
      if (failAt !== undefined && killAt !== undefined) throw new UsageError('--fail-at and --kill-at do not go together')
      if ((failAt ?? killAt ?? 1) > total) throw new UsageError('--fail-at and --kill-at must be at most --total')
      await exists(db, 'people', person)
      const { organization_id: organizationId } = await db('people').where({ id: person }).first('organization_id')
      const row = await createJobStatus(db, String(organizationId), person, {
        scenario: { duration_seconds: duration, total, ...(failAt ? { fail_at_task: failAt } : {}), ...(killAt ? { kill_at_task: killAt } : {}) },
      }, new Date())
      return row.id
    },
  },
]

export const COMMANDS: readonly Command[] = [...CORE_COMMANDS, ...WEBHOOK_COMMANDS]

/** Every option any command takes, for the argument parser. */
export const ALL_OPTIONS = [...new Set(COMMANDS.flatMap((command) => command.options))]
