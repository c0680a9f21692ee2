// npm run test:cluster: builds the multi-host deployment in network namespaces, runs the failure
// scenarios against it, prints one table of figures, and tears everything down, on failure and on
// Ctrl-C too. Exits 1 when any check fails. See docs/operations.md.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { knex, type Knex } from 'knex'
import { createTenant, createToken } from '../support/factories'
import { networkProblem } from './hosts'
import { call, Tally, Watcher, Writers, type Job } from './clients'
import { APP_HOSTS, Cluster, DB_HOSTS, until, type DbHost } from './topology'

const WRITERS = 24
const KILLS = 5

interface Row {
  scenario: string
  figure: string
  value: string
  ok: boolean
}
const rows: Row[] = []
function report(scenario: string, figure: string, value: string | number, ok = true): void {
  rows.push({ scenario, figure, value: String(value), ok })
  console.log(`${ok ? '  ok ' : 'FAIL '} ${scenario} · ${figure}: ${value}`)
}
const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : (ms / 1000).toFixed(1))

function installMissingPackages(): void {
  const wanted: Array<[string, string]> = [
    ['/usr/bin/patroni', 'patroni'],
    ['/usr/bin/etcd', 'etcd-server'],
    ['/usr/sbin/haproxy', 'haproxy'],
    ['/usr/lib/postgresql/15/bin/postgres', 'postgresql-15'],
  ]
  const missing = wanted.filter(([path]) => spawnSync('test', ['-x', path]).status !== 0).map(([, name]) => name)
  if (missing.length === 0) return
  console.log(`installing ${missing.join(', ')} from Debian's packages`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
    const result = spawnSync('apt-get', args, { env, stdio: 'inherit' })
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`)
  }
}

/** Tenants with tokens for the API, made straight in the database. */
async function tenants(db: Knex, count: number): Promise<Array<{ organizationId: string; token: string }>> {
  const made = []
  for (let i = 0; i < count; i++) {
    const tenant = await createTenant(db)
    made.push({ organizationId: tenant.organizationId, token: await createToken(db, tenant.personId, { scopes: ['calendar', 'jobs'] }) })
  }
  return made
}

/** Every acknowledged write is there: each job's progress and status exactly as acknowledged. */
async function verifyLedger(cluster: Cluster, scenario: string, writers: Writers): Promise<void> {
  let lost = 0
  const problems: string[] = []
  for (const job of writers.jobs) {
    const reply = await until(`job ${job.id} to be readable`, async () => {
      const r = await call(`${cluster.apiUrl}/jobs/v1/job_statuses/${job.id}`, { token: job.token })
      return r.status === 503 ? undefined : r
    })
    if (reply.status !== 200) {
      lost += 1 + job.progress
      problems.push(`job ${job.id}: ${reply.status}`)
      continue
    }
    const { progress, status } = JSON.parse(reply.text).data.attributes as { progress: number; status: string }
    if (progress !== job.progress || status !== job.status) {
      lost += Math.max(0, job.progress - progress) + (status === job.status ? 0 : 1)
      problems.push(`job ${job.id}: progress ${progress} (acknowledged ${job.progress}), status ${status} (acknowledged ${job.status})`)
    }
  }
  report(scenario, 'writes acknowledged', writers.acknowledged.length)
  report(scenario, 'acknowledged writes lost', lost + (problems.length ? ` (${problems.slice(0, 3).join('; ')})` : ''), lost === 0 && problems.length === 0)
  // An Idempotency-Key sent again answers as the first time did, whatever happened in between.
  const sample = writers.acknowledged.filter((_, i) => i % Math.max(1, Math.floor(writers.acknowledged.length / 200)) === 0)
  let differing = 0
  for (const write of sample) {
    const again = await until('a replay', async () => {
      const r = await call(`${cluster.apiUrl}${write.path}`, { method: write.method, token: write.token, body: write.body, headers: { 'Idempotency-Key': write.key } })
      return r.status === 503 ? undefined : r
    })
    if (again.status !== write.status || again.text !== write.text) differing += 1
  }
  report(scenario, `Idempotency-Keys sent again (${sample.length}) answering differently`, differing, differing === 0)
}

function reportTally(scenario: string, tally: Tally, allowedFailures = 0): void {
  report(scenario, 'answers 2xx / 503 with Retry-After', `${tally.ok} / ${tally.unavailable}`)
  report(scenario, 'unexpected 4xx', tally.refused.length + (tally.refused.length ? ` (${tally.refused[0]})` : ''), tally.refused.length === 0)
  const failures = tally.failures.length
  report(scenario, 'answers other than 2xx, 4xx and 503 (and hangs, drops)', failures + (failures ? ` (${tally.failures[0]!.what})` : ''), failures <= allowedFailures)
}

async function failoverUnderLoad(cluster: Cluster, tokens: string[]): Promise<void> {
  const scenario = '1 failover under load'
  const writers = new Writers(cluster.apiUrl, tokens)
  writers.start()
  const resumed: number[] = []
  const killed: DbHost[] = []
  const leaders: DbHost[] = []
  for (let kill = 1; kill <= KILLS; kill++) {
    const leader = await until('a healthy cluster', () => cluster.healthy())
    leaders.push(leader)
    // Some writes on this primary first, so that every kill happens under load.
    const before = writers.acknowledged.length
    await until('writes on the new primary', () => (writers.acknowledged.length >= before + 40 ? true : undefined))
    const at = Date.now()
    cluster.killPostgres(leader)
    killed.push(leader)
    resumed.push(await until(`writes to resume after kill ${kill}`, () => writers.resumedAfter(at), 120_000))
  }
  leaders.push(await until('a healthy cluster', () => cluster.healthy()))
  await writers.stop()
  report(scenario, 'primaries killed (SIGKILL)', killed.join(', '))
  // Patroni restarts PostgreSQL in place instead when it finds no replica fit to promote.
  const failovers = leaders.slice(1).filter((leader, i) => leader !== leaders[i]).length
  report(scenario, 'kills after which another node was primary', `${failovers} of ${KILLS}`)
  report(scenario, 'seconds from kill to first acknowledged write', resumed.map(seconds).join(', '))
  report(scenario, 'slowest recovery (goal ≤ 20 s)', seconds(Math.max(...resumed)), Math.max(...resumed) <= 20_000)
  reportTally(scenario, writers.tally)
  await verifyLedger(cluster, scenario, writers)
}

async function serverHostDies(cluster: Cluster, tokens: string[]): Promise<void> {
  const scenario = '2 server host dies'
  const writers = new Writers(cluster.apiUrl, tokens)
  writers.start()
  const before = writers.acknowledged.length
  await until('writes through both hosts', () => (writers.acknowledged.length >= before + 40 ? true : undefined))
  const at = Date.now()
  cluster.killApp('app1')
  await until('HAProxy to mark app1 down', async () => ((await cluster.balancerState()).get('app1')?.startsWith('DOWN') ? true : undefined))
  const markedDown = Date.now()
  const afterDown = writers.acknowledged.length
  await until('writes through app2 alone', () => (writers.acknowledged.length >= afterDown + 40 ? true : undefined))
  cluster.startApp('app1')
  await until('app1 to be ready again', () => cluster.ready('app1'))
  await until('HAProxy to send app1 traffic again', async () => ((await cluster.balancerState()).get('app1')?.startsWith('UP') ? true : undefined))
  const rejoined = Date.now()
  const afterRejoin = writers.acknowledged.length
  await until('writes through both hosts again', () => (writers.acknowledged.length >= afterRejoin + 40 ? true : undefined))
  await writers.stop()
  const inFlight = writers.tally.failures.filter((f) => f.at < markedDown).length
  const later = writers.tally.failures.filter((f) => f.at >= markedDown).length
  report(scenario, 'seconds until HAProxy stopped sending to it', seconds(markedDown - at))
  report(scenario, `requests failed that were sent before then (at most one per client, ${WRITERS})`, inFlight, inFlight <= WRITERS)
  report(scenario, 'requests failed after it was marked down', later, later === 0)
  report(scenario, 'seconds from restart to taking traffic again', seconds(rejoined - markedDown))
  reportTally(scenario, writers.tally, inFlight)
  await verifyLedger(cluster, scenario, writers)
}

async function partition(cluster: Cluster, tokens: string[], organizationId: string): Promise<void> {
  const scenario = '3 partitioned primary'
  const writers = new Writers(cluster.apiUrl, tokens)
  writers.start()
  const leader = await until('a healthy cluster', () => cluster.healthy())
  const before = writers.acknowledged.length
  await until('writes on the primary', () => (writers.acknowledged.length >= before + 40 ? true : undefined))
  const at = Date.now()
  cluster.network.cut(leader)
  // A client on the cut-off host itself, writing to the old primary: only HAProxy is cut off from it.
  const marker = `written to the cut-off primary ${at}`
  const psql = cluster.psqlOn(leader, `INSERT INTO job_statuses (organization_id, message) VALUES (${Number(organizationId)}, '${marker}')`)
  const log = cluster.log(leader, 'partitioned-write')
  const writer = cluster.network.start(leader, psql.command[0]!, psql.command.slice(1), { env: psql.env, log })
  const exited = once(writer, 'exit') as Promise<[number | null]>
  const resumed = await until('writes to resume on a new primary', () => writers.resumedAfter(at), 120_000)
  const [exitCode] = await exited
  const acknowledgedThere = exitCode === 0 && /INSERT 0 1/.test(readFileSync(log, 'utf8'))
  cluster.network.heal(leader)
  // Asked until the old primary's own view (stale while it was cut off) has caught up too.
  const newLeader = await until('the old primary to rejoin as a replica', async () => {
    const healthy = await cluster.healthy()
    return healthy !== leader ? healthy : undefined
  })
  await writers.stop()
  const kept = await cluster.query<{ n: string }>('SELECT count(*) AS n FROM job_statuses WHERE message = $1', [marker])
  report(scenario, 'primary cut off → new primary', `${leader} → ${newLeader}`, newLeader !== leader)
  report(scenario, 'seconds from cut to first acknowledged write', seconds(resumed))
  report(scenario, 'writes the cut-off primary acknowledged', acknowledgedThere ? 1 : 0, !acknowledgedThere || Number(kept[0]!.n) === 1)
  report(scenario, 'unacknowledged write kept after it rejoined (pg_rewind discards it)', kept[0]!.n, acknowledgedThere || Number(kept[0]!.n) === 0)
  reportTally(scenario, writers.tally)
  await verifyLedger(cluster, scenario, writers)
}

async function watchersAcrossFailover(cluster: Cluster, token: string): Promise<void> {
  const scenario = '4 watchers across failover'
  // Scripted jobs, moved by the servers' scenario drivers: 20 steps over 20 s.
  const jobs: Job[] = []
  for (let i = 0; i < 4; i++) {
    const created = await call(`${cluster.apiUrl}/jobs/v1/job_statuses`, { method: 'POST', token, body: { data: { type: 'JobStatus', attributes: { scenario: { duration_seconds: 20, total: 20 } } } } })
    jobs.push({ id: JSON.parse(created.text).data.id, token, progress: 20, status: 'completed' })
  }
  const watchers = jobs.flatMap((job) => APP_HOSTS.map((app) => ({ job, app, watcher: new Watcher(`${cluster.appUrl(app)}/jobs/v1/job_statuses/${job.id}/events`, token) })))
  await until('the jobs to be working', () => (watchers.every(({ watcher }) => (watcher.last?.progress ?? 0) >= 3) ? true : undefined))
  const leader = await until('a healthy cluster', () => cluster.healthy())
  cluster.killPostgres(leader)
  let ended = false
  void Promise.all(watchers.map(({ watcher }) => watcher.finished)).then(() => (ended = true))
  await until('every stream to see its job end', () => (ended ? true : undefined))
  let wrong = 0
  let backwards = 0
  for (const { watcher } of watchers) {
    if (watcher.last?.status !== 'completed' || watcher.last.progress !== 20) wrong += 1
    if (watcher.states.some((state, i) => i > 0 && state.progress < watcher.states[i - 1]!.progress)) backwards += 1
  }
  let steps = 0
  for (const job of jobs) {
    const results = JSON.parse((await call(`${cluster.apiUrl}/jobs/v1/job_statuses/${job.id}/results?per_page=100`, { token })).text) as { data: Array<{ attributes: { task_id: string } }> }
    const ids = results.data.map((r) => r.attributes.task_id)
    if (ids.length === 20 && new Set(ids).size === 20) steps += 1
  }
  report(scenario, 'event streams (2 hosts × 4 scripted jobs) / reconnects', `${watchers.length} / ${watchers.reduce((n, { watcher }) => n + watcher.reconnects, 0)}`)
  report(scenario, 'streams that did not end on the job’s final state', wrong, wrong === 0)
  report(scenario, 'streams that ever went backwards', backwards, backwards === 0)
  report(scenario, 'scripted jobs whose 20 steps each ran exactly once', `${steps} of ${jobs.length}`, steps === jobs.length)
}

async function crossHost(cluster: Cluster, tenant: { token: string }, limited: { token: string }): Promise<void> {
  const scenario = '5 cross-host consistency'
  const [a, b] = [cluster.appUrl('app1'), cluster.appUrl('app2')]
  let stale = 0
  // 12 rounds of 5 requests: inside one rate window's 100.
  for (let i = 0; i < 12; i++) {
    // Warm host B's caches, change through A, read through B at once.
    await call(`${b}/calendar/v2/job_statuses?per_page=100`, { token: tenant.token })
    const created = await call(`${a}/jobs/v1/job_statuses`, { method: 'POST', token: tenant.token, body: { data: { type: 'JobStatus', attributes: { message: `made on A ${i}` } } } })
    const id = JSON.parse(created.text).data.id as string
    await call(`${b}/calendar/v2/job_statuses/${id}`, { token: tenant.token })
    const page = JSON.parse((await call(`${b}/calendar/v2/job_statuses?per_page=100&order=-created_at`, { token: tenant.token })).text) as { data: Array<{ id: string }> }
    if (!page.data.some((job) => job.id === id)) stale += 1
    await call(`${a}/jobs/v1/job_statuses/${id}`, { method: 'PATCH', token: tenant.token, body: { data: { attributes: { message: `changed on A ${i}` } } } })
    const read = JSON.parse((await call(`${b}/jobs/v1/job_statuses/${id}`, { token: tenant.token })).text) as { data: { attributes: { message: string } } }
    if (read.data.attributes.message !== `changed on A ${i}`) stale += 1
  }
  report(scenario, 'reads on B right after a write on A that missed it (of 24)', stale, stale === 0)
  const statuses: number[] = []
  for (let i = 0; i < 100; i++) statuses.push((await call(`${i % 2 ? b : a}/calendar/v2/job_statuses`, { token: limited.token })).status)
  const refusedA = (await call(`${a}/calendar/v2/job_statuses`, { token: limited.token })).status
  const refusedB = (await call(`${b}/calendar/v2/job_statuses`, { token: limited.token })).status
  const allowed = statuses.filter((s) => s === 200).length
  report(scenario, '100 requests over both hosts answered 200', allowed, allowed === 100)
  report(scenario, 'the 101st and 102nd, on host A and host B', `${refusedA}, ${refusedB}`, refusedA === 429 && refusedB === 429)
}

async function main(): Promise<number> {
  const problem = networkProblem()
  if (problem) {
    console.error(`test:cluster cannot run here: ${problem}`)
    return 1
  }
  installMissingPackages()
  const started = Date.now()
  const cluster = new Cluster()
  let tornDown = false
  const tearDown = (keepLogs: boolean) => {
    if (tornDown) return
    tornDown = true
    cluster.tearDown({ keepLogs })
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      tearDown(false)
      process.exit(130)
    })
  }
  let db: Knex | undefined
  try {
    await cluster.start()
    report('0 topology', 'seconds to start 3 × (etcd, Patroni, PostgreSQL), HAProxy, 2 servers', seconds(Date.now() - started))
    db = knex({ client: 'pg', connection: cluster.databaseUrl, pool: { min: 0, max: 2 } })
    const people = await tenants(db, WRITERS + 3)
    await db.destroy()
    db = undefined
    const tokens = people.slice(0, WRITERS).map((p) => p.token)
    await failoverUnderLoad(cluster, tokens)
    await serverHostDies(cluster, tokens)
    await partition(cluster, tokens, people[WRITERS]!.organizationId)
    await watchersAcrossFailover(cluster, people[WRITERS]!.token)
    await crossHost(cluster, people[WRITERS + 1]!, people[WRITERS + 2]!)
  } catch (error) {
    report('run', 'stopped early', (error as Error).message, false)
  } finally {
    await db?.destroy()
  }
  const failed = rows.some((row) => !row.ok)
  console.log(`\n| scenario | figure | value |\n| --- | --- | --- |`)
  for (const row of rows) console.log(`| ${row.scenario} | ${row.figure} | ${row.ok ? '' : '**FAILED** '}${row.value} |`)
  console.log(`\n${DB_HOSTS.length} database hosts, HAProxy, ${APP_HOSTS.length} server hosts; whole run ${seconds(Date.now() - started)} s.`)
  if (failed) console.log(`logs kept in ${cluster.root}`)
  tearDown(failed)
  return failed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
