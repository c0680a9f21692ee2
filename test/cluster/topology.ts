// The whole deployment on one machine: three database hosts (etcd + Patroni + PostgreSQL 15), a
// load-balancer host (HAProxy) and two server hosts, each in its own network namespace, configured
// from the files in db/cluster/ exactly as docs/operations.md describes.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { Network } from './hosts'

export const REPO = resolve(__dirname, '..', '..')
const CONFIG = join(REPO, 'db', 'cluster')

export const DB_HOSTS = ['db1', 'db2', 'db3'] as const
export const APP_HOSTS = ['app1', 'app2'] as const
export type DbHost = (typeof DB_HOSTS)[number]
export type AppHost = (typeof APP_HOSTS)[number]
const OCTETS: Record<string, number> = { db1: 11, db2: 12, db3: 13, lb: 20, app1: 31, app2: 32 }

export interface Member {
  name: DbHost
  role: string
  state: string
  lag?: number | string
  timeline?: number
}

/** Polls `probe` every 200 ms until it returns something. `limitMs` only stops a run that is stuck. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, limitMs = 180_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() - started > limitMs) throw new Error(`still waiting, after ${Math.round(limitMs / 1000)} s, for ${what}`)
    await new Promise((done) => setTimeout(done, 200))
  }
}

/** KEY=value lines of an env file, comments and blank lines skipped. */
function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (match) env[match[1]!] = match[2]!
  }
  return env
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim())
}

export class Cluster {
  readonly network = new Network()
  readonly root = mkdtempSync('/tmp/pco-cluster-')
  private readonly passwords = { superuser: hex(12), replication: hex(12), rewind: hex(12) }
  private readonly webhookKey = hex(32)

  address(host: string): string {
    return this.network.host(host).address
  }

  /** DATABASE_URL of every server host: HAProxy's primary port. */
  get databaseUrl(): string {
    return `postgres://postgres:${this.passwords.superuser}@${this.address('lb')}:5000/pco`
  }

  get apiUrl(): string {
    return `http://${this.address('lb')}:8080`
  }

  appUrl(host: AppHost): string {
    return `http://${this.address(host)}:3000`
  }

  log(host: string, what: string): string {
    return join(this.root, `${host}-${what}.log`)
  }

  async start(): Promise<void> {
    chmodSync(this.root, 0o755)
    for (const [name, octet] of Object.entries(OCTETS)) this.network.addHost(name, octet)
    const etcdShared = readEnvFile(join(CONFIG, 'etcd.env'))
    const initialCluster = DB_HOSTS.map((db) => `${db}=http://${this.address(db)}:2380`).join(',')
    for (const db of DB_HOSTS) {
      const address = this.address(db)
      mkdirSync(join(this.root, db), { mode: 0o755 })
      mkdirSync(join(this.root, db, 'etcd'), { mode: 0o700 })
      this.network.start(db, 'etcd', [], {
        log: this.log(db, 'etcd'),
        env: {
          ...etcdShared,
          ETCD_NAME: db,
          ETCD_DATA_DIR: join(this.root, db, 'etcd'),
          ETCD_LISTEN_PEER_URLS: `http://${address}:2380`,
          ETCD_LISTEN_CLIENT_URLS: `http://${address}:2379,http://127.0.0.1:2379`,
          ETCD_INITIAL_ADVERTISE_PEER_URLS: `http://${address}:2380`,
          ETCD_ADVERTISE_CLIENT_URLS: `http://${address}:2379`,
          ETCD_INITIAL_CLUSTER: initialCluster,
        },
      })
    }
    await until('etcd to form its cluster', async () => {
      for (const db of DB_HOSTS) {
        const health = (await (await fetch(`http://${this.address(db)}:2379/health`, { signal: AbortSignal.timeout(2_000) })).json()) as { health: string }
        if (health.health !== 'true') return undefined
      }
      return true
    })

    const postgres = uidOf('postgres')
    for (const db of DB_HOSTS) {
      const dir = join(this.root, db, 'patroni')
      mkdirSync(dir, { mode: 0o700 })
      copyFileSync(join(CONFIG, 'patroni.yml'), join(dir, 'patroni.yml'))
      chownSync(dir, postgres, postgres)
      chownSync(join(dir, 'patroni.yml'), postgres, postgres)
      this.startPatroni(db)
    }
    await until('Patroni to bootstrap a primary and two streaming replicas', () => this.healthy())

    this.network.start('lb', 'haproxy', ['-f', join(CONFIG, 'haproxy.cfg'), '-db'], {
      log: this.log('lb', 'haproxy'),
      env: Object.fromEntries([...DB_HOSTS, ...APP_HOSTS].map((host) => [`${host.toUpperCase()}_HOST`, this.address(host)])),
    })
    await until('a database through HAProxy', () => this.createDatabase())
    for (const app of APP_HOSTS) this.startApp(app)
    for (const app of APP_HOSTS) await until(`${app} to be ready`, () => this.ready(app))
    await until('HAProxy to send traffic to both server hosts', async () => {
      const state = await this.balancerState()
      return APP_HOSTS.every((app) => state.get(app)?.startsWith('UP')) ? true : undefined
    })
  }

