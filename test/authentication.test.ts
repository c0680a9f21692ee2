// Bearer tokens, personal access tokens, their failures and hints, and what the logs keep.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant, createToken } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer()
})
after(() => server.close())

const PATH = '/calendar/v2/job_statuses'

function unauthorized(hint?: string) {
  const detail = 'This request could not be authenticated.'
  return JSON.stringify({
    errors: [{ code: 'unauthorized', title: 'Unauthorized', status: '401', detail: hint ? `${detail} Error Code Hint: ${hint}` : detail }],
  })
}

describe('bearer tokens', () => {
  it('are accepted with the calendar scope, and say OAuth2', async () => {
    const { token } = await createTenant(server.db)
    const reply = await request(server.url, PATH, { token })
    assert.equal(reply.status, 200)
    assert.equal(reply.headers.get('x-pco-api-auth-method'), 'OAuth2')
  })

  it('answer BABOON once expired', async () => {
    const { personId } = await createTenant(server.db)
    const token = await createToken(server.db, personId, { expiresAt: new Date(server.clock.now().getTime() + 60_000) })
    assert.equal((await request(server.url, PATH, { token })).status, 200)
    server.clock.advance(61_000)
    const reply = await request(server.url, PATH, { token })
    assert.equal(reply.status, 401)
    assert.equal(reply.text, unauthorized('BABOON'))
    assert.equal(reply.headers.get('content-type'), 'application/json; charset=utf-8')
  })

  it('answer CAPUCHIN once revoked', async () => {
    const { personId } = await createTenant(server.db)
    const token = await createToken(server.db, personId)
    await server.db('oauth_access_tokens').where({ person_id: personId }).update({ revoked_at: new Date(Date.now() - 1000) })
    const reply = await request(server.url, PATH, { token })
    assert.equal(reply.status, 401)
    assert.equal(reply.text, unauthorized('CAPUCHIN'))
  })

  it('answer PELICAN without the calendar scope', async () => {
    const { personId } = await createTenant(server.db)
    const token = await createToken(server.db, personId, { scopes: ['people', 'services'] })
    const reply = await request(server.url, PATH, { token })
    assert.equal(reply.status, 401)
    assert.equal(reply.text, unauthorized('PELICAN'))
  })

  it('answer 401 without a hint when the server never issued them', async () => {
    for (const header of ['Bearer 0123456789abcdef', 'Bearer ', 'Bearer a b', 'bearer ' + 'f'.repeat(64)]) {
      const reply = await request(server.url, PATH, { headers: { Authorization: header } })
      assert.equal(reply.status, 401, header)
      assert.equal(reply.text, unauthorized())
    }
  })
})

describe('personal access tokens', () => {
  it('are accepted over HTTP Basic, and say HTTPBasic', async () => {
    const { pat, organizationId } = await createTenant(server.db)
    const reply = await request(server.url, PATH, { basic: pat })
    assert.equal(reply.status, 200)
    assert.equal(reply.headers.get('x-pco-api-auth-method'), 'HTTPBasic')
    assert.equal(reply.json.meta.parent.id, organizationId)
  })

  it('answer Planning Center’s text/html 401 when wrong', async () => {
    const { pat } = await createTenant(server.db)
    const attempts = [
      { basic: { appId: pat.appId, secret: 'wrong' } },
      { basic: { appId: 'unknown', secret: pat.secret } },
      { basic: { appId: pat.appId, secret: '' } },
      { headers: { Authorization: 'Basic !!!' } },
      { headers: { Authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` } },
    ]
    for (const attempt of attempts) {
      const reply = await request(server.url, PATH, attempt)
      assert.equal(reply.status, 401)
      assert.equal(reply.headers.get('content-type'), 'text/html; charset=utf-8')
      assert.equal(reply.headers.get('www-authenticate'), 'Basic realm="Application"')
      assert.equal(reply.text, 'HTTP Basic: Access denied.\n')
    }
  })

  it('stop working once revoked', async () => {
    const { pat } = await createTenant(server.db)
    await server.db('personal_access_tokens').where({ app_id: pat.appId }).update({ revoked_at: new Date() })
    assert.equal((await request(server.url, PATH, { basic: pat })).status, 401)
  })
})

describe('no credentials', () => {
  it('answer the JSON 401 with a Basic challenge, and say None', async () => {
    for (const headers of [{}, { Authorization: 'Token abc' }] as Record<string, string>[]) {
      const reply = await request(server.url, PATH, { headers })
      assert.equal(reply.status, 401)
      assert.equal(reply.text, unauthorized())
      assert.equal(reply.headers.get('www-authenticate'), 'Basic realm="Application"')
      assert.equal(reply.headers.get('x-pco-api-auth-method'), 'None')
    }
  })
})

describe('secrets', () => {
  it('are stored only as digests and never logged', async () => {
    const { token, pat, personId } = await createTenant(server.db)
    await request(server.url, PATH, { token })
    await request(server.url, PATH, { basic: pat })
    await request(server.url, `${PATH}?per_page=3`, { basic: { appId: pat.appId, secret: `${pat.secret}x` } })
    const logs = server.logs.join('\n')
    for (const secret of [token, pat.secret]) assert.ok(!logs.includes(secret), 'a secret reached the log')
    const stored = JSON.stringify([
      await server.db('oauth_access_tokens').where({ person_id: personId }).select('*'),
      await server.db('personal_access_tokens').where({ person_id: personId }).select('*'),
    ])
    for (const secret of [token, pat.secret]) assert.ok(!stored.includes(secret), 'a secret was stored')
    assert.ok(logs.includes('"path":"/calendar/v2/job_statuses"'), 'requests are logged')
  })

  it('log one JSON line per request with method, path, status, duration and request id', async () => {
    const { token } = await createTenant(server.db)
    const reply = await request(server.url, `${PATH}?per_page=1`, { token, headers: { 'X-Request-Id': 'trace-42' } })
    assert.equal(reply.headers.get('x-request-id'), 'trace-42')
    const line = server.logs.map((l) => JSON.parse(l)).find((entry) => entry.request_id === 'trace-42')
    assert.ok(line)
    assert.deepEqual(
      { method: line.method, path: line.path, status: line.status, msg: line.msg },
      { method: 'GET', path: PATH, status: 200, msg: 'request' },
    )
    assert.equal(typeof line.duration_ms, 'number')
  })
})
