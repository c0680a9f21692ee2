// The command-line tool, run as a user would, against the suite's backend; the server then serves what it made.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { request } from './support/http'
import { startReceiver } from './support/receiver'
import { backend, startTestServer } from './support/server'

const run = promisify(execFile)
const dataDir = mkdtempSync(join(tmpdir(), 'pco-cli-'))
after(() => rmSync(dataDir, { recursive: true, force: true }))

/** What the webhook commands and the server share: the key that seals secrets, and loopback receivers allowed. */
const WEBHOOK_ENV = { WEBHOOK_SECRET_KEY: randomBytes(32).toString('hex'), WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_LOOPBACK: 'true' }

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliWith({}, ...args)
}

async function cliWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, DATA_DIR: dataDir, ...env },
    })
    return { code: 0, stdout: stdout.trim(), stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string }
    return { code, stdout: stdout.trim(), stderr }
  }
}

describe(`the command-line tool (${backend})`, () => {
  it('creates an organization, a person, tokens and job statuses that the API then serves', async () => {
    const org = await cli('org', 'create', '--name', 'CLI Church', '--time-zone', 'Europe/Berlin')
    assert.equal(org.code, 0, org.stderr)
    assert.match(org.stdout, /^\d+$/)
    const person = await cli('person', 'create', '--org', org.stdout, '--name', 'Ada', '--email', `ada-${org.stdout}@example.org`, '--password', 'pw-1234')
    assert.equal(person.code, 0, person.stderr)
    const pat = await cli('token', 'pat', '--person', person.stdout)
    const [, appId, secret] = /^app_id: ([0-9a-f]{64})\nsecret: ([0-9a-f]{64})$/.exec(pat.stdout) ?? []
    assert.ok(appId && secret, pat.stdout)
    const bearer = await cli('token', 'bearer', '--person', person.stdout, '--expires-in', '3600')
    assert.match(bearer.stdout, /^[0-9a-f]{64}$/)
    const app = await cli('app', 'create', '--name', 'My App', '--redirect-uri', 'http://localhost:4000/cb', '--redirect-uri', 'http://localhost:4000/cb2')
    const [, clientId, clientSecret] = /^client_id: ([0-9a-f]{64})\nclient_secret: ([0-9a-f]{64})$/.exec(app.stdout) ?? []
    assert.ok(clientId && clientSecret, app.stdout)
    const jobs = await cli('jobs', 'insert', '--org', org.stdout, '--count', '250', '--person', person.stdout)
    assert.match(jobs.stdout, /^inserted 250 job statuses in [\d.]+ s$/)

    const scenario = await cli('jobs', 'scenario', '--person', person.stdout, '--duration', '1', '--total', '3')
    assert.equal(scenario.code, 0, scenario.stderr)
    assert.match(scenario.stdout, /^\d+$/)

    const server = await startTestServer({ DATA_DIR: dataDir })
    try {
      // The scripted job the tool created is moved along by the server, task by task, to the end.
      while ((await server.db('job_statuses').where({ id: scenario.stdout }).first('status')).status !== 'completed') {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.deepEqual(
        { ...(await server.db('job_statuses').where({ id: scenario.stdout }).first('status', 'progress', 'kind')) },
        { status: 'completed', progress: 3, kind: 'scenario' },
      )
      const list = await request(server.url, '/calendar/v2/job_statuses?per_page=100', { token: bearer.stdout })
      assert.equal(list.status, 200)
      // 250 inserted, and the scripted job.
      assert.equal(list.json.meta.total_count, 251)
      // The inserted jobs are consistent as real ones would be.
      const { rows: [broken] } = await server.db.raw(
        `SELECT count(*) FILTER (WHERE started_at < created_at) AS started_before_created,
                count(*) FILTER (WHERE completed_at < started_at OR failed_at < started_at) AS ended_before_started,
                count(*) FILTER (WHERE status = 'completed' AND completed_at IS NULL) AS completed_without_time,
                count(*) FILTER (WHERE status = 'failed' AND failed_at IS NULL) AS failed_without_time,
                count(*) FILTER (WHERE status <> 'queued' AND started_at IS NULL) AS moved_without_start,
                count(*) FILTER (WHERE status <> 'queued' AND total IS NULL) AS tasks_without_total,
                count(*) FILTER (WHERE progress > total) AS progress_past_total,
                count(*) FILTER (WHERE greatest(created_at, started_at, completed_at, failed_at) > now()) AS in_the_future
         FROM job_statuses WHERE organization_id = ? AND kind IS DISTINCT FROM 'scenario'`,
        [org.stdout],
      )
      assert.deepEqual(Object.values(broken).map(Number), [0, 0, 0, 0, 0, 0, 0, 0], JSON.stringify(broken))
      // Created by the person --person named: Xplenty's owner.
      const owners = await server.db('job_statuses').where({ organization_id: org.stdout }).distinct('created_by')
      assert.deepEqual(owners.map((row: { created_by: string | number }) => String(row.created_by)), [person.stdout])
      const statuses = new Set(list.json.data.map((row: { attributes: { status: string } }) => row.attributes.status))
      assert.deepEqual([...statuses].sort(), ['completed', 'failed', 'killed', 'queued', 'stopping', 'working'])
      const organization = await request(server.url, '/calendar/v2', { basic: { appId, secret } })
      assert.equal(organization.json.data.attributes.time_zone, 'Europe/Berlin')
      const stored = await server.db('people').where({ id: person.stdout }).first('password_digest')
      assert.match(stored.password_digest, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
      const application = await server.db('oauth_applications').where({ client_id: clientId }).first('redirect_uris', 'scopes', 'client_secret_digest')
      assert.deepEqual(application.redirect_uris, ['http://localhost:4000/cb', 'http://localhost:4000/cb2'])
      assert.deepEqual(application.scopes, ['calendar'])
      assert.notEqual(application.client_secret_digest, clientSecret)
    } finally {
      await server.close()
    }
  })

  it('explains its mistakes with exit code 2', async () => {
    const missing = await cli('jobs', 'insert', '--org', '1')
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--count is required/)
    const unknown = await cli('frobnicate')
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command "frobnicate"/)
    const noRedirect = await cli('app', 'create', '--name', 'x')
    assert.equal(noRedirect.code, 2)
    assert.match(noRedirect.stderr, /--redirect-uri is required/)
    const nobody = await cli('token', 'pat', '--person', '999999999')
    assert.equal(nobody.code, 2)
    assert.match(nobody.stderr, /no row 999999999 in people/)
    const stray = await cli('org', 'create', '--name', 'x', '--count', '3')
    assert.equal(stray.code, 2)
    assert.match(stray.stderr, /org create takes no --count/)
  })

  it('answers --help on every command, naming its options', async () => {
    const list = await cli('help')
    assert.equal(list.code, 0)
    const names = [...list.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?)(?: --|$)/gm)].map((match) => match[1]!)
    assert.deepEqual(names, [
      'migrate', 'org create', 'person create', 'app create', 'token pat', 'token bearer', 'jobs insert', 'jobs scenario',
      'webhooks create', 'webhooks list', 'webhooks delete', 'webhooks tail',
    ])
    for (const name of names) {
      const help = await cli(...name.split(' '), '--help')
      assert.equal(help.code, 0, name)
      assert.match(help.stdout, new RegExp(`^Usage: pco-job-status ${name}`), name)
      assert.ok(help.stdout.split('\n').length >= 3, `${name} --help explains the command`)
    }
  })

  it('refuses scopes it does not know, and says when a token expires', async () => {
    const org = await cli('org', 'create', '--name', 'Scopes')
    const person = await cli('person', 'create', '--org', org.stdout, '--name', 'Grace')
    const unknown = await cli('token', 'bearer', '--person', person.stdout, '--scope', 'calendar people')
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown scope "people": the scopes are calendar, jobs, webhooks/)
    const app = await cli('app', 'create', '--name', 'x', '--redirect-uri', 'http://localhost/cb', '--scope', 'admin')
    assert.equal(app.code, 2)
    assert.match(app.stderr, /unknown scope "admin"/)

    const before = Date.now()
    const token = await cli('token', 'bearer', '--person', person.stdout, '--scope', 'calendar,jobs')
    assert.equal(token.code, 0, token.stderr)
    const [, expires] = /expires (\S+) \(the default, 30 days/.exec(token.stderr) ?? []
    assert.ok(expires, token.stderr)
    const lifetime = Date.parse(expires) - before
    assert.ok(lifetime > 30 * 86_400_000 - 600_000 && lifetime <= 30 * 86_400_000 + 600_000, token.stderr)
    assert.match(token.stderr, /scopes calendar jobs/)
  })

  it('subscribes a receiver, lists and deletes subscriptions, and tails deliveries until Ctrl-C', async () => {
    const org = await cli('org', 'create', '--name', 'Webhooks')
    const person = await cli('person', 'create', '--org', org.stdout, '--name', 'Hopper')
    // Not a demo: loopback destinations are refused, as on a production server.
    const refused = await cliWith({ DEMO: 'false' }, 'webhooks', 'create', '--person', person.stdout, '--event', 'calendar.v2.events.job_status.created', '--url', 'https://127.0.0.1/hooks')
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /--url is refused: 127\.0\.0\.1 is a loopback address/)
    const unknown = await cli('webhooks', 'create', '--person', person.stdout, '--event', 'people.v2.events.person.created', '--url', 'https://example.org/')
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /--event must be one of calendar\.v2\.events\.job_status\.created/)

    const receiver = await startReceiver()
    const created = await cliWith(WEBHOOK_ENV, 'webhooks', 'create', '--person', person.stdout, '--event', 'calendar.v2.events.job_status.created', '--url', `${receiver.url}/cli`)
    assert.equal(created.code, 0, created.stderr)
    const [, id, secret] = /^id: (\d+)\nauthenticity_secret: ([0-9a-f]{64})$/.exec(created.stdout) ?? []
    assert.ok(id && secret, created.stdout)
    receiver.secrets.set('/cli', secret)
    const listed = await cli('webhooks', 'list', '--org', org.stdout)
    assert.equal(listed.stdout, `${id}\tcalendar.v2.events.job_status.created\tactive\t${receiver.url}/cli`)

    const server = await startTestServer({ DATA_DIR: dataDir, ...WEBHOOK_ENV })
    try {
      const tail = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'webhooks', 'tail', '--org', org.stdout], {
        env: { ...process.env, DATA_DIR: dataDir, ...WEBHOOK_ENV },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let printed = ''
      tail.stdout.setEncoding('utf8')
      const line = new Promise<string>((resolve) => {
        tail.stdout.on('data', (chunk: string) => {
          printed += chunk
          const first = printed.split('\n').find((l) => l.includes('calendar.v2.events.job_status.created'))
          if (first) resolve(first)
        })
      })
      // Tail shows what happens after it starts: the job comes once it says it is following.
      let errors = ''
      tail.stderr.setEncoding('utf8')
      await new Promise<void>((resolve) => {
        tail.stderr.on('data', (chunk: string) => {
          errors += chunk
          if (errors.includes('Ctrl-C stops')) resolve()
        })
      })
      const job = await cli('jobs', 'scenario', '--person', person.stdout, '--duration', '60', '--total', '1')
      assert.equal(job.code, 0, job.stderr)
      const shown = await line
      assert.match(shown, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\t${id}\\t[0-9a-f-]{36}\\tcalendar\\.v2\\.events\\.job_status\\.created\\tattempt 1\\t200\\t[\\d.]+ s$`))
      assert.ok(receiver.received.every((r) => r.signed), 'signed with the secret the tool printed')
      tail.kill('SIGINT')
      const [code] = await once(tail, 'exit')
      assert.equal(code, 0)
      assert.match(printed, /\d+ deliveries\n$/)
    } finally {
      await server.close()
      await receiver.close()
    }
    const deleted = await cli('webhooks', 'delete', '--org', org.stdout, '--id', id)
    assert.equal(deleted.stdout, `deleted ${id}`)
    assert.equal((await cli('webhooks', 'list', '--org', org.stdout)).stdout, '(no subscriptions)')
  })
})
