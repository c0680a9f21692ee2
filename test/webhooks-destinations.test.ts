// Server-side request forgery: subscription URLs that would reach loopback, private, link-local,
// multicast or metadata addresses are refused, however the address is written; hostile input is a 4xx.
import assert from 'node:assert/strict'
import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { createTenant, createToken } from './support/factories'
import { startTestServer, type TestServer } from './support/server'
import { addressRefusal } from '../src/webhooks/destinations'

let server: TestServer
let token: string
let organizationId: string
before(async () => {
  // The policy a production server starts with: https only, public addresses only.
  server = await startTestServer({ RATE_LIMIT: '1000000', AUTH_FAILURE_LIMIT: '1000000' })
  const tenant = await createTenant(server.db)
  organizationId = tenant.organizationId
  token = await createToken(server.db, tenant.personId, { scopes: ['webhooks'] })
})
after(() => server.close())

async function subscribe(attributes: unknown) {
  const reply = await fetch(`${server.url}/webhooks/v2/webhook_subscriptions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
    body: JSON.stringify({ data: { type: 'WebhookSubscription', attributes } }),
  })
  const text = await reply.text()
  return { status: reply.status, text, json: JSON.parse(text) }
}

const LOOPBACK = [
  'https://127.0.0.1/', 'https://127.1/', 'https://127.255.255.254/', 'https://2130706433/', 'https://0x7f000001/', 'https://0x7f.1/',
  'https://0177.0.0.1/', 'https://017700000001/', 'https://[::1]/', 'https://[0:0:0:0:0:0:0:1]/', 'https://[::ffff:127.0.0.1]/',
  'https://[::ffff:7f00:1]/', 'https://localhost/', 'https://LOCALHOST./', 'https://localhost:8443/hooks', 'https://api.localhost/',
]
const PRIVATE = [
  'https://10.0.0.1/', 'https://172.16.0.1/', 'https://192.168.1.1/', 'https://169.254.169.254/latest/meta-data/',
  'https://[fe80::1]/', 'https://[fc00::1]/', 'https://[fd00:ec2::254]/', 'https://100.64.0.1/', 'https://[::ffff:10.0.0.1]/',
  'https://[::ffff:a9fe:a9fe]/', 'https://0xa9fea9fe/',
]
const NEVER = [
  'https://0.0.0.0/', 'https://0/', 'https://[::]/', 'https://224.0.0.1/', 'https://[ff02::1]/', 'https://255.255.255.255/',
  'https://240.0.0.1/', 'https://[64:ff9b::7f00:1]/', 'https://[2002:7f00:1::]/', 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/',
  // A name with no address has nothing to check.
  'https://receiver.invalid/',
]

describe('subscription destinations', () => {
  it('refuses loopback, private, link-local, multicast and metadata addresses in every spelling, with 422 naming url', async () => {
    const names = [...LOOPBACK, ...PRIVATE, ...NEVER]
    // This machine's own name, when it resolves to one of its addresses (Debian maps it to 127.0.1.1).
    const own = await lookup(hostname()).catch(() => undefined)
    if (own && addressRefusal(own.address, { http: false, loopback: false, private: false })) names.push(`https://${hostname()}/`)
    for (const url of names) {
      const reply = await subscribe({ name: 'calendar.v2.events.job_status.created', url })
      assert.equal(reply.status, 422, `${url}: ${reply.text}`)
      assert.equal(reply.json.errors[0].code, 'destination_refused', url)
      assert.equal(reply.json.errors[0].source.pointer, '/data/attributes/url')
    }
    assert.equal((await server.db('webhook_subscriptions').where({ organization_id: organizationId })).length, 0, 'nothing was kept')
  })

  it('refuses http:// unless the operator allows it, and URLs that are not URLs', async () => {
    for (const url of ['http://example.org/', 'ftp://example.org/', 'file:///etc/passwd', 'gopher://example.org/', 'javascript:alert(1)', '//example.org/', 'example.org', '', ' ']) {
      const reply = await subscribe({ name: 'calendar.v2.events.job_status.created', url })
      assert.equal(reply.status, 400, `${url}: ${reply.text}`)
      assert.equal(reply.json.errors[0].source.pointer, '/data/attributes/url')
    }
  })

  it('keeps a public https URL', async () => {
    // A documentation address (RFC 5737 is reserved, so a public-looking one): the check is by range, not by reachability.
    const reply = await subscribe({ name: 'calendar.v2.events.job_status.created', url: 'https://93.184.215.14/hooks' })
    assert.equal(reply.status, 201, reply.text)
  })

  it('answers generated hostile subscription documents with a 4xx in the envelope, never a 5xx', async () => {
    const hostile = fc.oneof(
      fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 2 }),
      fc.webUrl(), fc.constantFrom(...LOOPBACK, ...PRIVATE, ...NEVER, 'calendar.v2.events.job_status.created', 'https://a/%zz', 'https://[::1', 'https://a b/'),
    )
    const attributes = fc.dictionary(fc.constantFrom('name', 'url', 'active', 'authenticity_secret', 'application_id', 'id'), hostile, { maxKeys: 4 })
    await fc.assert(
      fc.asyncProperty(attributes, async (attrs) => {
        const reply = await subscribe(attrs)
        assert.ok(reply.status < 500, `${JSON.stringify(attrs)} answered ${reply.status}: ${reply.text}`)
        if (reply.status >= 400) assert.ok(Array.isArray(reply.json.errors), reply.text)
      }),
      { numRuns: 150 },
    )
  })
})
