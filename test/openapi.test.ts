// The OpenAPI document: valid by an independent validator, and true of what the live server answers.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Ajv2020 from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import { createTenant, createToken, insertJobStatus, insertJobStatuses } from './support/factories'
import { request, type Reply } from './support/http'
import { createSignInPerson, pkcePair, postForm, registerApplication, REDIRECT_URI, submitConsent } from './support/oauth'
import { startTestServer, type TestServer } from './support/server'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is walked as plain JSON
type Json = any

let server: TestServer
let document: Json
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_LOOPBACK: 'true' })
  document = (await request(server.url, '/openapi.json')).json
})
after(() => server.close())

const METHODS = ['get', 'post', 'patch', 'put', 'delete']

describe('the OpenAPI document', () => {
  it('is served without credentials at Planning Center’s path and at /openapi.json, identically', async () => {
    const pco = await request(server.url, '/calendar/v2/open_api/2022-07-07')
    const plain = await request(server.url, '/openapi.json')
    assert.equal(pco.status, 200)
    assert.match(pco.headers.get('content-type') ?? '', /^application\/json/)
    assert.equal(pco.text, plain.text)
    assert.equal(pco.json.openapi, '3.1.0')
    assert.deepEqual(pco.json.servers, [{ url: server.url }])
  })

  it('is valid OpenAPI 3.1 by @seriousme/openapi-schema-validator', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator')
    const validator = new Validator()
    const result = await validator.validate(structuredClone(document))
    assert.equal(validator.version, '3.1')
    assert.deepEqual(result.errors ?? [], [])
    assert.equal(result.valid, true)
  })

  it('names every route the server answers', () => {
    const paths = Object.keys(document.paths)
    for (const expected of [
      '/calendar/v2',
      '/calendar/v2/job_statuses',
      '/calendar/v2/job_statuses/{id}',
      '/jobs/v1/job_statuses',
      '/jobs/v1/job_statuses/{id}/events',
      '/oauth/token',
      '/api/v2/job_statuses.json',
      '/{account_id}/api/jobs/{job_id}',
    ]) {
      assert.ok(paths.includes(expected), `${expected} is not described`)
    }
    assert.ok(paths.includes('/webhooks/v2/webhook_subscriptions/{id}/events/{event_id}/deliveries'))
    assert.deepEqual(Object.keys(document.components.securitySchemes).sort(), ['metricsToken', 'oauth2', 'personalAccessToken', 'xplentyApiKey', 'zendeskBasic'])
  })

  it('is rendered at /docs with every operation, from this server only', async () => {
    const docs = await request(server.url, '/docs')
    assert.equal(docs.status, 200)
    assert.match(docs.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    for (const item of Object.values<Json>(document.paths)) {
      for (const method of METHODS) if (item[method]) assert.ok(docs.text.includes(`id="${item[method].operationId}"`), item[method].operationId)
    }
    for (const name of Object.keys(document.components.schemas)) assert.ok(docs.text.includes(`id="schema-${name}"`), name)
    assert.doesNotMatch(docs.text, /(src|href)="(https?:)?\/\//)
    // A curl sample per operation, the request bodies' examples, and the descriptions' Markdown rendered.
    const operations = Object.values<Json>(document.paths).flatMap((item) => METHODS.filter((method) => item[method]))
    assert.equal(docs.text.match(/<pre class="curl">/g)?.length, operations.length)
    assert.ok(docs.text.includes('curl -g -i -X POST -H &quot;Authorization: Bearer $TOKEN&quot; -H &#39;Content-Type: application/vnd.api+json&#39; --data &#39;{&quot;data&quot;:{&quot;type&quot;:&quot;JobStatus&quot;'))
    assert.ok(docs.text.includes('&quot;message&quot;: &quot;Waiting for a worker&quot;'), 'the create example is shown')
    assert.ok(docs.text.includes('<code>source.parameter</code>'), 'backticks become code')
    assert.doesNotMatch(docs.text, /`[^`<]+`/, 'a backtick was left unrendered')
  })

  it('/docs: a copied curl sample runs in sh and answers as documented', async () => {
    const tenant = await createTenant(server.db)
    const token = await createToken(server.db, tenant.personId, { scopes: ['jobs'] })
    const docs = (await request(server.url, '/docs')).text
    const line = /<section class="operation" id="createJob">[\s\S]*?<pre class="curl"><code>([^<]+)<\/code>/.exec(docs)![1]!
      .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    const { execFile } = await import('node:child_process')
    const { promisify } = await import('node:util')
    const { stdout } = await promisify(execFile)('sh', ['-c', line], { env: { ...process.env, TOKEN: token } })
    assert.match(stdout, /^HTTP\/1\.1 201 Created/)
  })
})

describe('live responses match the document', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  const checked = new Set<string>()
  let registered = false

  const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1')

  /** Where the document describes an operation's answer for a status: the response itself, or the component it names. */
  function documented(path: string, method: string, status: number): { answer: Json; pointer: string } {
    const operation = document.paths[path]?.[method]
    assert.ok(operation, `${method.toUpperCase()} ${path} is not in the document`)
    const listed = operation.responses[String(status)]
    assert.ok(listed, `${method.toUpperCase()} ${path} does not document ${status}`)
    const pointer: string = listed.$ref ?? `#/${['paths', path, method, 'responses', String(status)].map(escape).join('/')}`
    const answer = pointer.slice(2).split('/').reduce((node: Json, key: string) => node[key.replace(/~1/g, '/').replace(/~0/g, '~')], document)
    return { answer, pointer }
  }

  /** Checks one live reply against the document: status documented, media type, body and headers as described. */
  function check(path: string, method: string, reply: Reply): void {
    if (!registered) {
      ajv.addSchema(document, 'openapi')
      registered = true
    }
    const { answer, pointer } = documented(path, method, reply.status)
    checked.add(`${method} ${path} ${reply.status}`)
    for (const header of Object.keys(answer.headers ?? {})) {
      if (header === 'WWW-Authenticate') continue
      assert.ok(reply.headers.has(header), `${method.toUpperCase()} ${path} ${reply.status}: header ${header} is missing`)
    }
    if (!answer.content) return
    const sent = reply.headers.get('content-type') ?? ''
    const mediaType = Object.keys(answer.content).find((type) => sent === type || sent.split(';')[0] === type.split(';')[0])
    assert.ok(mediaType, `${method.toUpperCase()} ${path} ${reply.status}: ${sent} is not documented`)
    if (mediaType === 'text/html' || mediaType === 'text/event-stream' || mediaType === 'text/plain') return
    const validate = ajv.compile({ $ref: `openapi${pointer}/content/${escape(mediaType)}/schema` })
    const valid = validate(JSON.parse(reply.text))
    assert.ok(valid, `${method.toUpperCase()} ${path} ${reply.status}: ${ajv.errorsText(validate.errors)}\n${reply.text.slice(0, 500)}`)
  }

  it('on the Calendar surface', async () => {
    const tenant = await createTenant(server.db)
    const ids = await insertJobStatuses(server.db, tenant.organizationId, 30)
    await insertJobStatus(server.db, tenant.organizationId, { status: 'failed', errors: { base: ['broke'] }, started_at: '2026-01-02T03:04:05Z' })
    const auth = { token: tenant.token }
    check('/calendar/v2', 'get', await request(server.url, '/calendar/v2', auth))
    check('/calendar/v2', 'get', await request(server.url, '/calendar/v2', { token: 'nope' }))
    check('/calendar/v2', 'get', await request(server.url, '/calendar/v2', { basic: { appId: tenant.pat.appId, secret: 'wrong' } }))
    check('/calendar/v2/job_statuses', 'get', await request(server.url, '/calendar/v2/job_statuses?per_page=10&offset=10', auth))
    const everything = 'completed_at,created_at,created_by,errors,failed_at,kind,message,outputs,progress,results,results_count,retries,runtime,started_at,status,total,updated_at'
    check('/calendar/v2/job_statuses', 'get', await request(server.url, `/calendar/v2/job_statuses?fields[JobStatus]=${everything}&where[status]=failed&order=-started_at`, auth))
    check('/calendar/v2/job_statuses', 'get', await request(server.url, '/calendar/v2/job_statuses?per_page=abc', auth))
    check('/calendar/v2/job_statuses/{id}', 'get', await request(server.url, `/calendar/v2/job_statuses/${ids[0]}`, auth))
    check('/calendar/v2/job_statuses/{id}', 'get', await request(server.url, `/calendar/v2/job_statuses/${ids[0]}?fields[JobStatus]=${everything}`, auth))
    check('/calendar/v2/job_statuses/{id}', 'get', await request(server.url, '/calendar/v2/job_statuses/999999999999', auth))
    const etag = (await request(server.url, '/calendar/v2/job_statuses', auth)).headers.get('etag')!
    check('/calendar/v2/job_statuses', 'get', await request(server.url, '/calendar/v2/job_statuses', { ...auth, headers: { 'If-None-Match': etag, 'Cache-Control': 'max-age=0' } }))
    check('/calendar/v2/open_api/2022-07-07', 'get', await request(server.url, '/calendar/v2/open_api/2022-07-07'))
    check('/openapi.json', 'get', await request(server.url, '/openapi.json'))
    check('/healthz', 'get', await request(server.url, '/healthz'))
    check('/readyz', 'get', await request(server.url, '/readyz'))
    check('/metrics', 'get', await request(server.url, '/metrics'))
    assert.ok(checked.has('get /calendar/v2/job_statuses 304'))
  })

  it('on the write API', async () => {
    const tenant = await createTenant(server.db)
    const token = await createToken(server.db, tenant.personId, { scopes: ['jobs', 'calendar'] })
    const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text(), get json() { return JSON.parse(this.text) } }) as Reply)

    const created = await send('POST', '/jobs/v1/job_statuses', { data: { type: 'JobStatus', attributes: { kind: 'import', total: 3, outputs: [{ name: 'people', records_count: 3, url: null }] } } }, { 'Idempotency-Key': 'k1' })
    check('/jobs/v1/job_statuses', 'post', created)
    const id = created.json.data.id
    check('/jobs/v1/job_statuses', 'post', await send('POST', '/jobs/v1/job_statuses', { data: { attributes: { total: -1 } } }))
    check('/jobs/v1/job_statuses', 'post', await send('POST', '/jobs/v1/job_statuses', { data: { attributes: {} } }, { 'Content-Type': 'text/plain' }))
    check('/jobs/v1/job_statuses', 'post', await send('POST', '/jobs/v1/job_statuses', { data: { attributes: { total: 4 } } }, { 'Idempotency-Key': 'k1' }))
    check('/jobs/v1/job_statuses/{id}', 'patch', await send('PATCH', `/jobs/v1/job_statuses/${id}`, { data: { attributes: { message: 'starting' } } }))
    check('/jobs/v1/job_statuses/{id}/progress', 'post', await send('POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 1 } } }))
    check('/jobs/v1/job_statuses/{id}/transitions', 'post', await send('POST', `/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'working' } } }))
    check('/jobs/v1/job_statuses/{id}/transitions', 'post', await send('POST', `/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'queued' } } }))
    check('/jobs/v1/job_statuses/{id}/progress', 'post', await send('POST', `/jobs/v1/job_statuses/${id}/progress`, { data: { attributes: { increment: 2, message: 'two more' } } }))
    check(
      '/jobs/v1/job_statuses/{id}/results',
      'post',
      await send('POST', `/jobs/v1/job_statuses/${id}/results`, { data: [{ id: '7', action: 'create', success: true, status: 'Created', errors: null, title: 'Ann' }] }),
    )
    check('/jobs/v1/job_statuses/{id}', 'get', await send('GET', `/jobs/v1/job_statuses/${id}`))
    check('/jobs/v1/job_statuses/{id}/results', 'get', await send('GET', `/jobs/v1/job_statuses/${id}/results?per_page=1`))
    check('/jobs/v1/job_statuses/{id}/results', 'get', await send('GET', '/jobs/v1/job_statuses/999999999999/results'))
    check('/jobs/v1/job_statuses/{id}', 'get', await send('GET', '/jobs/v1/job_statuses/999999999999'))
    check('/jobs/v1/job_statuses/{id}', 'get', await request(server.url, `/jobs/v1/job_statuses/${id}`, { token: tenant.token }))
    const events = await fetch(`${server.url}/jobs/v1/job_statuses/${id}/events`, { headers: { Authorization: `Bearer ${token}` } })
    check('/jobs/v1/job_statuses/{id}/events', 'get', { status: events.status, headers: events.headers, text: '', json: undefined })
    await events.body?.cancel()
    assert.ok(checked.has('post /jobs/v1/job_statuses/{id}/transitions 409'))
    assert.ok(checked.has('post /jobs/v1/job_statuses 422'))
  })

  it('on the OAuth endpoints', async () => {
    const person = await createSignInPerson(server.db)
    const { clientId, clientSecret } = await registerApplication(server.db)
    const { verifier, challenge } = pkcePair()
    const authorize = `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' })}`
    const page = await fetch(authorize)
    check('/oauth/authorize', 'get', { status: page.status, headers: page.headers, text: await page.text(), json: undefined })
    const code = new URL((await submitConsent(authorize, person)).location!).searchParams.get('code')!
    const token = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: clientId, client_secret: clientSecret, code_verifier: verifier })
    check('/oauth/token', 'post', token as unknown as Reply)
    check('/oauth/token', 'post', (await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: clientId, client_secret: clientSecret, code_verifier: verifier })) as unknown as Reply)
    check('/oauth/token', 'post', (await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'x', client_id: clientId, client_secret: 'wrong' })) as unknown as Reply)
    check('/oauth/revoke', 'post', (await postForm(`${server.url}/oauth/revoke`, { token: String(token.json.access_token), client_id: clientId, client_secret: clientSecret })) as unknown as Reply)
    const unknown = await fetch(`${server.url}/oauth/authorize?client_id=nobody&response_type=code`)
    check('/oauth/authorize', 'get', { status: unknown.status, headers: unknown.headers, text: await unknown.text(), json: undefined })
  })

  it('in the Zendesk and Xplenty dialects', async () => {
    const tenant = await createTenant(server.db)
    const [first, second] = await insertJobStatuses(server.db, tenant.organizationId, 3)
    const auth = { token: tenant.token }
    check('/api/v2/job_statuses.json', 'get', await request(server.url, '/api/v2/job_statuses.json?per_page=2', auth))
    check('/api/v2/job_statuses.json', 'get', await request(server.url, '/api/v2/job_statuses.json', { token: 'nope' }))
    check('/api/v2/job_statuses/show_many.json', 'get', await request(server.url, `/api/v2/job_statuses/show_many.json?ids=${second},${first}`, auth))
    check('/api/v2/job_statuses/show_many.json', 'get', await request(server.url, '/api/v2/job_statuses/show_many.json', auth))
    check('/api/v2/job_statuses/{id}.json', 'get', await request(server.url, `/api/v2/job_statuses/${first}.json`, auth))
    check('/api/v2/job_statuses/{id}.json', 'get', await request(server.url, '/api/v2/job_statuses/999999999999.json', auth))
    const account = tenant.organizationId
    check('/{account_id}/api/jobs', 'get', await request(server.url, `/${account}/api/jobs?limit=2`, auth))
    check('/{account_id}/api/jobs', 'get', await request(server.url, `/${account}/api/jobs`, { ...auth, headers: { Accept: 'text/csv' } }))
    check('/{account_id}/api/jobs/{job_id}', 'get', await request(server.url, `/${account}/api/jobs/${first}`, auth))
    check('/{account_id}/api/jobs/{job_id}', 'get', await request(server.url, `/${account}/api/jobs/999999999999`, auth))
    check('/{account_id}/api/jobs/{job_id}', 'get', await request(server.url, `/${account}/api/jobs/${first}`, { token: 'nope' }))
  })

  it('on the Webhooks API', async () => {
    const tenant = await createTenant(server.db)
    const token = await createToken(server.db, tenant.personId, { scopes: ['webhooks', 'jobs'] })
    const send = (method: string, path: string, body?: unknown) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text(), get json() { return JSON.parse(this.text) } }) as Reply)
    const subscriptions = '/webhooks/v2/webhook_subscriptions'
    check('/webhooks/v2', 'get', await send('GET', '/webhooks/v2'))
    check('/webhooks/v2/available_events', 'get', await send('GET', '/webhooks/v2/available_events'))
    // An address nobody listens on: the delivery fails, and the log says so.
    const created = await send('POST', subscriptions, { data: { type: 'WebhookSubscription', attributes: { name: 'calendar.v2.events.job_status.created', url: 'http://127.0.0.1:9/hooks' } } })
    check(subscriptions, 'post', created)
    check(subscriptions, 'post', await send('POST', subscriptions, { data: { attributes: { name: 'nope', url: 'https://example.org/' } } }))
    check(subscriptions, 'post', await send('POST', subscriptions, { data: { attributes: { name: 'calendar.v2.events.job_status.created', url: 'https://10.0.0.1/' } } }))
    const id = created.json.data.id
    check(subscriptions, 'get', await send('GET', `${subscriptions}?per_page=1`))
    check(`${subscriptions}/{id}`, 'get', await send('GET', `${subscriptions}/${id}`))
    check(`${subscriptions}/{id}`, 'patch', await send('PATCH', `${subscriptions}/${id}`, { data: { attributes: { active: true } } }))
    check(`${subscriptions}/{id}/rotate_secret`, 'post', await send('POST', `${subscriptions}/${id}/rotate_secret`))
    await send('POST', '/jobs/v1/job_statuses', { data: { attributes: { message: 'seen by a webhook' } } })
    let deliveries: Reply
    for (;;) {
      const events = await send('GET', `${subscriptions}/${id}/events`)
      const [event] = events.json.data
      deliveries = await send('GET', `${subscriptions}/${id}/events/${event.id}/deliveries`)
      if (deliveries.json.meta.total_count > 0) {
        check(`${subscriptions}/{id}/events`, 'get', events)
        check(`${subscriptions}/{id}/events/{event_id}`, 'get', await send('GET', `${subscriptions}/${id}/events/${event.id}`))
        check(`${subscriptions}/{id}/events/{event_id}/deliveries`, 'get', deliveries)
        check(`${subscriptions}/{id}/events/{event_id}/redeliver`, 'post', await send('POST', `${subscriptions}/${id}/events/${event.id}/redeliver`))
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    check(`${subscriptions}/{id}/events`, 'get', await send('GET', `${subscriptions}/${id}/events?where[status]=lost`))
    check(`${subscriptions}/{id}`, 'delete', await send('DELETE', `${subscriptions}/${id}`))
    check(`${subscriptions}/{id}`, 'get', await send('GET', `${subscriptions}/${id}`))
    assert.ok(checked.has('post /webhooks/v2/webhook_subscriptions 422'))
  })

  it('covered every operation of the document', () => {
    const operations = Object.entries<Json>(document.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m} ${path}`))
    const exercised = new Set([...checked].map((key) => key.split(' ').slice(0, 2).join(' ')))
    assert.deepEqual(operations.filter((operation) => !exercised.has(operation)), [])
  })
})

describe('the document’s security is what the server does', () => {
  it('every operation answers each documented way of authenticating, and refuses none at all', async () => {
    const tenant = await createTenant(server.db)
    const email = `contract-${tenant.organizationId}@example.org`
    await server.db('people').where({ id: tenant.personId }).update({ email })
    const job = await insertJobStatus(server.db, tenant.organizationId)
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    /** The Authorization header for a requirement; null where it does not apply to this server (METRICS_TOKEN unset). */
    const credentialsFor = async (requirement: Record<string, string[]>): Promise<string | undefined | null> => {
      const [scheme, scopes] = Object.entries(requirement)[0] ?? []
      switch (scheme) {
        case undefined:
          return undefined
        case 'oauth2':
          return `Bearer ${await createToken(server.db, tenant.personId, { scopes: scopes! })}`
        case 'personalAccessToken':
          return basic(tenant.pat.appId, tenant.pat.secret)
        case 'zendeskBasic':
          return basic(`${email}/token`, tenant.pat.secret)
        case 'xplentyApiKey':
          return basic(tenant.pat.secret, '')
        case 'metricsToken':
          return null
        default:
          throw new Error(`no credentials for ${scheme}: add them here`)
      }
    }
    const fill = (path: string) =>
      path.replace('{account_id}', tenant.organizationId).replace(/\{(id|job_id|event_id)\}/g, job)
    let checked = 0
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, Json>>)) {
      if (path.startsWith('/oauth/')) continue // RFC 6749's own client authentication, tested in oauth.test.ts
      for (const [method, operation] of Object.entries(operations)) {
        if (!METHODS.includes(method)) continue
        const security: Array<Record<string, string[]>> = operation.security ?? document.security ?? []
        const send = async (authorization: string | undefined) => {
          const reply = await fetch(`${server.url}${fill(path)}`, {
            method: method.toUpperCase(),
            headers: { ...(authorization ? { Authorization: authorization } : {}), ...(method === 'get' ? {} : { 'Content-Type': 'application/vnd.api+json' }) },
            body: method === 'get' ? undefined : '{}',
          })
          // An event stream never ends by itself: the status is all this needs.
          await reply.body?.cancel()
          return reply.status
        }
        for (const requirement of security) {
          const authorization = await credentialsFor(requirement)
          if (authorization === null) continue
          const status = await send(authorization)
          assert.ok(status !== 401 && status !== 403, `${method.toUpperCase()} ${path} with ${JSON.stringify(requirement)} answered ${status}`)
          checked += 1
        }
        if (security.length > 0 && !security.some((requirement) => Object.keys(requirement).length === 0)) {
          assert.equal(await send(undefined), 401, `${method.toUpperCase()} ${path} answered without credentials`)
        }
      }
    }
    assert.ok(checked > 20, `only ${checked} requirements checked`)
  })

  it('every documented whole-number query parameter is read: a word there is a 400 naming it', async () => {
    const tenant = await createTenant(server.db)
    const token = await createToken(server.db, tenant.personId, { scopes: ['calendar', 'jobs'] })
    const job = await insertJobStatus(server.db, tenant.organizationId)
    let checked = 0
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, Json>>)) {
      const get = operations.get
      if (!get || !path.startsWith('/calendar/') && !path.startsWith('/jobs/')) continue
      const parameters = [...(operations.parameters ?? []), ...(get.parameters ?? [])].map((parameter: Json) =>
        parameter.$ref ? parameter.$ref.split('/').reduce((node: Json, key: string) => (key === '#' ? document : node[key]), null) : parameter,
      )
      for (const parameter of parameters) {
        if (parameter.in !== 'query' || parameter.schema?.type !== 'integer') continue
        const reply = await request(server.url, `${path.replace('{id}', job)}?${parameter.name}=many`, { token })
        assert.equal(reply.status, 400, `${path} ?${parameter.name}=many answered ${reply.status}`)
        assert.equal(reply.json.errors[0].source?.parameter, parameter.name, path)
        checked += 1
      }
    }
    assert.ok(checked >= 3, `only ${checked} parameters checked`)
  })
})
