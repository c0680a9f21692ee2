// npm run bench:memory: the server's peak memory under two attacks a client could make, sampled from
// /proc. 1) 40 event streams that never read, on one job whose `errors` change 60 times by 200 KB;
// 2) four concurrent reads, repeated, of a job with 200,000 results. Prints idle and peak RSS.
// SERVER_DIR runs another checkout's server (its src/server.ts) against the same kind of database.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { createAccessToken, createPerson, findOrCreateCommandLineApplication } from '../src/auth/credentials'
import { openDatabase } from '../src/db/database'
import { createOrganization } from '../src/organizations/query'

const DATABASE_URL = process.env.DATABASE_URL
if (!DATABASE_URL) throw new Error('DATABASE_URL must name an empty PostgreSQL database the server can migrate')
const SERVER_DIR = process.env.SERVER_DIR ?? process.cwd()
const STREAMS = 40
const CHANGES = 60
const RESULTS = 200_000
const READERS = 4
const READ_ROUNDS = 5

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

async function main() {
  // The node flags of package.json's start script, as the server ships.
  const flags = (JSON.parse(readFileSync(join(SERVER_DIR, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).filter((word) => word.startsWith('--'))
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', join(SERVER_DIR, 'src/server.ts')], {
    cwd: SERVER_DIR,
    env: { ...process.env, PORT: '0', DEMO: 'false', LOG_LEVEL: 'warn', RATE_LIMIT: '1000000000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let output = ''
    // Where it listens is on stderr; a checkout from before that said it on stdout.
    const read = (chunk: Buffer) => {
      output += String(chunk)
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (!match) return
      // From here stdout is read and dropped (logs would pile up here) and stderr shown as it comes.
      child.stdout!.off('data', read).resume()
      child.stderr!.off('data', read).pipe(process.stderr)
      resolve(match[1]!)
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const db = openDatabase({ databaseUrl: DATABASE_URL, dataDir: '', databasePoolMax: 2 })
  const organizationId = await createOrganization(db, { name: 'memory attacks' })
  const personId = await createPerson(db, organizationId, { name: 'Attacker' })
  const token = await createAccessToken(db, { personId, applicationId: await findOrCreateCommandLineApplication(db), scopes: ['jobs', 'calendar'], expiresAt: null })
  await db.destroy()

  const send = async (method: string, path: string, body?: unknown) => {
    const reply = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await reply.text()
    if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${text.slice(0, 200)}`)
    return text
  }
  const workingJob = async () => {
    const id = (JSON.parse(await send('POST', '/jobs/v1/job_statuses', { data: { attributes: {} } })) as { data: { id: string } }).data.id
    await send('POST', `/jobs/v1/job_statuses/${id}/transitions`, { data: { attributes: { status: 'working' } } })
    return id
  }

  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(child.pid!))), 20)
  const settle = async () => {
    ;(global as { gc?: () => void }).gc?.()
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    return rssOf(child.pid!)
  }

  const idle = await settle()
  peak = idle

  // 0) The same changes with nobody watching: what the writes alone cost.
  const filler = 'x'.repeat(200 * 1024)
  const quietJob = await workingJob()
  for (let i = 1; i <= CHANGES; i++) await send('PATCH', `/jobs/v1/job_statuses/${quietJob}`, { data: { attributes: { message: `change ${i}`, errors: { base: [filler] } } } })
  const writesPeak = peak
  const afterWrites = await settle()
  peak = afterWrites

  // 1) Streams that never read.
  const streamJob = await workingJob()
  const host = new URL(url)
  const sockets: Socket[] = []
  for (let i = 0; i < STREAMS; i++) {
    const socket = connect(Number(host.port), host.hostname)
    socket.write(`GET /jobs/v1/job_statuses/${streamJob}/events HTTP/1.1\r\nHost: ${host.host}\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    socket.once('data', () => socket.pause())
    sockets.push(socket)
  }
  for (let i = 1; i <= CHANGES; i++) await send('PATCH', `/jobs/v1/job_statuses/${streamJob}`, { data: { attributes: { message: `change ${i}`, errors: { base: [filler] } } } })
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const streamsPeak = peak
  sockets.forEach((socket) => socket.destroy())
  const afterStreams = await settle()
  peak = afterStreams

  // 2) Reads of a job with many results.
  const resultsJob = await workingJob()
  // Written directly: more results than the write API lets one job have, as a job from before that limit.
  const writer = openDatabase({ databaseUrl: DATABASE_URL, dataDir: '', databasePoolMax: 1 })
  await writer.raw(
    `INSERT INTO job_status_results (job_status_id, task_id, action, success, status, errors, title)
     SELECT ?, i::text, 'update', true, 'Updated', '""'::jsonb, 'Task ' || i FROM generate_series(1, ?) AS i`,
    [resultsJob, RESULTS],
  )
  await writer('job_statuses').where({ id: resultsJob }).update({ results_count: RESULTS })
  await writer.destroy()
  const beforeReads = await settle()
  peak = beforeReads
  let bytes = 0
  for (let round = 0; round < READ_ROUNDS; round++) {
    const reads = await Promise.all(Array.from({ length: READERS }, () => send('GET', `/jobs/v1/job_statuses/${resultsJob}`)))
    bytes = reads[0]!.length
  }
  const readsPeak = peak
  clearInterval(sampler)
  child.kill('SIGTERM')

  const mb = (value: number) => `${value.toFixed(0)} MB`
  console.log(`server: ${SERVER_DIR}`)
  console.log(`idle RSS                                   ${mb(idle)}`)
  console.log(`${CHANGES} × 200 KB changes, nobody watching:  peak ${mb(writesPeak)} (+${mb(writesPeak - idle)} over idle)`)
  console.log(`the same with ${STREAMS} unread streams:      peak ${mb(streamsPeak)} (+${mb(streamsPeak - afterWrites)} over the ${mb(afterWrites)} before)`)
  console.log(`${READERS} concurrent reads × ${READ_ROUNDS} of a job with ${RESULTS.toLocaleString()} results (${(bytes / 1e6).toFixed(2)} MB each): peak ${mb(readsPeak)} (+${mb(readsPeak - beforeReads)} over the ${mb(beforeReads)} before)`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
