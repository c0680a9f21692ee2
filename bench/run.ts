// npm run bench: seeds 1,000,000 job statuses, loads the server, the no-framework baseline and pgbench,
// and writes one table of the figures into docs/performance.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import type { Knex } from 'knex'
import { createAccessToken, createPerson, findOrCreateCommandLineApplication } from '../src/auth/credentials'
import { CACHE_NAMES, loadConfig, type CacheName } from '../src/config'
import { openDatabase } from '../src/db/database'
import { migrate } from '../src/db/migrate'
import { insertJobStatuses } from '../src/job-statuses/query'
import { createOrganization } from '../src/organizations/query'
import { mixed, polling, prepareTraffic, progressStatement, writesHot, writesRandom, type Request, type Traffic } from './traffic'
import { SUBSCRIPTIONS, UPDATES_PER_SECOND, webhookBench } from './webhooks'
import { Agent, get } from 'node:http'

const DURATION = Number(process.env.BENCH_DURATION ?? 15)
/** The server runs exactly as `npm start` runs it: the node flags and script of package.json's start. */
const START_ARGS = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/).slice(1)
const CONNECTIONS = 32
/** Rounds of the traffic scenarios, reference and server interleaved. */
const ROUNDS = 2
const ORGANIZATIONS = 1_000
const LARGE = 200_000
const SMALL = 800
const PREFIX = 'bench-org-'
/** The ways of walking organization 1 that the walks section compares, and the rounds of them. */
const WALK_WAYS = 5
const WALK_ROUNDS = 4

interface Dataset {
  organizations: string[]
  largeOrganization: string
  largeIds: { min: number; max: number }
  largeTokens: string[]
  smallTokens: string[]
  smallIds: Array<{ organization: string; token: string; min: number; max: number }>
}

async function seed(db: Knex): Promise<Dataset> {
  await migrate(db)
  const existing = await db('organizations').where('name', 'like', `${PREFIX}%`).count({ n: '*' }).first()
  if (Number(existing?.n) !== ORGANIZATIONS) {
    console.log(`seeding ${ORGANIZATIONS} organizations: one of ${LARGE.toLocaleString()} job statuses, the rest ${SMALL} each`)
    const started = Date.now()
    await db('organizations').where('name', 'like', `${PREFIX}%`).delete()
    for (let i = 1; i <= ORGANIZATIONS; i++) {
      const id = await createOrganization(db, { name: `${PREFIX}${String(i).padStart(4, '0')}` })
      await insertJobStatuses(db, id, i === 1 ? LARGE : SMALL)
    }
    await db.raw('VACUUM ANALYZE job_statuses')
    console.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } else {
    console.log('reusing the seeded data')
  }
  const organizations = await db('organizations').where('name', 'like', `${PREFIX}%`).orderBy('name').pluck('id')
  const application = await findOrCreateCommandLineApplication(db)
  const tokenFor = async (organizationId: string) => {
    const person = await createPerson(db, String(organizationId), { name: 'Bench' })
    return createAccessToken(db, { personId: person, applicationId: application, scopes: ['calendar'], expiresAt: null })
  }
  const idRange = async (organizationId: string) => {
    const row = await db('job_statuses').where({ organization_id: organizationId }).min({ min: 'id' }).max({ max: 'id' }).first()
    return { min: Number(row?.min), max: Number(row?.max) }
  }
  const largeOrganization = String(organizations[0])
  const smallOrganizations = organizations.slice(1).sort(() => Math.random() - 0.5).slice(0, 20).map(String)
  const smallIds = []
  for (const organization of smallOrganizations) smallIds.push({ organization, token: await tokenFor(organization), ...(await idRange(organization)) })
  return {
    organizations: organizations.map(String),
    largeOrganization,
    largeIds: await idRange(largeOrganization),
    // One person per way of walking (see walkFigures), so that no walk follows another by the same person.
    largeTokens: await Promise.all(Array.from({ length: WALK_WAYS }, () => tokenFor(largeOrganization))),
    smallTokens: smallIds.map((s) => s.token),
    smallIds,
  }
}

function start(command: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let output = ''
    // The server says where it listens on stderr; the baseline on stdout.
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const match = ready.exec(output)
      if (!match) return
      // From here stdout is read and dropped (logs would pile up here) and stderr shown as it comes.
      child.stdout!.off('data', read).resume()
      child.stderr!.off('data', read).pipe(process.stderr)
      resolve({ child, url: match[1]! })
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)))
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

/**
 * Vacuums the tables the scenarios update, so that every side starts from the same state: a
 * PostgreSQL with autovacuum off (as on the bench machine) otherwise leaves each side the dead rows
 * of every write before it, and the hot rows of job_status_counts and rate_limits grow long chains.
 */
