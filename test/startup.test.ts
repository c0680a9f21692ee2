// Starting the server as a person or a supervisor does: a port in use is named before anything
// else happens, and logs are JSON lines through a pipe, readable lines when asked, never mixed with
// the welcome.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

const dir = mkdtempSync(join(tmpdir(), 'pco-start-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the server until `until` matches its stderr (or it exits), then stops it; returns what it wrote. */
async function runServer(env: Record<string, string>, until: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { ...process.env, DATABASE_URL: '', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)))
  const exited = once(child, 'exit') as Promise<[number | null]>
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += String(chunk)
      if (until.test(stderr)) resolve()
    })
    void exited.then(() => resolve())
  })
  const url = /listening on (\S+)/.exec(stderr)?.[1]
  if (url && child.exitCode === null) {
    // One request, so the request log has a line to show.
    await fetch(`${url}/calendar/v2`).then((reply) => reply.text())
    child.kill('SIGTERM')
  }
  const [code] = await exited
  return { code, stdout, stderr }
}

describe('starting the server', () => {
  it('names a port in use at once, before it creates or migrates a database', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as { port: number }
    const dataDir = join(dir, 'never-created')
    try {
      const { code, stderr } = await runServer({ PORT: String(port), DATA_DIR: dataDir }, /failed to start/)
      assert.equal(code, 1)
      assert.match(stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`))
      assert.equal(existsSync(dataDir), false, 'the database was created before the port was checked')
    } finally {
      holder.close()
    }
  })

  it('writes JSON lines on stdout through a pipe, and the welcome on stderr', async () => {
    const { code, stdout, stderr } = await runServer({ DATA_DIR: 'memory://', DEMO: 'true' }, /the reference is at/)
    assert.equal(code, 0)
    const lines = stdout.split('\n').filter(Boolean)
    assert.ok(lines.length > 0)
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON line: ${line}`)
    assert.ok(lines.some((line) => JSON.parse(line).msg === 'request'), 'the request was logged')
    assert.doesNotMatch(stdout, /listening on|curl/)
    assert.match(stderr, /pco-job-status is listening on http:\/\/127\.0\.0\.1:\d+/)
    assert.match(stderr, /curl -H "Authorization: Bearer [0-9a-f]{64}"/)
  })

  it('writes readable lines with LOG_FORMAT=pretty, and refuses another format by name', async () => {
    const pretty = await runServer({ DATA_DIR: 'memory://', LOG_FORMAT: 'pretty' }, /listening on/)
    assert.equal(pretty.code, 0)
    assert.match(pretty.stdout, /INFO.*: request/)
    assert.throws(() => JSON.parse(pretty.stdout.split('\n')[0]!))
    const wrong = await runServer({ DATA_DIR: 'memory://', LOG_FORMAT: 'xml' }, /Invalid configuration/)
    assert.equal(wrong.code, 2)
    assert.match(wrong.stderr, /LOG_FORMAT: must be pretty or json, got "xml"/)
  })
})
