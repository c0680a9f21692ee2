import type { Knex } from 'knex'
import { EXPLORER_CLIENT_ID } from './20261124050000_explorer_application'

// The explorer writes through /jobs/v1 too: its sign-in asks for the jobs scope beside calendar.
export async function up(db: Knex): Promise<void> {
  await db('oauth_applications').where({ client_id: EXPLORER_CLIENT_ID }).update({ scopes: ['calendar', 'jobs'] })
}

export async function down(db: Knex): Promise<void> {
  await db('oauth_applications').where({ client_id: EXPLORER_CLIENT_ID }).update({ scopes: ['calendar'] })
}
