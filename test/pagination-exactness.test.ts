// Pages served from cached positions and counters equal the naive SQL, before, during and after writes.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { insertJobStatuses as bulkInsert } from '../src/job-statuses/query'
import { createTenant, type Tenant } from './support/factories'
import { cacheHits, request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000' })
})
after(() => server.close())

async function naivePage(organizationId: string, perPage: number, offset: number) {
  const ids = await server.db('job_statuses').where({ organization_id: organizationId }).orderBy('id').limit(perPage).offset(offset).pluck('id')
  const counted = await server.db('job_statuses').where({ organization_id: organizationId }).count({ count: '*' }).first()
  return { ids: ids.map(String), total: Number(counted?.count) }
}

async function apiPage(tenant: Tenant, perPage: number, offset: number) {
  const reply = await request(server.url, `/calendar/v2/job_statuses?per_page=${perPage}&offset=${offset}`, { token: tenant.token })
  assert.equal(reply.status, 200)
  return { ids: reply.json.data.map((row: { id: string }) => row.id) as string[], total: reply.json.meta.total_count as number }
}

describe('pages equal ORDER BY id LIMIT … OFFSET …', () => {
  it('at random offsets of a large organization, and after deletes and inserts', async () => {
    const tenant = await createTenant(server.db)
    await bulkInsert(server.db, tenant.organizationId, 3_000)
    const pages = fc.tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 3_100 }))
    const compare = async ([perPage, offset]: [number, number]) => {
      assert.deepEqual(await apiPage(tenant, perPage, offset), await naivePage(tenant.organizationId, perPage, offset))
    }
    await fc.assert(fc.asyncProperty(pages, compare), { numRuns: 60 })

    // Delete from the middle and the front: every cached position after them moves.
    await server.db('job_statuses')
      .whereIn('id', server.db('job_statuses').where({ organization_id: tenant.organizationId }).orderBy('id').offset(1_000).limit(37).select('id'))
      .delete()
    await server.db('job_statuses')
      .whereIn('id', server.db('job_statuses').where({ organization_id: tenant.organizationId }).orderBy('id').limit(3).select('id'))
      .delete()
    await fc.assert(fc.asyncProperty(pages, compare), { numRuns: 60 })

    await bulkInsert(server.db, tenant.organizationId, 500)
    await fc.assert(fc.asyncProperty(pages, compare), { numRuns: 60 })
  })

  it('while another writer appends, and exactly once it stops', async () => {
    const reader = await createTenant(server.db)
    await bulkInsert(server.db, reader.organizationId, 2_000)
    const stable = (await naivePage(reader.organizationId, 1, 0)).total

    let writing = true
    const writer = (async () => {
      let inserted = 0
      while (writing && inserted < 2_000) {
        await bulkInsert(server.db, reader.organizationId, 7)
        inserted += 7
      }
    })()

    try {
      for (let i = 0; i < 80; i++) {
        const perPage = 1 + Math.floor(Math.random() * 100)
        // Rows before `stable` never move while rows are only appended, so the naive query taken
        // after the request must still show the same page.
        const offset = Math.floor(Math.random() * (stable - perPage))
        const before = (await naivePage(reader.organizationId, 1, 0)).total
        const page = await apiPage(reader, perPage, offset)
        const afterwards = await naivePage(reader.organizationId, perPage, offset)
        assert.deepEqual(page.ids, afterwards.ids)
        assert.ok(page.total >= before && page.total <= afterwards.total, `total ${page.total} outside ${before}..${afterwards.total}`)
      }
    } finally {
      writing = false
      await writer
    }

    for (const offset of [0, 250, 251, 1_999, 2_000, 2_500, 3_990]) {
      assert.deepEqual(await apiPage(reader, 100, offset), await naivePage(reader.organizationId, 100, offset))
    }
  })

  it('keeps total_count exact under concurrent inserts and deletes', async () => {
    const tenant = await createTenant(server.db)
    await bulkInsert(server.db, tenant.organizationId, 300)
    await Promise.all([
      ...Array.from({ length: 10 }, () => bulkInsert(server.db, tenant.organizationId, 13)),
      ...Array.from({ length: 5 }, (_, i) =>
        server.db('job_statuses')
          .whereIn('id', server.db('job_statuses').where({ organization_id: tenant.organizationId }).orderBy('id').offset(i * 20).limit(4).select('id'))
          .delete(),
      ),
    ])
    const api = await apiPage(tenant, 25, 0)
    const naive = await naivePage(tenant.organizationId, 25, 0)
    assert.equal(api.total, naive.total)
    assert.deepEqual(api.ids, naive.ids)
    const counter = await server.db('job_status_counts').where({ organization_id: tenant.organizationId }).first('total')
    assert.equal(Number(counter.total), naive.total)
  })

  it('never sends a page held from before a write, by any writer, through either kind of credentials', async () => {
    const tenant = await createTenant(server.db)
    const other = await createTenant(server.db)
    await bulkInsert(server.db, tenant.organizationId, 700)
    await bulkInsert(server.db, other.organizationId, 700)
    const offsets = [0, 300, 675]
    const credentials = [{ token: tenant.token }, { basic: tenant.pat }]
    // What a page must show: ids, every attribute shown, and the total, read afresh from the table.
    const naive = async (offset: number) => {
      const rows = await server.db('job_statuses').where({ organization_id: tenant.organizationId }).orderBy('id').limit(25).offset(offset)
        .select('id', 'status', 'message', 'retries')
      const counted = await server.db('job_statuses').where({ organization_id: tenant.organizationId }).count({ count: '*' }).first()
      return { rows: rows.map((row) => ({ id: String(row.id), status: row.status, message: row.message, retries: row.retries })), total: Number(counted?.count) }
    }
    const served = async (offset: number, credential: (typeof credentials)[number]) => {
      const reply = await request(server.url, `/calendar/v2/job_statuses?offset=${offset}`, credential)
      assert.equal(reply.status, 200)
      const rows = reply.json.data.map(({ id, attributes: { status, message, retries } }: { id: string; attributes: Record<string, unknown> }) => ({ id, status, message, retries }))
      return { rows, total: reply.json.meta.total_count as number }
    }
    const compareAll = async (step: string) => {
      for (const offset of offsets) {
        const expected = await naive(offset)
        // Three times each: a page is kept when built a second time, so the third could be the kept one.
        for (const credential of credentials) {
          for (let i = 0; i < 3; i++) assert.deepEqual(await served(offset, credential), expected, `${step}, offset ${offset}`)
        }
      }
    }
    const idAt = async (organizationId: string, offset: number) =>
      (await server.db('job_statuses').where({ organization_id: organizationId }).orderBy('id').offset(offset).first('id')).id

    await compareAll('before any write')
    // An update by another writer that leaves updated_at alone.
    await server.db.raw('UPDATE job_statuses SET message = ?, retries = 9 WHERE id = ?', ['changed elsewhere', await idAt(tenant.organizationId, 310)])
    await compareAll('after an update')
    // One job out and one in, in one statement: the total stands still, the ids on every later page move.
    const leaving = await idAt(tenant.organizationId, 260)
    const arriving = await idAt(other.organizationId, 100)
    await server.db.raw('UPDATE job_statuses SET organization_id = CASE WHEN id = ? THEN ?::bigint ELSE ?::bigint END WHERE id IN (?, ?)', [
      leaving, other.organizationId, tenant.organizationId, leaving, arriving,
    ])
    await compareAll('after a job moved out and another in')
    await server.db('job_statuses').where({ id: await idAt(tenant.organizationId, 5) }).delete()
    await compareAll('after a delete')
    await bulkInsert(server.db, tenant.organizationId, 3)
    await compareAll('after an insert')
  })

  it('walks every page by links.next exactly, while pages are built ahead and rows change under it', async () => {
    const tenant = await createTenant(server.db)
    await bulkInsert(server.db, tenant.organizationId, 1_000)
    const naive = async (offset: number) => {
      const rows = await server.db('job_statuses').where({ organization_id: tenant.organizationId }).orderBy('id').limit(100).offset(offset).select('id', 'message')
      return rows.map((row) => ({ id: String(row.id), message: row.message }))
    }
    for (const credential of [{ token: tenant.token }, { basic: tenant.pat }]) {
      let next: string | undefined = `${server.url}/calendar/v2/job_statuses?per_page=100`
      let offset = 0
      let page = 0
      while (next) {
        const reply = await request(server.url, next.slice(server.url.length), credential)
        assert.equal(reply.status, 200)
        const served = reply.json.data.map(({ id, attributes }: { id: string; attributes: { message: string } }) => ({ id, message: attributes.message }))
        assert.deepEqual(served, await naive(offset), `page ${page}`)
        next = reply.json.links.next
        offset += 100
        page += 1
        if (next && page % 2 === 0) {
          // Long enough for the next page to be built ahead; then change a row on it.
          await new Promise((resolve) => setTimeout(resolve, 50))
          const [first] = await naive(offset)
          await server.db.raw('UPDATE job_statuses SET message = ? WHERE id = ?', [`changed at page ${page}`, first!.id])
        }
      }
      assert.equal(offset, 1_000)
    }
  })

  it('builds pages ahead for a walk whose pages alternate between processes, and they stay exact', async () => {
    // What one of two processes sees of such a walk: every other page, two pages on each time.
    const tenant = await createTenant(server.db)
    await bulkInsert(server.db, tenant.organizationId, 1_000)
    const naive = async (offset: number) =>
      (await server.db('job_statuses').where({ organization_id: tenant.organizationId }).orderBy('id').limit(100).offset(offset).select('id', 'message')).map((row) => ({ id: String(row.id), message: row.message }))
    const aheadHits = () => cacheHits(server.url, 'pages_ahead')
    const before = await aheadHits()
    for (const offset of [0, 200, 400, 600, 800]) {
      if (offset === 800) {
        // Built ahead by now, most likely; changed after, it must be built afresh.
        await new Promise((resolve) => setTimeout(resolve, 50))
        const [first] = await naive(800)
        await server.db.raw('UPDATE job_statuses SET message = ? WHERE id = ?', ['changed under the walk', first!.id])
      }
      const reply = await request(server.url, `/calendar/v2/job_statuses?offset=${offset}&per_page=100`, { token: tenant.token })
      const served = reply.json.data.map(({ id, attributes }: { id: string; attributes: { message: string } }) => ({ id, message: attributes.message }))
      assert.deepEqual(served, await naive(offset), `offset ${offset}`)
    }
    assert.ok((await aheadHits()) > before, 'the page two on was built ahead and handed out')
  })
})