async function vacuumed(db: Knex): Promise<void> {
  await db.raw('VACUUM (ANALYZE) job_statuses, job_status_counts, rate_limits, webhook_events, webhook_deliveries')
}

/** Peak resident set (VmHWM) of a process and of its children, in MB. */
function peakRss(pid: number): number {
  const pids = [pid]
  try {
    pids.push(...execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number))
  } catch {
    // no children
  }
  return Math.max(...pids.map((p) => {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]
      return kb ? Number(kb) / 1024 : 0
    } catch {
      return 0
    }
  }))
}

interface Load {
  rps: number
  p50: number
  p99: number
  errors: number
}

type Pick = () => Request

async function load(baseUrl: string, pick: Pick, duration = DURATION): Promise<Load> {
  const result = await autocannon({
    url: baseUrl,
    connections: CONNECTIONS,
    duration,
    requests: [{
      setupRequest: (request) => {
        const { method = 'GET', path, token, headers, body } = pick()
        const content = body === undefined ? {} : { 'content-type': 'application/vnd.api+json' }
        return { ...request, method: method as 'GET', path, body, headers: { ...request.headers, ...headers, ...content, authorization: `Bearer ${token}` } }
      },
    }],
  })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    // A 304 is the answer a poll with If-None-Match wants.
    errors: result.errors + result.timeouts + result['4xx'] + result['5xx'],
  }
}

const any = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1))

function scenarios(data: Dataset): Array<{ name: string; pick: Pick; sql?: string }> {
  const large = data.largeTokens[0]!
  return [
    { name: 'list, small organization, per_page=25', pick: () => ({ path: '/calendar/v2/job_statuses', token: any(data.smallTokens) }) },
    { name: 'list, small organization, per_page=100', pick: () => ({ path: '/calendar/v2/job_statuses?per_page=100', token: any(data.smallTokens) }) },
    { name: 'list, organization 1, offset 0', pick: () => ({ path: '/calendar/v2/job_statuses', token: large }) },
    { name: 'list, organization 1, offset 10,000', pick: () => ({ path: '/calendar/v2/job_statuses?offset=10000', token: large }) },
    { name: 'list, organization 1, offset 190,000', pick: () => ({ path: '/calendar/v2/job_statuses?offset=190000', token: large }) },
    {
      name: 'read by id',
      pick: () => {
        const small = any(data.smallIds)
        return { path: `/calendar/v2/job_statuses/${between(small.min, small.max)}`, token: small.token }
      },
    },
    // The cost of compression: the same pages as per_page=100, asked for gzipped (the baseline sends them plain).
    {
      name: 'list, small organization, per_page=100, gzip',
      pick: () => ({ path: '/calendar/v2/job_statuses?per_page=100', token: any(data.smallTokens), headers: { 'accept-encoding': 'gzip' } }),
    },
  ]
}

/** The server's page statement (src/job-statuses/query.ts) for one organization, starting at `fromId`. */
function pageStatement(organization: string, fromId: string, limit: number): string {
  return `SELECT c.total, c.version, j.* FROM job_status_counts AS c
  LEFT JOIN LATERAL (SELECT * FROM job_statuses WHERE id IN (SELECT id FROM job_statuses
    WHERE organization_id = c.organization_id AND id >= ${fromId} ORDER BY id OFFSET 0 LIMIT ${limit})) AS j ON true
  WHERE c.organization_id = ${organization} ORDER BY j.id;`
}

/** pgbench running the statements the server runs for each scenario, prepared as the server prepares them: the ceiling the database allows here. */
async function pgbench(databaseUrl: string, data: Dataset, db: Knex): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pco-pgbench-'))
  // The offsets measured are multiples of the position step, so the server starts exactly at the cached id.
  const idAt = async (offset: number) =>
    String(await db('job_statuses').where({ organization_id: data.largeOrganization }).orderBy('id').offset(offset).first('id').then((r) => r.id))
  const small = data.smallIds[0]!
  const scripts = [
    pageStatement(small.organization, '0', 25),
    pageStatement(small.organization, '0', 100),
    pageStatement(data.largeOrganization, '0', 25),
    pageStatement(data.largeOrganization, await idAt(10_000), 25),
    pageStatement(data.largeOrganization, await idAt(190_000), 25),
    `\\set id random(${small.min}, ${small.max})\nSELECT * FROM job_statuses WHERE organization_id = ${small.organization} AND id = :id;`,
    pageStatement(small.organization, '0', 100),
  ]
  return scripts.map((script, i) => {
    const file = join(dir, `${i}.sql`)
    writeFileSync(file, script)
    const output = execFileSync('pgbench', ['-n', '-M', 'prepared', '-c', String(CONNECTIONS), '-j', '2', '-T', String(DURATION), '-f', file, databaseUrl]).toString()
    return Number(/tps = ([\d.]+)/.exec(output)?.[1] ?? 0)
  })
}

