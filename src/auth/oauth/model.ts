// The storage model @node-oauth/oauth2-server runs on: applications, codes and tokens, kept as digests.
import { isStorableText } from '../../db/storable'
import type OAuth2Server from '@node-oauth/oauth2-server'
import type { Knex } from 'knex'
import { digestSecret, generateSecret, secretMatches } from '../secrets'

export interface OAuthClient extends OAuth2Server.Client {
  id: string
  name: string
  redirectUris: string[]
  grants: string[]
  scopes: string[]
}

/** The library's user; it also carries the authorization every token of one sign-in descends from. */
export interface OAuthUser {
  id: string
  authorizationCodeId?: string
}

/** A token as saved, with what Planning Center's token response needs. */
export interface SavedToken extends OAuth2Server.Token {
  accessToken: string
  refreshToken: string
  scope: string[]
  createdAt: Date
}

const GRANTS = ['authorization_code', 'refresh_token']

function toClient(row: Record<string, unknown>): OAuthClient {
  return {
    id: String(row.id),
    name: row.name as string,
    redirectUris: row.redirect_uris as string[],
    scopes: row.scopes as string[],
    grants: GRANTS,
  }
}

/**
 * `secretDigest` null is a public client (the API explorer): it has no secret and must use PKCE.
 * '' is the command-line tool's application, which issues tokens directly and never through OAuth.
 */
export async function findApplication(db: Knex, clientId: string): Promise<(OAuthClient & { secretDigest: string | null }) | undefined> {
  if (!isStorableText(clientId)) return undefined
  const row = await db('oauth_applications').where({ client_id: clientId }).first()
  return row && { ...toClient(row), secretDigest: row.client_secret_digest }
}

export function isPublicClient(application: { secretDigest: string | null }): boolean {
  return application.secretDigest === null
}

/**
 * A registered redirect URI that is a path (the explorer's `/explorer/`) belongs to this server: it is
 * resolved against the base URL, never the request's Host. A loopback base answers under both of its
 * usual names, as RFC 8252 §7.3 treats them alike: 127.0.0.1 and localhost reach the same server.
 */
export function resolveRedirectUris(application: OAuthClient, baseUrl: string): OAuthClient {
  const bases = [baseUrl]
  const base = new URL(baseUrl)
  if (base.hostname === '127.0.0.1' || base.hostname === 'localhost') {
    base.hostname = base.hostname === 'localhost' ? '127.0.0.1' : 'localhost'
    bases.push(base.origin)
  }
  return {
    ...application,
    redirectUris: application.redirectUris.flatMap((uri) => (uri.startsWith('/') ? bases.map((b) => b + uri) : [uri])),
  }
}

/** Registers an application and returns its credentials; the secret is shown once and only its digest kept. */
export async function createApplication(
  db: Knex,
  application: { name: string; redirectUris: string[]; scopes: string[] },
): Promise<{ clientId: string; clientSecret: string }> {
  const clientId = generateSecret()
  const clientSecret = generateSecret()
  await db('oauth_applications').insert({
    name: application.name,
    client_id: clientId,
    client_secret_digest: digestSecret(clientSecret),
    redirect_uris: application.redirectUris,
    scopes: application.scopes,
  })
  return { clientId, clientSecret }
}

/** Revokes every token issued from one authorization, rotated ones included. */
async function revokeGrant(db: Knex, authorizationCodeId: string, at: Date): Promise<void> {
  await db('oauth_access_tokens').where({ authorization_code_id: authorizationCodeId }).whereNull('revoked_at').update({ revoked_at: at })
}

/**
 * The library reads the wall clock (`new Date()`) for lifetimes and expiry checks, while the server
 * has a clock of its own that tests move. Dates cross the boundary shifted by the difference, so the
 * database always holds server-clock times and the library always compares wall-clock ones.
 */
