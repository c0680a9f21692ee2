// CACHES_OFF, the switch the benchmark measures each cache's worth with: it takes only the caches'
// names, and a cache it names is never consulted to answer, while the answers stay the same.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CACHE_NAMES, ConfigError, loadConfig } from '../src/config'
import { createTenant, insertJobStatuses, type Tenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

/** Hits counted by /metrics, by cache. */
async function hits(server: TestServer): Promise<Record<string, number>> {
  const text = (await request(server.url, '/metrics')).text
  const counted: Record<string, number> = {}
  for (const [, cache, value] of text.matchAll(/^pco_cache_lookups_total\{cache="(\w+)",result="hit"\} (\d+)$/gm)) counted[cache!] = Number(value)
  return counted
}

describe('CACHES_OFF', () => {
  let server: TestServer
  let tenant: Tenant
  let ids: string[]
  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '1000000', CACHES_OFF: CACHE_NAMES.join(',') })
    tenant = await createTenant(server.db)
    ids = await insertJobStatuses(server.db, tenant.organizationId, 600)
  })
  after(() => server.close())

  it('refuses a name that is not a cache, naming the variable', () => {
    assert.throws(() => loadConfig({ CACHES_OFF: 'pages,everything' }), (error: unknown) => error instanceof ConfigError && error.variable === 'CACHES_OFF' && /everything/.test(error.message))
    assert.deepEqual([...loadConfig({ CACHES_OFF: ' pages , positions' }).cachesOff], ['pages', 'positions'])
    assert.equal(loadConfig({}).cachesOff.size, 0)
  })

  it('answers from the database every time, the same as with the caches on', async () => {
    const before = await hits(server)
    const paths = ['/calendar/v2/job_statuses?per_page=100', '/calendar/v2/job_statuses?offset=500', `/calendar/v2/job_statuses/${ids[3]}`]
    for (const path of paths) {
      const first = await request(server.url, path, { token: tenant.token })
      for (let i = 0; i < 3; i++) {
        const again = await request(server.url, path, { token: tenant.token })
        assert.equal(again.status, 200)
        assert.equal(again.text, first.text, path)
      }
    }
    // A walk by links.next, which would have pages built ahead.
    let next: string | undefined = `${server.url}/calendar/v2/job_statuses?per_page=100`
    while (next) next = (await request(server.url, next.slice(server.url.length), { token: tenant.token })).json.links.next
    assert.deepEqual(await hits(server), before, 'no cache answered a lookup')
  })
})