async function walk(baseUrl: string, token: string): Promise<{ seconds: number; rows: number }> {
  const started = performance.now()
  let next: string | undefined = `${baseUrl}/calendar/v2/job_statuses?per_page=100`
  let rows = 0
  while (next) {
    const reply = await fetch(next, { headers: { Authorization: `Bearer ${token}` } })
    const body = (await reply.json()) as { data: unknown[]; links: { next?: string } }
    rows += body.data.length
    next = body.links.next
  }
  return { seconds: (performance.now() - started) / 1000, rows }
}

function fmt(n: number, digits = 0) {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL
  if (!databaseUrl) {
    console.error('npm run bench needs DATABASE_URL: a PostgreSQL server to seed and load (the embedded database is not what production runs)')
    process.exit(2)
  }
  const config = loadConfig({ DATABASE_URL: databaseUrl })
  const db = openDatabase(config)
  const data = await seed(db)

  console.log('building the server')
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' })
  const serverEnv = {
    DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'warn', DEMO: 'false', NODE_ENV: 'production',
    // The load is one person per organization far past PCO's 100 per 20 s: count, but never refuse.
    RATE_LIMIT: '1000000000', RATE_LIMIT_DEEP_OFFSET: '1000000000',
  }
  // BENCH_ONLY=reads, traffic, walks, caches or webhooks measures that section alone, leaving the others' figures as they are.
  const only = process.env.BENCH_ONLY
  if (only === undefined || only === 'reads') {
    const table = await readsAndPages(databaseUrl, db, data, serverEnv)
    console.log(`\n${table}\n`)
    writeSection('bench', table)
  }
  if (only === undefined || only === 'traffic') {
    const table = await trafficFigures(databaseUrl, db, data, serverEnv)
    console.log(`\n${table}\n`)
    writeSection('bench:traffic', table)
  }
  if (only === undefined || only === 'walks') {
    const table = await walkFigures(db, data, serverEnv)
    console.log(`\n${table}\n`)
    writeSection('bench:walks', table)
  }
  if (only === undefined || only === 'caches') {
    const table = await cacheFigures(db, data, serverEnv)
    console.log(`\n${table}\n`)
    writeSection('bench:caches', table)
  }
  if (only === undefined || only === 'webhooks') {
    const deliveries = await webhookDeliveries(db, data, serverEnv)
    console.log(`\n${deliveries}\n`)
    writeSection('bench:webhooks', deliveries)
  }
  await db.destroy()
}

/** Replaces what lies between `<!-- NAME:start -->` and `<!-- NAME:end -->` in docs/performance.md. */
function writeSection(name: string, table: string): void {
  const docs = 'docs/performance.md'
  const text = readFileSync(docs, 'utf8')
  const begin = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  if (!text.includes(begin) || !text.includes(end)) throw new Error(`${docs} has no ${begin} … ${end}`)
  writeFileSync(docs, `${text.slice(0, text.indexOf(begin) + begin.length)}\n${table}\n${text.slice(text.indexOf(end))}`)
  console.log(`written to ${docs}`)
}

/** A process's CPU time so far (user and system), in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    // A session that ended meanwhile.
    return 0
  }
}

const machine = () => {
  const postgres = execFileSync('psql', [process.env.DATABASE_URL!, '-tAc', 'SHOW server_version']).toString().trim().split(' ')[0]
  return `${cpus().length} × ${cpus()[0]?.model.trim()}, ${fmt(totalmem() / 2 ** 30)} GiB; Node ${process.version}; PostgreSQL ${postgres}`
}

/**
 * 10 subscriptions to one organization's updates, 100 updates a second through /jobs/v1, and a receiver
 * in this process: the time from sending each update to each receiver's 200, and the Calendar API's
 * list and read measured with the same updates, first with the subscriptions off, then on.
 */
