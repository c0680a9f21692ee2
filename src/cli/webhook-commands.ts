// The command-line tool's webhook commands: subscribe a URL, list and delete subscriptions, tail deliveries.
import type { Knex } from 'knex'
import { formatTimestamp, parseId } from '../jsonapi/format'
import { destinationRefusal, urlProblem } from '../webhooks/destinations'
import { EVENT_NAMES, isEventName } from '../webhooks/events'
import { deleteSubscription, insertSubscription, MAX_SUBSCRIPTIONS } from '../webhooks/query'
import { loadSecretKey, newAuthenticitySecret } from '../webhooks/secrets'
import { required, UsageError, type Command, type Values } from './command'

function id(values: Values, name: string): string {
  const value = parseId(required(values, name))
  if (value === undefined) throw new UsageError(`--${name} must be an id`)
  return value
}

/** How often `webhooks tail` looks for new attempts. */
const TAIL_POLL_MS = 500

export const WEBHOOK_COMMANDS: readonly Command[] = [
  {
    name: 'webhooks create',
    synopsis: '--person ID --event NAME --url URL',
    summary: 'subscribe URL to an event; prints the subscription id and its secret once',
    help: `Subscribes URL to job-status event NAME (${EVENT_NAMES.join(', ')}) for person ID's organization, as POST /webhooks/v2/webhook_subscriptions would, under the same destination rules (WEBHOOK_ALLOW_*). Prints the id and the authenticity_secret that signs every delivery; it is shown only now.`,
    options: ['person', 'event', 'url'],
    run: async (db, values, { config }) => {
      const person = id(values, 'person')
      const event = required(values, 'event')
      if (!isEventName(event)) throw new UsageError(`--event must be one of ${EVENT_NAMES.join(', ')}`)
      const url = required(values, 'url')
      const problem = urlProblem(url, config.webhookAllow)
      if (problem) throw new UsageError(problem.replace(/^url/, '--url'))
      const refusal = await destinationRefusal(new URL(url), config.webhookAllow)
      if (refusal) throw new UsageError(`--url is refused: ${refusal}`)
      const owner = await db('people').where({ id: person }).first('organization_id')
      if (!owner) throw new UsageError(`no row ${person} in people`)
      const { key } = await loadSecretKey(config)
      const secret = newAuthenticitySecret()
      const row = await insertSubscription(
        db,
        { organizationId: String(owner.organization_id), personId: person, applicationId: null, name: event, url, active: true, sealedSecret: key.seal(secret), keyId: key.id },
        new Date(),
      )
      if (!row) throw new UsageError(`the organization has ${MAX_SUBSCRIPTIONS} subscriptions, the most it keeps`)
      return `id: ${row.id}\nauthenticity_secret: ${secret}`
    },
  },
  {
    name: 'webhooks list',
    synopsis: '--org ID',
    summary: "list an organization's subscriptions, one a line",
    help: 'Prints each subscription of organization ID as: id, event name, active or inactive, URL, separated by tabs.',
    options: ['org'],
    run: async (db, values) => {
      const rows = await db('webhook_subscriptions').where({ organization_id: id(values, 'org') }).orderBy('id').select('id', 'name', 'active', 'url')
      return rows.map((row) => [row.id, row.name, row.active ? 'active' : 'inactive', row.url].join('\t')).join('\n') || '(no subscriptions)'
    },
  },
  {
    name: 'webhooks delete',
    synopsis: '--org ID --id SUBSCRIPTION',
    summary: 'delete a subscription with its events and deliveries',
    help: 'Deletes subscription SUBSCRIPTION of organization ID, and every event and delivery it has.',
    options: ['org', 'id'],
    run: async (db, values) => {
      const subscription = id(values, 'id')
      if (!(await deleteSubscription(db, id(values, 'org'), subscription))) throw new UsageError(`organization ${values.org} has no subscription ${subscription}`)
      return `deleted ${subscription}`
    },
  },
  {
    name: 'webhooks tail',
    synopsis: '--org ID [--id SUBSCRIPTION]',
    summary: 'print every delivery attempt as it happens, until Ctrl-C',
    help: "Follows organization ID's delivery attempts (one subscription's with --id), a line each: time, subscription, event uuid, event name, attempt, the receiver's status (or `-` for no answer), seconds taken and, for a failure, what came back. Starts with what happens next.",
    options: ['org', 'id'],
    run: async (db, values, { print, note, stopped }) => {
      const organization = id(values, 'org')
      const subscription = values.id === undefined ? undefined : id(values, 'id')
      const scoped = (query: Knex.QueryBuilder) => {
        query.join('webhook_events as e', 'e.id', 'd.event_id').where('e.organization_id', organization)
        if (subscription !== undefined) query.where('e.subscription_id', subscription)
        return query
      }
      const [{ last }] = (await scoped(db('webhook_deliveries as d')).max({ last: 'd.id' })) as [{ last: string | number | null }]
      let after = String(last ?? 0)
      note(`following the deliveries of organization ${organization}${subscription === undefined ? '' : `, subscription ${subscription}`}; Ctrl-C stops`)
      let printed = 0
      let stop = false
      void stopped.then(() => (stop = true))
      while (!stop) {
        const rows = await scoped(db('webhook_deliveries as d'))
          .where('d.id', '>', after)
          .orderBy('d.id')
          .limit(1000)
          .select('d.id', 'd.created_at', 'd.attempt', 'd.status', 'd.timing', 'd.response_body', 'e.subscription_id', 'e.uuid', 'e.name')
        for (const row of rows) {
          const failure = row.status === 200 ? '' : `\t${String(row.response_body ?? '').replace(/\s+/g, ' ').slice(0, 120)}`
          print(`${formatTimestamp(row.created_at)}\t${row.subscription_id}\t${row.uuid}\t${row.name}\tattempt ${row.attempt}\t${row.status ?? '-'}\t${Number(row.timing).toFixed(3)} s${failure}`)
          after = String(row.id)
          printed++
        }
        if (rows.length === 0) await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, TAIL_POLL_MS))])
      }
      return `${printed} deliveries`
    },
  },
]
