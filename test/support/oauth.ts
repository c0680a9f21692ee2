// OAuth helpers for tests: a registered application, a person who can sign in, and the consent form as a browser submits it.
import { createHash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { hashPassword } from '../../src/auth/passwords'
import { createApplication } from '../../src/auth/oauth/model'
import { createPerson } from '../../src/auth/credentials'
import { createTenant, type Tenant } from './factories'

export const REDIRECT_URI = 'http://127.0.0.1:8765/callback'

export interface SignInPerson extends Tenant {
  email: string
  password: string
}

export async function createSignInPerson(db: Knex): Promise<SignInPerson> {
  const tenant = await createTenant(db)
  const email = `person-${randomBytes(6).toString('hex')}@example.org`
  const password = `pw-${randomBytes(6).toString('hex')}`
  const personId = await createPerson(db, tenant.organizationId, { name: 'Signs In', email, password_digest: await hashPassword(password) })
  return { ...tenant, personId, email, password }
}

export async function registerApplication(db: Knex, { scopes = ['calendar'], redirectUris = [REDIRECT_URI] } = {}) {
  return createApplication(db, { name: 'Test App', redirectUris, scopes })
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" }

/** The hidden fields of the consent form, as a browser would submit them. */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[name!.replace(/&[a-z#0-9]+;/g, (e) => ENTITIES[e] ?? e)] = value!.replace(/&[a-z#0-9]+;/g, (e) => ENTITIES[e] ?? e)
  }
  return fields
}

export interface FormReply {
  status: number
  location: string | null
  html: string
}

/** Opens the authorization URL, fills in the consent form and submits it; redirects are not followed. */
export async function submitConsent(
  authorizationUrl: string,
  person: { email: string; password: string },
  decision: 'allow' | 'deny' = 'allow',
): Promise<FormReply> {
  const page = await fetch(authorizationUrl, { redirect: 'manual' })
  const html = await page.text()
  if (page.status !== 200) return { status: page.status, location: page.headers.get('location'), html }
  const form = new URLSearchParams({ ...hiddenFields(html), email: person.email, password: person.password, decision })
  return postConsent(new URL('/oauth/authorize', authorizationUrl).toString(), form)
}

export async function postConsent(url: string, form: URLSearchParams): Promise<FormReply> {
  const reply = await fetch(url, {
    method: 'POST',
    body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  })
  return { status: reply.status, location: reply.headers.get('location'), html: await reply.text() }
}

/** POSTs a form to the token or revoke endpoint and returns status, headers and parsed JSON. */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const reply = await fetch(url, {
    method: 'POST',
    body: new URLSearchParams(form),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  })
  const text = await reply.text()
  return { status: reply.status, headers: reply.headers, text, json: JSON.parse(text) as Record<string, unknown> }
}
