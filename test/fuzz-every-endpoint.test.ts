// Generated requests against every endpoint of the OpenAPI document, with and without valid
// credentials: paths, query strings, headers and bodies no client should send. None may answer 5xx.
// Each run takes a fresh seed, printed first; FUZZ_SEED=<seed> replays a run.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { openApiDocument } from '../src/openapi/document'
import { createTenant, createToken, insertJobStatus, type Tenant } from './support/factories'
import { startTestServer, type TestServer } from './support/server'

const RUNS = Number(process.env.FUZZ_RUNS ?? 20_000)
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

let server: TestServer
let tenant: Tenant & { jobsToken: string }
let ids: string[]
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000000', RATE_LIMIT_DEEP_OFFSET: '1000000000', AUTH_FAILURE_LIMIT: '1000000000' })
  const base = await createTenant(server.db)
  tenant = { ...base, jobsToken: await createToken(server.db, base.personId, { scopes: ['jobs', 'calendar'] }) }
  ids = [
    await insertJobStatus(server.db, base.organizationId, { status: 'working' }),
    await insertJobStatus(server.db, base.organizationId, { status: 'queued' }),
    await insertJobStatus(server.db, (await createTenant(server.db)).organizationId, { status: 'working' }),
  ]
})
after(() => server.close())

const LEAKS = [/\n\s+at /, /\.ts:\d+/, /\bselect\b.+\bfrom\b/i, /syntax error/i, /knex/i]

const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udfff', '😀', '', ' ', '%', '%00', '%zz', "'; DROP TABLE job_statuses; --", '1'.repeat(300)),
  fc.constantFrom('0', '-1', '1', '2147483647', '2147483648', '9223372036854775807', '9223372036854775808', '1e309', 'NaN', '0x10', '1.5'),
)

const value: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 53 + 1, -(2 ** 63), 1e308, 0.5, true, false, null, [], {}),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 4 }),
)

const ATTRIBUTES = ['kind', 'total', 'progress', 'message', 'errors', 'outputs', 'scenario', 'status', 'increment', 'type', 'id']
const document = fc.oneof(
  fc.record({ data: fc.record({ type: fc.oneof(fc.constant('JobStatus'), nasty), attributes: fc.dictionary(fc.oneof(fc.constantFrom(...ATTRIBUTES), nasty), value, { maxKeys: 5 }) }, { requiredKeys: [] }) }),
  fc.record({ data: fc.array(fc.dictionary(fc.constantFrom('id', 'action', 'success', 'status', 'errors', 'title'), value, { maxKeys: 6 }), { maxLength: 5 }) }),
  fc.record({ data: fc.record({ attributes: fc.record({ outputs: fc.array(fc.dictionary(fc.constantFrom('name', 'records_count', 'url'), value), { maxLength: 3 }) }) }) }),
  value,
)
const body = fc.oneof(
  document.map((json) => JSON.stringify(json) ?? 'null'),
  nasty,
  // Nesting deeper than a recursive serializer survives, as text: the generator's values stay shallow.
  fc.integer({ min: 30, max: 20_000 }).map((depth) => `{"data":{"attributes":{"errors":${'['.repeat(depth)}${']'.repeat(depth)}}}}`),
  fc.constantFrom('{', '{"data":', '[1,2', 'grant_type=authorization_code&code=a&code=b&client_id=x', 'client_id=a%00b&token=t', '\u0000'),
)

/** Every path of the document, with its parameters filled by real ids, other organizations' ids, or junk. */
const paths = () => {
  const templates = Object.keys(openApiDocument(server.url).paths)
  return fc.tuple(fc.constantFrom(...templates, '/nowhere', '/calendar/v2/nowhere', '/jobs/v1/nowhere'), fc.array(fc.oneof(fc.constantFrom(...ids, tenant.organizationId), nasty), { minLength: 2, maxLength: 2 }))
    .map(([template, [a, b]]) => {
      let n = 0
      return template.replace(/\{[^}]+\}/g, () => encodeURIComponent(((n++ === 0 ? a : b) ?? '1').toWellFormed()))
    })
}

const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom('per_page', 'offset', 'order', 'where[status]', 'where[started_at][gte]', 'fields[JobStatus]', 'include', 'ids', 'page', 'limit', 'sort', 'direction', 'status', 'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method'), nasty), nasty), { maxLength: 5 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k.toWellFormed())}=${encodeURIComponent(v.toWellFormed())}`).join('&'))

/** Header values cannot carry control characters or text beyond Latin-1 on the wire. */
const headerText = nasty.map((text) => text.replace(/[^\x20-\x7e]/g, ''))
const credentials = () => fc.oneof(
  fc.constant<Record<string, string>>({}),
  fc.constant({ Authorization: `Bearer ${tenant.jobsToken}` }),
  fc.constant({ Authorization: `Bearer ${tenant.token}` }),
  fc.constant({ Authorization: `Basic ${Buffer.from(`${tenant.pat.appId}:${tenant.pat.secret}`).toString('base64')}` }),
  fc.constant({ Authorization: 'Basic ADoA' }),
  nasty.map((text) => ({ Authorization: `Basic ${Buffer.from(text).toString('base64')}` })),
  headerText.map((text) => ({ Authorization: text })),
)
const extraHeaders = fc.record({
  'Content-Type': fc.constantFrom('application/json', 'application/vnd.api+json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', ''),
  Accept: fc.oneof(fc.constantFrom('*/*', 'application/vnd.xplenty+json; version=2', 'application/vnd.xplenty+json; version=1', 'text/html'), headerText),
  'X-PCO-API-Version': headerText,
  'Idempotency-Key': headerText,
  'If-None-Match': headerText,
}, { requiredKeys: [] })

describe(`${RUNS} generated requests against every endpoint (seed ${SEED})`, () => {
  it('none answers 5xx, and no body leaks a stack trace or SQL', async () => {
    process.stdout.write(`# fuzz seed ${SEED}: FUZZ_SEED=${SEED} replays this run\n`)
    let sent = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PATCH', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'), paths(), query, credentials(), extraHeaders, body,
        async (method, path, queryString, auth, headers, text) => {
          const cleanHeaders = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ''))
          const reply = await fetch(`${server.url}${path}${queryString ? `?${queryString}` : ''}`, {
            method,
            headers: { ...cleanHeaders, ...auth },
            ...(['GET', 'HEAD'].includes(method) ? {} : { body: text }),
            redirect: 'manual',
          })
          sent++
          // An event stream stays open while its job runs: its status is all this needs.
          const answer = reply.headers.get('content-type')?.startsWith('text/event-stream') ? (await reply.body?.cancel(), '') : await reply.text()
          assert.ok(reply.status < 500, `${method} ${path}?${queryString} answered ${reply.status}: ${answer.slice(0, 300)}`)
          for (const leak of LEAKS) assert.doesNotMatch(answer.replace(/"links":\{[^}]*\}/g, ''), leak)
        },
      ),
      { numRuns: RUNS, seed: SEED },
    )
    assert.equal(sent, RUNS)
  })
})
