// A bearer token seen valid once is re-checked inside the list's and the read's own statement: every
// change to it must still take effect at the very next request, and each request must count once.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createPersonalAccessToken } from '../src/auth/credentials'
import { bearerCredential } from '../src/auth/presented'
import { columnsFor } from '../src/job-statuses/query'
import { ReadBatcher } from '../src/job-statuses/read-batch'
import { createTenant, createToken, insertJobStatuses } from './support/factories'
import { cacheHits, request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '5', RATE_LIMIT_PERIOD: '20' })
})
after(() => server.close())

const LIST = '/calendar/v2/job_statuses'
const hintOf = (text: string) => /Hint: ([A-Z]+)/.exec(text)?.[1]

/** A token that has answered once, so this process knows it. */
async function knownToken(expiresInMs?: number) {
  const tenant = await createTenant(server.db, server.clock.now())
  const ids = await insertJobStatuses(server.db, tenant.organizationId, 3)
  const token = await createToken(server.db, tenant.personId, expiresInMs ? { expiresAt: new Date(server.clock.now().getTime() + expiresInMs) } : {})
  assert.equal((await request(server.url, LIST, { token })).status, 200)
  return { ...tenant, token, ids }
}

describe('a token the server already knows', () => {
  it('is refused at the next list and read once revoked (CAPUCHIN)', async () => {
    const { token, ids, personId } = await knownToken()
    assert.equal((await request(server.url, `${LIST}/${ids[0]}`, { token })).status, 200)
    await server.db('oauth_access_tokens').where({ person_id: personId }).update({ revoked_at: new Date(server.clock.now().getTime() - 1000) })
    for (const path of [LIST, `${LIST}/${ids[0]}`]) {
      const reply = await request(server.url, path, { token })
      assert.equal(reply.status, 401, path)
      assert.equal(hintOf(reply.text), 'CAPUCHIN')
    }
  })

  it('is refused once expired (BABOON), by the server clock', async () => {
    const { token, ids } = await knownToken(60_000)
    server.clock.advance(61_000)
    const read = await request(server.url, `${LIST}/${ids[1]}`, { token })
    assert.equal(read.status, 401)
    assert.equal(hintOf(read.text), 'BABOON')
  })

  it('is refused once its person is gone', async () => {
    const { token, personId } = await knownToken()
    await server.db('people').where({ id: personId }).delete()
    const reply = await request(server.url, LIST, { token })
    assert.equal(reply.status, 401)
  })

  it('is checked before the parameters: a revoked token with a bad per_page is a 401, not a 400', async () => {
    const { token, personId } = await knownToken()
    await server.db('oauth_access_tokens').where({ person_id: personId }).update({ revoked_at: new Date(server.clock.now().getTime() - 1000) })
    const reply = await request(server.url, `${LIST}?per_page=abc`, { token })
    assert.equal(reply.status, 401)
  })

  it('counts every request exactly once, and answers 429 past the limit before a 404', async () => {
    const { token, ids } = await knownToken()
    const counts: string[] = []
    for (const path of [LIST, `${LIST}/${ids[2]}`, `${LIST}?offset=1`, `${LIST}/999999999999`]) {
      const reply = await request(server.url, path, { token })
      counts.push(reply.headers.get('x-pco-api-request-rate-count')!)
    }
    // The first request (in knownToken) was 1.
    assert.deepEqual(counts, ['2', '3', '4', '5'])
    const over = await request(server.url, `${LIST}/999999999999`, { token })
    assert.equal(over.status, 429)
    assert.equal(over.headers.get('x-pco-api-request-rate-count'), '6')
    assert.ok(Number(over.headers.get('retry-after')) >= 1)
  })

  it('numbers reads that arrive together one by one, for each person, and refuses exactly those past the limit', async () => {
    const first = await knownToken()
    const second = await knownToken()
    // Sent at once, so they share statements: two people, a missing job, another organization's job.
    const paths = [
      ...first.ids.map((id) => ({ caller: first, path: `${LIST}/${id}` })),
      { caller: first, path: `${LIST}/999999999999` },
      { caller: first, path: `${LIST}/${second.ids[0]}` },
      ...first.ids.map((id) => ({ caller: first, path: `${LIST}/${id}?fields[JobStatus]=status` })),
      ...second.ids.map((id) => ({ caller: second, path: `${LIST}/${id}` })),
    ]
    const replies = await Promise.all(paths.map(({ caller, path }) => request(server.url, path, { token: caller.token })))
    for (const caller of [first, second]) {
      const mine = replies.filter((_, i) => paths[i]!.caller === caller)
      const counts = mine.map((reply) => Number(reply.headers.get('x-pco-api-request-rate-count'))).sort((a, b) => a - b)
      // Each person's first request (in knownToken) was 1: the rest are 2, 3, … with no repeat and no gap.
      assert.deepEqual(counts, mine.map((_, i) => i + 2))
      for (const reply of mine) {
        const count = Number(reply.headers.get('x-pco-api-request-rate-count'))
        if (count > 5) assert.equal(reply.status, 429)
        else assert.notEqual(reply.status, 429)
      }
    }
    const statuses = replies.map((reply) => reply.status)
    // The first person sent eight (counts 2 to 9, so four past 5), the second three.
    assert.equal(statuses.filter((status) => status === 429).length, 4)
    // Of the first person's requests within the limit, a missing job and another organization's are 404s.
    for (const [i, reply] of replies.entries()) {
      if (reply.status === 429) continue
      const { path, caller } = paths[i]!
      const foreign = path.endsWith(second.ids[0]!) && caller === first
      assert.equal(reply.status, path.includes('999999999999') || foreign ? 404 : 200, path)
    }
  })

  it('numbers the reads of one batch in arrival order, person by person, against the real rate-limit rows', async () => {
    const first = await knownToken()
    const second = await knownToken()
    const reads = new ReadBatcher(server.db, server.clock.now, 20)
    const columns = columnsFor(['status'])
    // Asked in one turn of the event loop, so one statement answers them all.
    const answers = await Promise.all([
      reads.read(bearerCredential(first.token), first.organizationId, first.ids[0]!, columns),
      reads.read(bearerCredential(second.token), second.organizationId, second.ids[0]!, columns),
      reads.read(bearerCredential(first.token), first.organizationId, '999999999999', columns),
      reads.read(bearerCredential('not a token'), first.organizationId, first.ids[1]!, columns),
      reads.read(bearerCredential(first.token), first.organizationId, second.ids[1]!, columns),
      reads.read(bearerCredential(second.token), second.organizationId, second.ids[2]!, columns),
    ])
    assert.deepEqual(answers.map((answer) => answer.window?.count), [2, 2, 3, undefined, 4, 3])
    assert.deepEqual(answers.map((answer) => answer.row?.id), [first.ids[0], second.ids[0], undefined, undefined, undefined, second.ids[2]])
    assert.equal(answers[0]!.row!.status, 'queued')
  })

  it('answers exactly what the ordinary path answers', async () => {
    const { token, personId, ids } = await knownToken()
    for (const path of [LIST, `${LIST}?per_page=2&offset=1`, `${LIST}/${ids[0]}?fields[JobStatus]=status,progress`, `${LIST}/${ids[0]}`]) {
      // A token new to the server takes the ordinary path; `token` the known one.
      const ordinary = await request(server.url, path, { token: await createToken(server.db, personId) })
      server.clock.advance(20_000)
      const known = await request(server.url, path, { token })
      server.clock.advance(20_000)
      assert.equal(known.status, ordinary.status, path)
      assert.equal(known.text, ordinary.text, path)
      for (const header of ['etag', 'content-type', 'cache-control', 'x-pco-api-processed-as-version', 'x-pco-api-auth-method', 'x-pco-api-request-rate-limit']) {
        assert.equal(known.headers.get(header), ordinary.headers.get(header), `${path} ${header}`)
      }
    }
  })
})

