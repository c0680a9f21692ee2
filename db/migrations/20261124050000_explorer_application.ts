// The API explorer's OAuth application: a public client (no secret, PKCE required), registered once per database.
import type { Knex } from 'knex'

export const EXPLORER_CLIENT_ID = 'api-explorer'

export async function up(db: Knex): Promise<void> {
  // NULL marks a public client: it proves itself with PKCE alone (RFC 7636, OAuth 2.1 §2.1).
  await db.raw('ALTER TABLE oauth_applications ALTER COLUMN client_secret_digest DROP NOT NULL')
  // A redirect URI that is a path is resolved against the server's own base URL (PUBLIC_URL).
  await db('oauth_applications').insert({
    name: 'API Explorer',
    client_id: EXPLORER_CLIENT_ID,
    client_secret_digest: null,
    redirect_uris: ['/explorer/'],
    scopes: ['calendar'],
  })
}

export async function down(db: Knex): Promise<void> {
  await db('oauth_applications').where({ client_id: EXPLORER_CLIENT_ID }).delete()
  await db.raw('ALTER TABLE oauth_applications ALTER COLUMN client_secret_digest SET NOT NULL')
}