async function webhookDeliveries(db: Knex, data: Dataset, serverEnv: Record<string, string>): Promise<string> {
  const server = await start(process.execPath, START_ARGS, {
    ...serverEnv, WORKERS: '1', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_SECRET_KEY: 'ab'.repeat(32),
  }, /listening on (\S+)/)
  const target = data.smallIds[0]!
  const bench = await webhookBench(db, server.url, target)
  const others = data.smallIds.slice(1)
  const picks: Array<[string, Pick]> = [
    ['list, small organization, per_page=25', () => ({ path: '/calendar/v2/job_statuses', token: any(data.smallTokens) })],
    ['read by id', () => {
      const small = any(others)
      return { path: `/calendar/v2/job_statuses/${between(small.min, small.max)}`, token: small.token }
    }],
  ]
  for (const [, pick] of picks) await load(server.url, pick, 2)
  const measure = async () => {
    const updating = bench.updating()
    const figures: Record<string, Load> = {}
    for (const [name, pick] of picks) {
      console.log(`webhooks: ${name}`)
      figures[name] = await load(server.url, pick)
    }
    return { figures, updates: await updating.stop() }
  }
  const updatesFor = async (seconds: number) => {
    const updating = bench.updating()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    return updating.stop()
  }
  // CPU seconds of the server, the receiver and PostgreSQL's sessions on this database, over `work`.
  const processes = { server: server.child.pid!, receiver: bench.receiverPid }
  const cpuOver = async <T>(work: () => Promise<T>) => {
    const sessions = async () => (await db.raw('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((row: { pid: number }) => row.pid) as number[]
    const before = new Map([...Object.values(processes), ...(await sessions())].map((pid) => [pid, cpuSeconds(pid)]))
    const result = await work()
    const since = (pid: number) => cpuSeconds(pid) - (before.get(pid) ?? 0)
    const postgres = (await sessions()).reduce((sum, pid) => sum + since(pid), 0)
    return { result, cpu: { server: since(processes.server), receiver: since(processes.receiver), postgres } }
  }
  console.log('webhooks: updates with the subscriptions off')
  const without = await measure()
  console.log('webhooks: updates with the subscriptions off, nothing else')
  const quiet = await cpuOver(() => updatesFor(DURATION))
  await bench.subscribe(true)
  // Deliveries get the warm-up every scenario gets: the first seconds include the JIT and new connections.
  console.log('webhooks: warming up deliveries')
  await bench.figures(await updatesFor(5))
  console.log(`webhooks: updates with ${SUBSCRIPTIONS} subscriptions on, nothing else`)
  // Until the last delivery is in: its work counts.
  const { result: alone, cpu: delivering } = await cpuOver(async () => bench.figures(await updatesFor(DURATION)))
  console.log(`webhooks: updates with ${SUBSCRIPTIONS} subscriptions on, beside the reads`)
  const withDeliveries = await measure()
  const beside = await bench.figures(withDeliveries.updates)
  await bench.close()
  await stop(server.child)
  const rows = picks.map(([name]) => {
    const off = without.figures[name]!
    const on = withDeliveries.figures[name]!
    return `| ${name} | ${fmt(off.rps)} | ${fmt(off.p99)} | ${fmt(on.rps)} | ${fmt(on.p99)} | ${fmt((on.rps / off.rps - 1) * 100, 1)} % | ${off.errors + on.errors} |`
  })
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; server, database, receiver and load generator on the same machine.`,
    `${SUBSCRIPTIONS} subscriptions to one organization's updates; ${UPDATES_PER_SECOND} updates a second (PATCH of \`message\` on a random job) throughout each measurement; ${CONNECTIONS} connections of reads for ${DURATION} s per scenario. Deliveries had 5 s of warm-up, as every scenario has.`,
    '',
    '| deliveries, from sending the update to the receiver\'s 200 | updates | expected | received | missing | p50 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...([['the updates alone', alone], [`beside ${CONNECTIONS} connections of reads (below)`, beside]] as const).map(([name, d]) =>
      `| ${name} | ${fmt(d.updates)} | ${fmt(d.expected)} | ${fmt(d.delivered)} | ${fmt(d.lost)} | ${fmt(d.p50)} | ${fmt(d.p99)} | ${fmt(d.max)} |`),
    '',
    '| scenario, beside the updates | rps, subscriptions off | p99 ms | rps, deliveries running | p99 ms | change | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `CPU seconds over the updates alone (${fmt(quiet.result)} updates with the subscriptions off; ${fmt(alone.updates)} with them on, until the last of their ${fmt(alone.delivered)} deliveries was in), and the difference per delivery:`,
    '',
    '| process | subscriptions off | subscriptions on | per delivery |',
    '| --- | ---: | ---: | ---: |',
    ...(['server', 'receiver', 'postgres'] as const).map((name) => {
      const off = quiet.cpu[name] * (alone.updates / quiet.result)
      return `| ${name === 'postgres' ? 'PostgreSQL (this database\'s sessions)' : name} | ${fmt(quiet.cpu[name], 2)} s | ${fmt(delivering[name], 2)} s | ${fmt(((delivering[name] - off) / alone.delivered) * 1000, 2)} ms |`
    }),
  ].join('\n')
}