describe('a personal access token the server already knows', () => {
  /** A personal access token that has answered once, so this process knows it. */
  async function knownPat() {
    const tenant = await createTenant(server.db, server.clock.now())
    const ids = await insertJobStatuses(server.db, tenant.organizationId, 3)
    assert.equal((await request(server.url, LIST, { basic: tenant.pat })).status, 200)
    server.clock.advance(20_000)
    return { ...tenant, ids }
  }

  it('is answered ahead of the app, exactly as the ordinary path answers', async () => {
    const { pat, personId, ids } = await knownPat()
    for (const path of [LIST, `${LIST}?per_page=2&offset=1`, `${LIST}/${ids[0]}?fields[JobStatus]=status,progress`, `${LIST}/${ids[0]}`]) {
      // A personal access token new to the server takes the ordinary path; `pat` the known one.
      const ordinary = await request(server.url, path, { basic: await createPersonalAccessToken(server.db, personId) })
      server.clock.advance(20_000)
      const hits = await cacheHits(server.url, 'known_tokens')
      const known = await request(server.url, path, { basic: pat })
      server.clock.advance(20_000)
      assert.ok((await cacheHits(server.url, 'known_tokens')) > hits, `${path}: answered as a known caller`)
      assert.equal(known.status, ordinary.status, path)
      assert.equal(known.text, ordinary.text, path)
      for (const header of ['etag', 'content-type', 'cache-control', 'x-pco-api-processed-as-version', 'x-pco-api-auth-method', 'x-pco-api-request-rate-limit', 'x-pco-api-request-rate-count']) {
        assert.equal(known.headers.get(header), ordinary.headers.get(header), `${path} ${header}`)
      }
    }
  })

  it('is refused at the next list and read once revoked, and with a wrong secret', async () => {
    const { pat, ids } = await knownPat()
    assert.equal((await request(server.url, `${LIST}?per_page=1`, { basic: { appId: pat.appId, secret: 'not its secret' } })).status, 401)
    assert.equal((await request(server.url, `${LIST}/${ids[0]}`, { basic: pat })).status, 200)
    await server.db('personal_access_tokens').where({ app_id: pat.appId }).update({ revoked_at: server.clock.now() })
    for (const path of [LIST, `${LIST}/${ids[0]}`]) {
      const reply = await request(server.url, path, { basic: pat })
      assert.equal(reply.status, 401, path)
      assert.equal(reply.headers.get('x-pco-api-auth-method'), 'HTTPBasic')
    }
  })

  it('shares its person\'s rate-limit count with the person\'s bearer tokens', async () => {
    const { pat, token } = await knownPat()
    // knownPat's request was 1 in a window since closed; the bearer token is new to the server.
    const counts = []
    for (const credentials of [{ basic: pat }, { token }, { basic: pat }, { token }]) {
      counts.push((await request(server.url, LIST, credentials)).headers.get('x-pco-api-request-rate-count'))
    }
    assert.deepEqual(counts, ['1', '2', '3', '4'])
  })
})
