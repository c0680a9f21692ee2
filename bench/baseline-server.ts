// The benchmark's reference: the same list and read endpoints by hand on node:http and pg, no framework.
// It authenticates the bearer token by digest and writes PCO's documents, with the naive SQL
// (count(*) and ORDER BY id LIMIT/OFFSET), as a straightforward hand-written server would. Writes
// (a progress report, a PATCH of `message`) are plain UPDATEs; reads answer If-None-Match.
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
pool.on('error', () => undefined)
let base = ''

const stamp = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19)}Z` : null)

function resource(row: Record<string, unknown>) {
  return {
    type: 'JobStatus',
    id: String(row.id),
    attributes: { errors: row.errors, message: row.message, retries: row.retries, started_at: stamp(row.started_at as Date | null), status: row.status },
    relationships: {},
    links: { self: `${base}/calendar/v2/job_statuses/${row.id}` },
  }
}

/** Every attribute, as the write API answers. */
function job(row: Record<string, unknown>) {
  const { id, organization_id: _organization, scenario: _scenario, scenario_due_at: _due, ...attributes } = row
  for (const [key, value] of Object.entries(attributes)) if (value instanceof Date) attributes[key] = stamp(value)
  return { data: { type: 'JobStatus', id: String(id), attributes, links: { self: `${base}/jobs/v1/job_statuses/${id}` } } }
}

function send(res: import('node:http').ServerResponse, status: number, body: unknown, ifNoneMatch?: string) {
  const text = JSON.stringify(body)
  const etag = `W/"${createHash('sha1').update(text).digest('base64url')}"`
  if (ifNoneMatch === etag) {
    res.writeHead(304, { ETag: etag })
    return res.end()
  }
  res.writeHead(status, { 'Content-Type': 'application/vnd.api+json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ETag: etag })
  res.end(text)
}

async function bodyOf(req: import('node:http').IncomingMessage): Promise<{ data?: { attributes?: Record<string, unknown> } }> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', base)
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (!token) return send(res, 401, { errors: [{ status: '401' }] })
    const digest = createHash('sha256').update(token).digest('hex')
    const auth = await pool.query(
      'SELECT p.organization_id FROM oauth_access_tokens t JOIN people p ON p.id = t.person_id WHERE t.token_digest = $1 AND t.revoked_at IS NULL',
      [digest],
    )
    if (auth.rows.length === 0) return send(res, 401, { errors: [{ status: '401' }] })
    const org = String(auth.rows[0].organization_id)
    const parent = { id: org, type: 'Organization' }
    const ifNoneMatch = req.headers['if-none-match']
    const progress = /^\/jobs\/v1\/job_statuses\/(\d+)\/progress$/.exec(url.pathname)
    if (progress && req.method === 'POST') {
      const increment = Number((await bodyOf(req)).data?.attributes?.increment ?? 1)
      const { rows } = await pool.query(
        `UPDATE job_statuses SET progress = progress + $3, updated_at = now() WHERE organization_id = $1 AND id = $2 AND status IN ('working', 'stopping') RETURNING *`,
        [org, progress[1], increment],
      )
      if (rows.length === 0) return send(res, 409, { errors: [{ status: '409' }] })
      return send(res, 200, job(rows[0]))
    }
    const patch = /^\/jobs\/v1\/job_statuses\/(\d+)$/.exec(url.pathname)
    if (patch && req.method === 'PATCH') {
      const message = (await bodyOf(req)).data?.attributes?.message
      const { rows } = await pool.query('UPDATE job_statuses SET message = $3, updated_at = now() WHERE organization_id = $1 AND id = $2 RETURNING *', [org, patch[1], message])
      if (rows.length === 0) return send(res, 404, { errors: [{ status: '404' }] })
      return send(res, 200, job(rows[0]))
    }
    const read = /^\/calendar\/v2\/job_statuses\/(\d+)$/.exec(url.pathname)
    if (read) {
      const { rows } = await pool.query('SELECT * FROM job_statuses WHERE organization_id = $1 AND id = $2', [org, read[1]])
      if (rows.length === 0) return send(res, 404, { errors: [{ status: '404' }] })
      return send(res, 200, { data: resource(rows[0]), included: [], meta: { parent } }, ifNoneMatch)
    }
    if (url.pathname !== '/calendar/v2/job_statuses') return send(res, 404, { errors: [{ status: '404' }] })
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 25)))
    const offset = Math.max(0, Number(url.searchParams.get('offset') ?? 0))
    const [page, count] = await Promise.all([
      pool.query('SELECT * FROM job_statuses WHERE organization_id = $1 ORDER BY id LIMIT $2 OFFSET $3', [org, perPage, offset]),
      pool.query('SELECT count(*) FROM job_statuses WHERE organization_id = $1', [org]),
    ])
    const total = Number(count.rows[0].count)
    const meta: Record<string, unknown> = { total_count: total, count: page.rows.length }
    const links: Record<string, string> = { self: `${base}${url.pathname}${url.search}` }
    if (offset > 0) meta.prev = { offset: Math.max(0, offset - perPage) }
    if (offset + perPage < total) {
      meta.next = { offset: offset + perPage }
      links.next = `${base}/calendar/v2/job_statuses?offset=${offset + perPage}&per_page=${perPage}`
    }
    Object.assign(meta, { can_order_by: [], can_query_by: [], parent })
    send(res, 200, { links, data: page.rows.map(resource), included: [], meta }, ifNoneMatch)
  } catch {
    send(res, 500, { errors: [{ status: '500' }] })
  }
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  process.stdout.write(`baseline listening on ${base}\n`)
})
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))))