/** The list and read scenarios against the baseline, the server with 1 and 2 workers, and pgbench. */
/** Interleaved rounds' figures as one: rates and latencies averaged, errors added up. */
function meanLoad(all: Load[]): Load {
  const average = (key: keyof Load) => all.reduce((sum, figure) => sum + figure[key], 0) / all.length
  return { rps: average('rps'), p50: average('p50'), p99: average('p99'), errors: all.reduce((sum, figure) => sum + figure.errors, 0) }
}

async function readsAndPages(databaseUrl: string, db: Knex, data: Dataset, serverEnv: Record<string, string>): Promise<string> {
  const list = scenarios(data)
  const results: Record<string, Record<string, Load>> = {}
  const rss: Record<string, number> = {}
  const walks: Record<string, { seconds: number; rows: number }> = {}

  // A few seconds of every scenario first, so no figure includes the JIT's warm-up.
  const measure = async (url: string, label: string) => {
    for (const scenario of list) await load(url, scenario.pick, 2)
    const figures: Record<string, Load> = {}
    for (const scenario of list) {
      console.log(`${label}: ${scenario.name}`)
      figures[scenario.name] = await load(url, scenario.pick)
    }
    return figures
  }
  const serverWith = async (workers: number) => {
    await vacuumed(db)
    return start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: String(workers) }, /listening on (\S+)/)
  }
  // The baseline and one process in interleaved rounds, so that a change in the machine's other load
  // between them weighs on both sides alike; each figure is the mean of the rounds.
  const rounds: Array<{ baseline: Record<string, Load>; one: Record<string, Load> }> = []
  for (let round = 1; round <= ROUNDS; round++) {
    await vacuumed(db)
    const baseline = await start(process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], { DATABASE_URL: databaseUrl }, /baseline listening on (\S+)/)
    const theirs = await measure(baseline.url, `round ${round}, baseline`)
    await stop(baseline.child)
    const server = await serverWith(1)
    const ours = await measure(server.url, `round ${round}, server, WORKERS=1`)
    if (round === ROUNDS) {
      console.log('server, WORKERS=1: walking organization 1 by links.next at per_page=100')
      walks['server, WORKERS=1'] = await walk(server.url, data.largeTokens[0]!)
      rss['server, WORKERS=1'] = peakRss(server.child.pid!)
    }
    await stop(server.child)
    rounds.push({ baseline: theirs, one: ours })
  }
  const mean = (side: 'baseline' | 'one', name: string) => meanLoad(rounds.map((round) => round[side][name]!))
  for (const scenario of list) {
    console.log(`${scenario.name}: server/baseline by round ${rounds.map((round) => fmt(round.one[scenario.name]!.rps / round.baseline[scenario.name]!.rps, 2)).join(', ')}`)
  }
  results.baseline = Object.fromEntries(list.map((scenario) => [scenario.name, mean('baseline', scenario.name)]))
  results['server, WORKERS=1'] = Object.fromEntries(list.map((scenario) => [scenario.name, mean('one', scenario.name)]))

  const pair = await serverWith(2)
  results['server, WORKERS=2'] = await measure(pair.url, 'server, WORKERS=2')
  console.log('server, WORKERS=2: walking organization 1 by links.next at per_page=100')
  walks['server, WORKERS=2'] = await walk(pair.url, data.largeTokens[0]!)
  rss['server, WORKERS=2'] = peakRss(pair.child.pid!)
  await stop(pair.child)

  console.log('pgbench: the same statements')
  const ceiling = await pgbench(databaseUrl, data, db)

  const one = results['server, WORKERS=1']!
  const two = results['server, WORKERS=2']!
  const smallRps = one[list[0]!.name]!.rps
  const rows = list.map((scenario, i) => {
    const ours = one[scenario.name]!
    const base = results.baseline![scenario.name]!
    const pair = two[scenario.name]!
    return `| ${scenario.name} | ${fmt(ours.rps)} | ${fmt(ours.p50)} / ${fmt(ours.p99)} | ${fmt(pair.rps)} | ${fmt(base.rps)} | ${fmt(ours.rps / base.rps, 2)}× | ${fmt(ceiling[i]!)} | ${fmt(ours.rps / ceiling[i]!, 2)}× | ${i >= 2 && i <= 4 ? `${fmt(ours.rps / smallRps, 2)}×` : ''} | ${ours.errors + pair.errors} |`
  })
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; server, database and load generator on the same machine.`,
    `${CONNECTIONS} connections, ${DURATION} s per scenario (autocannon); baseline and WORKERS=1 the mean of ${ROUNDS} interleaved rounds, WORKERS=2 one run after them; ${ORGANIZATIONS.toLocaleString()} organizations, organization 1 with ${LARGE.toLocaleString()} job statuses, the others ${SMALL} each.`,
    '',
    '| scenario | rps (WORKERS=1) | p50 / p99 ms | rps (WORKERS=2) | baseline rps | vs baseline | SQL ceiling tps | vs ceiling | vs small org | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Full walk of organization 1 by \`links.next\` at per_page=100: ${fmt(walks['server, WORKERS=1']!.seconds, 1)} s for ${fmt(walks['server, WORKERS=1']!.rows)} rows (WORKERS=2: ${fmt(walks['server, WORKERS=2']!.seconds, 1)} s).`,
    `Peak RSS: ${fmt(rss['server, WORKERS=1']!)} MB for the one process (WORKERS=2: ${fmt(rss['server, WORKERS=2']!)} MB, the largest process).`,
  ].join('\n')
}