export function createModel(db: Knex, now: () => Date, baseUrl: () => string) {
  const skew = () => now().getTime() - Date.now()
  const toServer = (date: Date) => new Date(date.getTime() + skew())
  const toLibrary = (date: Date | string) => new Date(new Date(date).getTime() - skew())

  return {
    /**
     * `clientSecret` is null when authorizing (no secret is sent), and undefined when the library saw a
     * PKCE exchange without one: only a public client may do that. A confidential client's secret must
     * match: PKCE adds to it, never replaces it.
     */
    async getClient(clientId: string, clientSecret: string | null | undefined): Promise<OAuthClient | false> {
      const found = await findApplication(db, clientId)
      if (!found || found.secretDigest === '') return false
      const application = resolveRedirectUris(found, baseUrl())
      if (clientSecret === null) return application
      if (found.secretDigest === null) return clientSecret === undefined ? application : false
      if (clientSecret === undefined || !secretMatches(clientSecret, found.secretDigest)) return false
      return application
    },

    async validateScope(_user: OAuthUser, client: OAuthClient, scope: string[] | undefined): Promise<string[] | false> {
      if (!scope || scope.length === 0) return client.scopes
      return scope.every((s) => client.scopes.includes(s)) ? scope : false
    },

    async saveAuthorizationCode(
      code: Pick<OAuth2Server.AuthorizationCode, 'authorizationCode' | 'expiresAt' | 'redirectUri' | 'scope' | 'codeChallenge' | 'codeChallengeMethod'>,
      client: OAuthClient,
      user: OAuthUser,
    ) {
      await db('oauth_authorization_codes').insert({
        code_digest: digestSecret(code.authorizationCode),
        application_id: client.id,
        person_id: user.id,
        redirect_uri: code.redirectUri,
        scopes: code.scope ?? [],
        code_challenge: code.codeChallenge ?? null,
        code_challenge_method: code.codeChallengeMethod ?? null,
        expires_at: toServer(code.expiresAt),
      })
      return { ...code, client, user }
    },

    async getAuthorizationCode(authorizationCode: string) {
      const row = await db('oauth_authorization_codes').where({ code_digest: digestSecret(authorizationCode) }).first()
      if (!row) return false
      const id = String(row.id)
      if (row.used_at) {
        // A code exchanged twice has leaked: revoke what its first exchange issued (RFC 6749 §4.1.2).
        await revokeGrant(db, id, now())
        return false
      }
      return {
        authorizationCode,
        expiresAt: toLibrary(row.expires_at),
        redirectUri: row.redirect_uri as string,
        scope: row.scopes as string[],
        codeChallenge: row.code_challenge ?? undefined,
        codeChallengeMethod: row.code_challenge_method ?? undefined,
        client: { id: String(row.application_id), grants: GRANTS },
        user: { id: String(row.person_id), authorizationCodeId: id } satisfies OAuthUser,
      }
    },

    /** Marks the code used; only one of two concurrent exchanges can win. */
    async revokeAuthorizationCode(code: { authorizationCode: string }): Promise<boolean> {
      const updated = await db('oauth_authorization_codes')
        .where({ code_digest: digestSecret(code.authorizationCode) })
        .whereNull('used_at')
        .update({ used_at: now() })
      return updated === 1
    },

    generateAccessToken: async () => generateSecret(),
    generateRefreshToken: async () => generateSecret(),

    async saveToken(
      token: Pick<OAuth2Server.Token, 'accessToken' | 'accessTokenExpiresAt' | 'refreshToken' | 'refreshTokenExpiresAt' | 'scope'>,
      client: OAuthClient,
      user: OAuthUser,
    ): Promise<SavedToken> {
      const createdAt = now()
      await db('oauth_access_tokens').insert({
        person_id: user.id,
        application_id: client.id,
        token_digest: digestSecret(token.accessToken),
        refresh_token_digest: token.refreshToken ? digestSecret(token.refreshToken) : null,
        scopes: token.scope ?? [],
        expires_at: token.accessTokenExpiresAt ? toServer(token.accessTokenExpiresAt) : null,
        refresh_expires_at: token.refreshTokenExpiresAt ? toServer(token.refreshTokenExpiresAt) : null,
        authorization_code_id: user.authorizationCodeId ?? null,
        created_at: createdAt,
      })
      return {
        ...token,
        refreshToken: token.refreshToken!,
        scope: token.scope ?? [],
        client,
        user,
        createdAt,
      }
    },

    async getRefreshToken(refreshToken: string) {
      const row = await db('oauth_access_tokens').where({ refresh_token_digest: digestSecret(refreshToken) }).first()
      if (!row) return false
      if (row.revoked_at) {
        // A rotated-out refresh token used again has leaked: end the whole sign-in (OAuth 2.1 §4.3.1).
        if (row.authorization_code_id) await revokeGrant(db, String(row.authorization_code_id), now())
        return false
      }
      return {
        refreshToken,
        refreshTokenExpiresAt: row.refresh_expires_at ? toLibrary(row.refresh_expires_at) : undefined,
        scope: row.scopes as string[],
        client: { id: String(row.application_id), grants: GRANTS },
        user: {
          id: String(row.person_id),
          ...(row.authorization_code_id ? { authorizationCodeId: String(row.authorization_code_id) } : {}),
        } satisfies OAuthUser,
        rowId: String(row.id),
      }
    },

    /** Rotation: the old access and refresh token stop working together; one of two racing refreshes wins. */
    async revokeToken(token: { rowId?: string }): Promise<boolean> {
      if (!token.rowId) return false
      const updated = await db('oauth_access_tokens').where({ id: token.rowId }).whereNull('revoked_at').update({ revoked_at: now() })
      return updated === 1
    },

    // Bearer tokens are checked by passport-http-bearer (src/auth/authenticate.ts), not by the library.
    async getAccessToken(): Promise<false> {
      return false
    },
  }
}

/**
 * RFC 7009: revokes an access or refresh token if it was issued to `clientId`. Unknown tokens and
 * other clients' tokens are left alone, and the caller answers 200 all the same.
 */
export async function revokeClientToken(db: Knex, client: OAuthClient, token: string, at: Date): Promise<void> {
  const digest = digestSecret(token)
  await db('oauth_access_tokens')
    .where({ application_id: client.id })
    .andWhere((q) => q.where({ token_digest: digest }).orWhere({ refresh_token_digest: digest }))
    .whereNull('revoked_at')
    .update({ revoked_at: at })
}
