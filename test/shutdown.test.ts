// SIGTERM while the server is saturated: a request sent on an open connection is answered, never reset.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { describe, it } from 'node:test'

const CLIENTS = 200
/** Of them, connections that send two requests at a time without waiting for the first answer (pipelining). */
const PIPELINING = 40

/** One GET over `agent`: the status, or the error that cut it off and whether it went over a connection already open. */
function get(agent: Agent, url: string, token: string): Promise<number | { error: NodeJS.ErrnoException; reused: boolean }> {
  return new Promise((resolve) => {
    const req = request(url, { agent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
      res.once('error', (error) => resolve({ error, reused: req.reusedSocket }))
    })
    req.once('error', (error) => resolve({ error, reused: req.reusedSocket }))
    req.end()
  })
}

describe('shutdown under saturation', () => {
  it(`answers every request sent on an open connection, over ${CLIENTS} connections, ${PIPELINING} of them pipelining`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: '0', DATA_DIR: 'memory://', DEMO: 'true', LOG_LEVEL: 'warn', RATE_LIMIT: '1000000000', SHUTDOWN_TIMEOUT: '120' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let output = ''
    child.stderr.setEncoding('utf8')
    const [, token, listUrl] = await new Promise<RegExpExecArray>((resolve, reject) => {
      child.stderr.on('data', (chunk: string) => {
        output += chunk
        const curl = /curl -H "Authorization: Bearer ([0-9a-f]{64})" (http:\/\/\S+)/.exec(output)
        if (curl) resolve(curl)
      })
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)))
    })
    const base = new URL(listUrl!).origin
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })
    const paths = ['/calendar/v2/job_statuses', '/calendar/v2/job_statuses?offset=50', '/calendar/v2', '/calendar/v2/job_statuses?order=-started_at']
    let answered = 0
    let afterSignal = 0
    let signalled = false
    const failures: string[] = []
    let warm!: () => void
    const warmed = new Promise<void>((resolve) => (warm = resolve))
    // SIGTERM once every client's connection has been accepted and answered, and the server is busy.
    const started = new Set<number>()
    const answer = (client: number, count = 1) => {
      started.add(client)
      answered += count
      if (started.size === CLIENTS && answered >= CLIENTS * 5) warm()
    }
    const client = async (n: number) => {
      for (let i = 0; ; i++) {
        const outcome = await get(agent, `${base}${paths[(n + i) % paths.length]}`, token!)
        if (typeof outcome !== 'number') {
          // After SIGTERM a new connection is refused, or reset if it was still waiting to be
          // accepted when the server stopped listening: that is how a client learns the server is
          // gone. A request on a connection the server had accepted must be answered.
          if (signalled && !outcome.reused) return
          failures.push(`${outcome.error.code ?? outcome.error.message} on ${outcome.reused ? 'an open' : 'a new'} connection ${signalled ? 'after' : 'before'} SIGTERM`)
          return
        }
        if (outcome !== 200) failures.push(`status ${outcome}`)
        if (signalled) afterSignal++
        answer(n)
      }
    }
    const host = new URL(base)
    const pipelining = async (n: number) => {
      const socket = connect(Number(host.port), host.hostname)
      await once(socket, 'connect')
      let received = ''
      let closed = false
      const waiters: Array<() => void> = []
      const wake = () => waiters.splice(0).forEach((resolve) => resolve())
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => ((received += chunk), wake()))
      socket.on('error', () => undefined)
      socket.on('close', () => ((closed = true), wake()))
      const responses = () => received.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0
      const line = `GET /calendar/v2 HTTP/1.1\r\nHost: ${host.host}\r\nAuthorization: Bearer ${token}\r\n\r\n`
      // Sends the next pair only once both answers of the last are in, and none of them said Connection: close.
      while (!/connection: close/i.test(received)) {
        const expected = responses() + 2
        socket.write(line + line)
        while (responses() < expected && !closed) await new Promise<void>((resolve) => waiters.push(resolve))
        if (responses() < expected) {
          failures.push(`${expected - responses()} of a pipelined pair unanswered ${signalled ? 'after' : 'before'} SIGTERM`)
          break
        }
        if (signalled) afterSignal += 2
        answer(n, 2)
      }
      socket.destroy()
    }
    const clients = [...Array.from({ length: CLIENTS - PIPELINING }, (_, n) => client(n)), ...Array.from({ length: PIPELINING }, (_, n) => pipelining(CLIENTS - PIPELINING + n))]
    await warmed
    const exited = once(child, 'exit')
    signalled = true
    child.kill('SIGTERM')
    await Promise.all(clients)
    agent.destroy()
    const [code] = await exited
    assert.deepEqual(failures, [], `${failures.length} requests on open connections failed; ${afterSignal} were answered after SIGTERM; the server exited with ${code}`)
    assert.ok(afterSignal > 0, 'no request was in flight at SIGTERM')
    assert.equal(code, 0)
  })
})