  startPatroni(db: DbHost): void {
    const address = this.address(db)
    const dir = join(this.root, db, 'patroni')
    this.network.start(db, 'patroni', [join(dir, 'patroni.yml')], {
      user: 'postgres',
      cwd: dir,
      log: this.log(db, 'patroni'),
      env: {
        HOME: dir,
        PATRONI_NAME: db,
        PATRONI_RESTAPI_LISTEN: `${address}:8008`,
        PATRONI_RESTAPI_CONNECT_ADDRESS: `${address}:8008`,
        PATRONI_POSTGRESQL_LISTEN: `${address},127.0.0.1:5432`,
        PATRONI_POSTGRESQL_CONNECT_ADDRESS: `${address}:5432`,
        PATRONI_POSTGRESQL_DATA_DIR: join(dir, 'data'),
        PATRONI_POSTGRESQL_PGPASS: join(dir, 'pgpass'),
        PATRONI_ETCD3_HOSTS: DB_HOSTS.map((host) => `${this.address(host)}:2379`).join(','),
        PATRONI_SUPERUSER_PASSWORD: this.passwords.superuser,
        PATRONI_REPLICATION_PASSWORD: this.passwords.replication,
        PATRONI_REWIND_PASSWORD: this.passwords.rewind,
      },
    })
  }

  startApp(app: AppHost): void {
    mkdirSync(join(this.root, app), { recursive: true, mode: 0o700 })
    this.network.start(app, process.execPath, ['--enable-source-maps', join(REPO, 'dist', 'src', 'server.js')], {
      cwd: REPO,
      log: this.log(app, 'server'),
      env: {
        NODE_ENV: 'production',
        DATABASE_URL: this.databaseUrl,
        HOST: '0.0.0.0',
        PORT: '3000',
        PUBLIC_URL: this.apiUrl,
        DATA_DIR: join(this.root, app),
        WORKERS: '1',
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'json',
        UNAVAILABLE_RETRY_AFTER: '1',
        WEBHOOK_SECRET_KEY: this.webhookKey,
      },
    })
  }

  /** SIGKILLs the server's processes on a host. */
  killApp(app: AppHost): number {
    return this.network.killAll(app, 'node')
  }

  /** SIGKILLs every PostgreSQL process on a database host (Patroni and etcd stay). */
  killPostgres(db: DbHost): number {
    return this.network.killAll(db, 'postgres')
  }

  async ready(app: AppHost): Promise<true | undefined> {
    const reply = await fetch(`${this.appUrl(app)}/readyz`, { signal: AbortSignal.timeout(3_000) })
    return reply.status === 200 ? true : undefined
  }

  /** Patroni's view of the cluster, from the first database host that answers. */
  async members(): Promise<Member[] | undefined> {
    for (const db of DB_HOSTS) {
      try {
        const reply = await fetch(`http://${this.address(db)}:8008/cluster`, { signal: AbortSignal.timeout(2_000) })
        if (reply.ok) return ((await reply.json()) as { members: Member[] }).members
      } catch {
        // Try the next.
      }
    }
    return undefined
  }

  /** The leader's name, once a single leader runs with a synchronous replica and the third streams, none behind. */
  async healthy(): Promise<DbHost | undefined> {
    const members = await this.members()
    if (members?.length !== 3) return undefined
    const leaders = members.filter((m) => m.role === 'leader' && m.state === 'running')
    const replicas = members.filter((m) => m.role !== 'leader')
    if (leaders.length !== 1 || !replicas.some((m) => m.role === 'sync_standby')) return undefined
    if (!replicas.every((m) => ['running', 'streaming'].includes(m.state) && typeof m.lag === 'number' && m.lag < 1_048_576 && m.timeline === leaders[0]!.timeline)) return undefined
    return leaders[0]!.name
  }

  /** HAProxy's status of each backend server (UP, DOWN, …), from its statistics page. */
  async balancerState(): Promise<Map<string, string>> {
    const csv = await (await fetch(`http://${this.address('lb')}:8404/stats;csv`, { signal: AbortSignal.timeout(2_000) })).text()
    const state = new Map<string, string>()
    for (const line of csv.split('\n').slice(1)) {
      const fields = line.split(',')
      if (fields[1] && fields[1] !== 'FRONTEND' && fields[1] !== 'BACKEND') state.set(fields[1], fields[17] ?? '')
    }
    return state
  }

  private async createDatabase(): Promise<true | undefined> {
    const client = new pg.Client({ host: this.address('lb'), port: 5000, user: 'postgres', password: this.passwords.superuser, database: 'postgres', connectionTimeoutMillis: 3_000 })
    await client.connect()
    try {
      const { rows } = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'pco'`)
      if (rows.length === 0) await client.query('CREATE DATABASE pco')
      return true
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  /** A client straight to the database through HAProxy, for the test's own checks. */
  async query<T>(sql: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 3_000 })
    await client.connect()
    try {
      return (await client.query(sql, values)).rows as T[]
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  /** psql run on a database host, against its own PostgreSQL: output and exit status. */
  psqlOn(db: DbHost, sql: string): { command: string[]; env: Record<string, string> } {
    return {
      command: ['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'pco', '-c', sql],
      env: { PGPASSWORD: this.passwords.superuser, PGCONNECT_TIMEOUT: '3' },
    }
  }

  tearDown({ keepLogs = false } = {}): void {
    this.network.tearDown()
    if (!keepLogs) rmSync(this.root, { recursive: true, force: true })
  }
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex')
}
