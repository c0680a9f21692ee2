// The command-line tool and psql beside a running server: every command of the README's command-line
// section, on the embedded database and on PostgreSQL, its result visible through the API at once and
// after a restart; and a client on the embedded database's socket never swallows the server's writes.
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import pg from 'pg'
import { embeddedSocketPath } from '../src/db/embedded-socket'
import { withOwnDatabase } from './support/databases'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'
import { tempDirs } from './support/temp-dirs'

const run = promisify(execFile)
// Short: a Unix socket's path has at most 107 bytes.
const freshDir = tempDirs('pco-')

const embedded = (dataDir: string) => startTestServer({ DATABASE_URL: '', DATA_DIR: dataDir, DEMO: 'true' })

/** Where the server and the tool keep their data: an embedded DATA_DIR, or a PostgreSQL database. */
interface Store {
  env: Record<string, string>
}

const embeddedStore = (dataDir: string): Store => ({ env: { DATABASE_URL: '', DATA_DIR: dataDir } })

async function runCli(store: Store, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...store.env } })
  return stdout.trim()
}

const cli = (dataDir: string, args: string[]) => runCli(embeddedStore(dataDir), args)

/** Splits a README command line as sh would, for the quoting the README uses. */
function shellWords(line: string): string[] {
  const words: string[] = []
  for (const match of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(match[1] ?? match[2] ?? match[3]!)
  return words
}

/** The README's command-line section, command by command, without `npm run cli --` and comments. */
function readmeCommands(): string[][] {
  const readme = readFileSync('README.md', 'utf8')
  const section = readme.slice(readme.indexOf('## The command-line tool'))
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!
  return block
    .split('\n')
    .filter((line) => line.startsWith('npm run cli -- '))
    .map((line) => shellWords(line.replace(/\s+#.*$/, '').slice('npm run cli -- '.length)))
}

/** Every README command against a running server on `store`, each result checked through the API at once and after a restart. */
async function readmeWalk(store: Store): Promise<void> {
  const start = () => startTestServer({ ...store.env, DEMO: 'true' })
  let server: TestServer = await start()
  const made: Record<string, string> = {}
  /** What each command made, checked through the API; called at once and again after a restart. */
  const checks: Record<string, () => Promise<void>> = {
    migrate: async () => assert.equal(made.migrate, 'already up to date'),
    'org create': async () => {
      assert.equal(made['org create'], '2')
      const organization = await request(server.url, '/calendar/v2', { token: made['token bearer'] })
      assert.deepEqual([organization.json.data.id, organization.json.data.attributes.name, organization.json.data.attributes.time_zone], ['2', 'Grace Church', 'Europe/London'])
    },
    'person create': async () => assert.equal(made['person create'], '2'),
    'app create': async () => {
      const [, clientId] = /^client_id: ([0-9a-f]{64})\nclient_secret: [0-9a-f]{64}$/.exec(made['app create']!) ?? []
      assert.ok(clientId, made['app create'])
      const query = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: 'http://localhost:4000/callback', scope: 'calendar' })
      const consent = await request(server.url, `/oauth/authorize?${query}`)
      assert.equal(consent.status, 200, consent.text)
      assert.match(consent.text, /My App/)
    },
    'token pat': async () => {
      const [, appId, secret] = /^app_id: ([0-9a-f]{64})\nsecret: ([0-9a-f]{64})$/.exec(made['token pat']!) ?? []
      const organization = await request(server.url, '/calendar/v2', { basic: { appId: appId!, secret: secret! } })
      assert.equal(organization.status, 200)
      assert.equal(organization.json.data.id, '2')
    },
    'token bearer': async () => {
      assert.match(made['token bearer']!, /^[0-9a-f]{64}$/)
      // Authenticated with the jobs scope: a job that does not exist, rather than 401 or 403.
      const jobs = await request(server.url, '/jobs/v1/job_statuses/999999999', { token: made['token bearer'] })
      assert.equal(jobs.status, 404, jobs.text)
    },
    'jobs insert': async () => {
      assert.match(made['jobs insert']!, /^inserted 10000 job statuses in [\d.]+ s$/)
      const list = await request(server.url, '/calendar/v2/job_statuses?per_page=1&where[status]=queued', { token: made['token bearer'] })
      const all = await request(server.url, '/calendar/v2/job_statuses?per_page=1', { token: made['token bearer'] })
      assert.ok(list.json.meta.total_count > 0)
      assert.equal(all.json.meta.total_count, made['jobs scenario'] === undefined ? 10_000 : 10_001)
    },
    'jobs scenario': async () => {
      const job = await request(server.url, `/jobs/v1/job_statuses/${made['jobs scenario']}`, { token: made['token bearer'] })
      assert.equal(job.status, 200, job.text)
      assert.equal(job.json.data.attributes.kind, 'scenario')
    },
  }
  const commands = readmeCommands()
  const nameOf = (words: string[]) => (words[0] === 'migrate' ? 'migrate' : `${words[0]} ${words[1]}`)
  assert.deepEqual(commands.map(nameOf), Object.keys(checks), 'the README and this test name the same commands, in order')
  try {
    for (const words of commands) {
      const name = nameOf(words)
      made[name] = await runCli(store, words)
      // The org and person are checked through the token, which comes later.
      if (!['org create', 'person create'].includes(name)) await checks[name]!()
    }
    for (const check of Object.values(checks)) await check()

    await server.close()
    server = await start()
    for (const check of Object.values(checks)) await check()
  } finally {
    await server.close()
  }
}

describe('the command-line tool beside a running server', () => {
  it('runs every command of the README on the embedded database, and the API serves each result at once and after a restart', async () => {
    await readmeWalk(embeddedStore(freshDir()))
  })

  it('runs every command of the README on PostgreSQL, the same way', async (t) => {
    if (!process.env.DATABASE_URL) return t.skip('no DATABASE_URL: the embedded run only')
    // A database of its own, so the README's ids (organization 2, person 2) are the ones it gets.
    await withOwnDatabase(`pco_readme_${process.pid}`, (url) => readmeWalk({ env: { DATABASE_URL: url } }))
  })

  it('serves psql on an owner-only socket in DATA_DIR', async (t) => {
    if (spawnSync('psql', ['--version']).status !== 0) return t.skip('psql is not installed')
    const dataDir = freshDir()
    const server = await embedded(dataDir)
    try {
      assert.equal(statSync(embeddedSocketPath(dataDir)).mode & 0o777, 0o600)
      const { stdout } = await run('psql', ['-h', dataDir, '-U', 'postgres', '-AtXc', 'SELECT name FROM organizations ORDER BY id'])
      assert.equal(stdout.trim(), 'Demo Church')
    } finally {
      await server.close()
    }
  })

  it("holds the server's statements back while a socket client's transaction is open, so a rollback takes only the client's work", async () => {
    const dataDir = freshDir()
    let server = await embedded(dataDir)
    try {
      const token = await cli(dataDir, ['token', 'bearer', '--person', '1', '--scope', 'jobs'])
      const client = new pg.Client({ host: dataDir, port: 5432, user: 'postgres', database: 'postgres' })
      await client.connect()
      await client.query('BEGIN')
      await client.query("INSERT INTO organizations (name) VALUES ('Rolled back')")
      const write = fetch(`${server.url}/jobs/v1/job_statuses`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.api+json' },
        body: JSON.stringify({ data: { type: 'JobStatus', attributes: { message: 'made while psql held a transaction' } } }),
      })
      // Time for a server that interleaved its statements with the client's transaction to do so.
      await new Promise((resolve) => setTimeout(resolve, 300))
      await client.query('ROLLBACK')
      const created = await write
      assert.equal(created.status, 201)
      const { data } = (await created.json()) as { data: { id: string } }

      // A client that leaves mid-transaction is rolled back, and the server goes on answering.
      const leaving = new pg.Client({ host: dataDir, port: 5432, user: 'postgres', database: 'postgres' })
      leaving.on('error', () => undefined)
      await leaving.connect()
      await leaving.query('BEGIN')
      await leaving.query("INSERT INTO organizations (name) VALUES ('Left open')")
      ;(leaving as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
      await client.end()
      const read = await request(server.url, `/jobs/v1/job_statuses/${data.id}`, { token })
      assert.equal(read.status, 200)

      await server.close()
      server = await embedded(dataDir)
      const names = (await server.db('organizations').orderBy('id').pluck('name')) as string[]
      assert.deepEqual(names, ['Demo Church'])
      const job = await server.db('job_statuses').where({ id: data.id }).first('message')
      assert.equal(job?.message, 'made while psql held a transaction')
    } finally {
      await server.close()
    }
  })
})