/**
 * A walk of organization 1 at per_page=100 by links.next: over one keep-alive connection to each of
 * `servers`, the pages taken from each in turn, or over a new connection per page.
 */
async function walkOver(servers: string[], token: string, fresh: boolean): Promise<{ seconds: number; rows: number }> {
  const agents = servers.map(() => (fresh ? undefined : new Agent({ keepAlive: true, maxSockets: 1 })))
  const fetchPage = (url: string, agent: Agent | undefined) =>
    new Promise<{ data: unknown[]; links: { next?: string } }>((resolve, reject) => {
      get(url, { agent: agent ?? false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
        res.on('error', reject)
      }).on('error', reject)
    })
  const started = performance.now()
  let next: string | undefined = `${servers[0]}/calendar/v2/job_statuses?per_page=100`
  let rows = 0
  for (let page = 0; next; page++) {
    // Each server's links name itself: the next page is asked of the next server in turn.
    const at = page % servers.length
    const body = await fetchPage(`${servers[at]}${new URL(next).pathname}${new URL(next).search}`, agents[at])
    rows += body.data.length
    next = body.links.next
  }
  for (const agent of agents) agent?.destroy()
  return { seconds: (performance.now() - started) / 1000, rows }
}

/**
 * A job-status service's traffic: mixed reads and writes, writes alone, and polling, each against the
 * reference and the server (WORKERS=1), with pgbench's ceiling for the write statement.
 */
async function trafficFigures(databaseUrl: string, db: Knex, data: Dataset, serverEnv: Record<string, string>): Promise<string> {
  const traffic: Traffic = await prepareTraffic(db, data.organizations, data.largeOrganization)
  const poller = traffic.callers[1]!
  const job = `/calendar/v2/job_statuses/${poller.min}`
  const page = '/calendar/v2/job_statuses'
  const etagOf = async (url: string, path: string) =>
    (await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${poller.token}` } })).headers.get('etag') ?? undefined
  const scenarios = async (url: string): Promise<Array<[string, Pick]>> => [
    ['mixed: 40% reads, 40% pages, 10% progress, 10% PATCH', mixed(traffic)],
    ['writes: progress on random jobs', writesRandom(traffic)],
    ['writes: progress on 32 hot jobs', writesHot(traffic)],
    ['polling one job', polling(poller, job)],
    ['polling one job, If-None-Match', polling(poller, job, await etagOf(url, job))],
    ['polling a first page', polling(poller, page)],
    ['polling a first page, If-None-Match', polling(poller, page, await etagOf(url, page))],
  ]
  const measure = async (url: string, label: string) => {
    const list = await scenarios(url)
    for (const [, pick] of list) await load(url, pick, 2)
    const figures: Record<string, Load> = {}
    for (const [name, pick] of await scenarios(url)) {
      console.log(`${label}: ${name}`)
      figures[name] = await load(url, pick)
    }
    return { names: list.map(([name]) => name), figures }
  }
  // Rounds interleaved, reference then server, so that a change in the machine's other load between
  // them weighs on both sides alike; each figure is the mean of the rounds.
  const rounds: Array<{ theirs: Awaited<ReturnType<typeof measure>>; ours: Awaited<ReturnType<typeof measure>> }> = []
  for (let round = 1; round <= ROUNDS; round++) {
    await vacuumed(db)
    const reference = await start(process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], { DATABASE_URL: databaseUrl }, /baseline listening on (\S+)/)
    const theirs = await measure(reference.url, `round ${round}, reference`)
    await stop(reference.child)
    await vacuumed(db)
    const server = await start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: '1' }, /listening on (\S+)/)
    const ours = await measure(server.url, `round ${round}, server`)
    await stop(server.child)
    rounds.push({ theirs, ours })
  }
  const mean = (side: 'theirs' | 'ours', name: string) => meanLoad(rounds.map((round) => round[side].figures[name]!))
  const names = rounds[0]!.ours.names
  for (const name of names) console.log(`${name}: server/reference by round ${rounds.map((round) => fmt(round.ours.figures[name]!.rps / round.theirs.figures[name]!.rps, 2)).join(', ')}`)

  console.log('pgbench: the progress report statement')
  const dir = mkdtempSync(join(tmpdir(), 'pco-pgbench-'))
  const ceilingOf = (script: string) => {
    const file = join(dir, 'write.sql')
    writeFileSync(file, script)
    const output = execFileSync('pgbench', ['-n', '-M', 'prepared', '-c', String(CONNECTIONS), '-j', '2', '-T', String(DURATION), '-f', file, databaseUrl]).toString()
    return Number(/tps = ([\d.]+)/.exec(output)?.[1] ?? 0)
  }
  const ceilings: Record<string, number> = {
    [names[1]!]: ceilingOf(progressStatement(traffic.workingIds)),
    [names[2]!]: ceilingOf(progressStatement(traffic.hot.ids)),
  }
  const rows = names.map((name) => {
    const a = mean('ours', name)
    const b = mean('theirs', name)
    const ceiling = ceilings[name]
    return `| ${name} | ${fmt(a.rps)} | ${fmt(a.p50)} / ${fmt(a.p99)} | ${fmt(b.rps)} | ${fmt(b.p50)} / ${fmt(b.p99)} | ${fmt(a.rps / b.rps, 2)}× | ${ceiling ? fmt(ceiling) : ''} | ${a.errors + b.errors} |`
  })
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; server, reference, database and load generator on the same machine.`,
    `${CONNECTIONS} connections, ${DURATION} s per scenario (autocannon), mean of ${ROUNDS} interleaved rounds, each request with the bearer token of its own organization; every job of the 999 small organizations is \`working\`. The reference (\`bench/baseline-server.ts\`) makes the same writes as plain \`UPDATE … RETURNING *\`. The server runs as shipped: webhooks outbox triggers, compression when asked.`,
    '',
    '| scenario | server rps (WORKERS=1) | p50 / p99 ms | reference rps | p50 / p99 ms | vs reference | pgbench ceiling tps | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n')
}

