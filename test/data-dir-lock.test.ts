// The embedded database's files are open in one process at a time: a second server or the
// command-line tool on the same DATA_DIR refuses, naming the process that holds it.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { DataDirInUse, LOCK_FILE } from '../src/db/data-dir-lock'
import { openDatabase } from '../src/db/database'
import { tempDirs } from './support/temp-dirs'

const run = promisify(execFile)
const freshDir = tempDirs('pco-lock-')

const open = (dataDir: string, holder: string) => openDatabase({ databaseUrl: undefined, dataDir, databasePoolMax: 1 }, { holder })

describe('one process per embedded database', () => {
  it('a second opening in another process is refused while the first holds the files, and allowed after', async () => {
    const dataDir = freshDir()
    const first = open(dataDir, 'the first')
    await first.raw('SELECT 1')
    // The command-line tool, as a user runs it beside the server.
    const refused = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'org', 'create', '--name', 'Lost?'], { env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir } }).then(
      () => assert.fail('the tool opened files another process holds'),
      (error: { code: number; stderr: string }) => error,
    )
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, new RegExp(`open in process ${process.pid} \\(the first\\)`))
    await first.destroy()

    const created = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'org', 'create', '--name', 'Kept'], { env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir } })
    assert.match(created.stdout.trim(), /^\d+$/)
    const again = open(dataDir, 'the second')
    const names = (await again('organizations').pluck('name')) as string[]
    assert.ok(names.includes('Kept'))
    assert.ok(!names.includes('Lost?'))
    await again.destroy()
  })

  it('a second server on the same DATA_DIR refuses to start, naming the first', async () => {
    const dataDir = freshDir()
    const env = { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: '0', DEMO: 'false', LOG_LEVEL: 'warn' }
    const server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    await new Promise<void>((resolve, reject) => {
      let output = ''
      server.stderr.on('data', (chunk: Buffer) => ((output += String(chunk)), /listening on/.test(output) && resolve()))
      server.once('exit', (code) => reject(new Error(`the first server exited with ${code}`)))
    })
    // The second either exits at once, or starts listening: then it has opened the files too.
    const second = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    second.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)))
    const outcome = await new Promise<number | 'listening'>((resolve) => {
      second.stderr.on('data', (chunk: Buffer) => /listening on/.test(String(chunk)) && resolve('listening'))
      second.once('exit', (code) => resolve(code ?? -1))
    })
    if (outcome === 'listening') second.kill('SIGKILL')
    assert.equal(outcome, 1, 'the second server started on the same files')
    assert.match(stderr, new RegExp(`open in process ${server.pid} \\(the server\\)`))
    const exited = once(server, 'exit')
    server.kill('SIGTERM')
    assert.deepEqual(await exited, [0, null])
  })

  it('a lock left by a process that no longer runs is taken over', async () => {
    const dataDir = freshDir()
    const gone = spawn(process.execPath, ['-e', ''])
    await once(gone, 'exit')
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: gone.pid, holder: 'the server' }))
    const db = open(dataDir, 'the test')
    await db.raw('SELECT 1')
    assert.throws(() => open(dataDir, 'the same process again'), (error) => error instanceof DataDirInUse && error.pid === process.pid)
    await db.destroy()
  })
})