/**
 * Walks of organization 1 by links.next: one process and WORKERS=2 over one keep-alive connection,
 * two servers in turn, and a new connection per page to one process and to WORKERS=2.
 */
async function walkFigures(db: Knex, data: Dataset, serverEnv: Record<string, string>): Promise<string> {
  // Each way walks as its own person, and the order reverses every round (ABBA), so that no way
  // always follows the same other: a walk that follows another by the same person on another server
  // measured up to 9% slower (docs/performance.md).
  await vacuumed(db)
  const single = await start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: '1' }, /listening on (\S+)/)
  const other = await start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: '1' }, /listening on (\S+)/)
  const pair = await start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: '2' }, /listening on (\S+)/)
  const [a, b, c, d, e] = data.largeTokens as [string, string, string, string, string]
  const ways: Array<[string, () => Promise<{ seconds: number; rows: number }>]> = [
    ['1, one connection', () => walkOver([single.url], a, false)],
    ['2, one connection', () => walkOver([pair.url], b, false)],
    ['two servers in turn', () => walkOver([single.url, other.url], c, false)],
    ['1, a connection per page', () => walkOver([single.url], d, true)],
    ['2, a connection per page', () => walkOver([pair.url], e, true)],
  ]
  // Warm: every way once, and the pair over one connection once more (each new connection goes to the next of its processes).
  for (const [, walk] of ways) await walk()
  await ways[1]![1]()
  const timed: Record<string, number[]> = {}
  let rows = 0
  for (let round = 0; round < WALK_ROUNDS; round++) {
    for (const [way, walk] of round % 2 === 0 ? ways : [...ways].reverse()) {
      const walked = await walk()
      rows = walked.rows
      ;(timed[way] ??= []).push(walked.seconds)
    }
  }
  await stop(single.child)
  await stop(other.child)
  await stop(pair.child)
  console.log(`walks (s): ${Object.entries(timed).map(([way, all]) => `${way}: ${all.map((seconds) => fmt(seconds, 2)).join(', ')}`).join('; ')}`)
  const median = (all: number[]) => {
    const sorted = [...all].sort((x, y) => x - y)
    return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2
  }
  const w = (way: string) => `${fmt(median(timed[way]!), 2)} s`
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; server, database and client on the same machine.`,
    `Walk of organization 1 (${fmt(rows)} rows, per_page=100) by \`links.next\`, the median of ${WALK_ROUNDS} walks each, the ways taken in turn, forwards then backwards, each way as its own person:`,
    '',
    '| way | seconds |',
    '| --- | ---: |',
    `| one process (WORKERS=1), one keep-alive connection | ${w('1, one connection')} |`,
    `| WORKERS=2, one keep-alive connection | ${w('2, one connection')} |`,
    `| two servers (WORKERS=1 each, one database), pages in turn over a keep-alive connection to each | ${w('two servers in turn')} |`,
    `| one process, a new connection per page | ${w('1, a connection per page')} |`,
    `| WORKERS=2, a new connection per page (pages alternate between the processes) | ${w('2, a connection per page')} |`,
  ].join('\n')
}

/**
 * Each in-process cache's worth: the scenarios it could speed up, measured with every cache on and
 * with that one off (CACHES_OFF), in the same run. `known_tokens` off: every request's credential is
 * looked up before the statement that re-checks and counts it.
 */
async function cacheFigures(db: Knex, data: Dataset, serverEnv: Record<string, string>): Promise<string> {
  const traffic = await prepareTraffic(db, data.organizations, data.largeOrganization)
  const reads = Object.fromEntries(scenarios(data).map((scenario) => [scenario.name, scenario.pick]))
  const poller = traffic.callers[1]!
  const picks: Record<string, Pick> = {
    ...reads,
    'mixed: 40% reads, 40% pages, 10% progress, 10% PATCH': mixed(traffic),
    'polling one job': polling(poller, `/calendar/v2/job_statuses/${poller.min}`),
    'polling a first page': polling(poller, '/calendar/v2/job_statuses'),
  }
  const affected: Record<CacheName, string[]> = {
    known_tokens: ['list, small organization, per_page=25', 'read by id', 'mixed: 40% reads, 40% pages, 10% progress, 10% PATCH'],
    pages: ['list, small organization, per_page=25', 'polling a first page', 'mixed: 40% reads, 40% pages, 10% progress, 10% PATCH'],
    pages_ahead: [],
    compressed_pages: ['list, small organization, per_page=100, gzip'],
    positions: ['list, organization 1, offset 190,000', 'mixed: 40% reads, 40% pages, 10% progress, 10% PATCH'],
  }
  const run = async (cachesOff: string, names: string[]) => {
    await vacuumed(db)
    const server = await start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: '1', CACHES_OFF: cachesOff }, /listening on (\S+)/)
    for (const name of names) await load(server.url, picks[name]!, 2)
    const figures: Record<string, Load> = {}
    for (const name of names) {
      console.log(`caches off: ${cachesOff || 'none'}: ${name}`)
      figures[name] = await load(server.url, picks[name]!)
    }
    await walkOver([server.url], data.largeTokens[0]!, false)
    const walked = await walkOver([server.url], data.largeTokens[0]!, false)
    await stop(server.child)
    return { figures, walk: walked.seconds }
  }
  /** A walk whose pages alternate between two processes: the walk pages built ahead serve besides one over one connection. */
  const alternatingWalk = async (cachesOff: string) => {
    const server = await start(process.execPath, START_ARGS, { ...serverEnv, WORKERS: '2', CACHES_OFF: cachesOff }, /listening on (\S+)/)
    await walkOver([server.url], data.largeTokens[0]!, true)
    const walked = await walkOver([server.url], data.largeTokens[0]!, true)
    await stop(server.child)
    return walked.seconds
  }
  // Each cache's "off" figures right after "all on" ones for the same scenarios: measured side by
  // side, so that the machine's drift over the run weighs on neither.
  const alternating = { on: await alternatingWalk(''), off: await alternatingWalk('pages_ahead') }
  const rows: string[] = []
  for (const cache of CACHE_NAMES) {
    const on = await run('', affected[cache])
    const off = await run(cache, affected[cache])
    for (const name of affected[cache]) {
      const a = on.figures[name]!
      const b = off.figures[name]!
      rows.push(`| ${cache} | ${name} | ${fmt(a.rps)} | ${fmt(a.p99)} | ${fmt(b.rps)} | ${fmt(b.p99)} | ${fmt((a.rps / b.rps - 1) * 100, 0)} % |`)
    }
    rows.push(`| ${cache} | walk of organization 1, one connection (seconds) | ${fmt(on.walk, 2)} s | | ${fmt(off.walk, 2)} s | | ${fmt((off.walk / on.walk - 1) * 100, 0)} % |`)
    if (cache === 'pages_ahead') {
      rows.push(`| ${cache} | walk of organization 1 alternating between 2 processes (seconds) | ${fmt(alternating.on, 2)} s | | ${fmt(alternating.off, 2)} s | | ${fmt((alternating.off / alternating.on - 1) * 100, 0)} % |`)
    }
  }
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; ${CONNECTIONS} connections, ${DURATION} s per scenario, one server process (WORKERS=1) with all caches on, then one with \`CACHES_OFF=<cache>\`, measured one after the other for each cache.`,
    '',
    '| cache | scenario | rps, all caches | p99 ms | rps, this cache off | p99 ms | gain |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
