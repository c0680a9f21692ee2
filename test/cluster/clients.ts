// The clients of the cluster test: writers that move jobs and keep a ledger of every write the
// server acknowledged, and watchers that follow jobs' event streams across reconnects.
import { randomUUID } from 'node:crypto'

/** Past this a request counts as hung: longer than any client would wait. */
const PATIENCE_MS = 30_000

export interface Reply {
  status: number
  text: string
  headers: Headers
}

/** What came back, by kind, for the table. */
export class Tally {
  ok = 0
  /** 4xx, each one a surprise to these clients (they send nothing a server should refuse). */
  refused: string[] = []
  /** 503 with Retry-After in the API's envelope. */
  unavailable = 0
  /** Anything else: 5xx other than the API's 503, HAProxy's own answers, hangs, dropped connections. */
  failures: Array<{ at: number; what: string }> = []

  count(reply: Reply | Error, at: number, what: string): void {
    if (reply instanceof Error) {
      const cause = reply.cause as { code?: string; message?: string } | undefined
      return void this.failures.push({ at, what: `${what}: ${reply.message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''} after ${Date.now() - at} ms` })
    }
    if (reply.status >= 200 && reply.status < 300) this.ok += 1
    else if (reply.status === 503 && reply.headers.get('retry-after') && /"errors"/.test(reply.text)) this.unavailable += 1
    else if (reply.status >= 400 && reply.status < 500 && reply.status !== 429) this.refused.push(`${what}: ${reply.status} ${reply.text.slice(0, 200)}`)
    else if (reply.status !== 429) this.failures.push({ at, what: `${what}: ${reply.status} ${reply.text.slice(0, 120)}` })
  }
}

export async function call(url: string, init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers }
  if (init.token) headers.Authorization = `Bearer ${init.token}`
  if (init.body !== undefined) headers['Content-Type'] = 'application/vnd.api+json'
  const reply = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(PATIENCE_MS),
  })
  return { status: reply.status, text: await reply.text(), headers: reply.headers }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

/** A write the server acknowledged, with the key it was sent under and the answer it gave. */
export interface Acknowledged {
  method: string
  path: string
  body: unknown
  key: string
  token: string
  status: number
  text: string
}

export interface Job {
  id: string
  token: string
  /** Progress reports acknowledged: the job's progress must be exactly this. */
  progress: number
  /** The last status a transition was acknowledged to. */
  status: string
}

/**
 * Moves jobs through the API as a worker would: create, start, report progress, complete, each write
 * under its own Idempotency-Key and retried with it until acknowledged. Reads between writes. Paced
 * to stay under the rate limit, so every 429 would be a surprise.
 */
export class Writers {
  readonly tally = new Tally()
  readonly jobs: Job[] = []
  readonly acknowledged: Acknowledged[] = []
  /** When each acknowledged write's attempt started and when its answer came: when writes resumed after a kill. */
  readonly writesAt: Array<{ started: number; answered: number }> = []
  private stopped = false
  private running: Array<Promise<void>> = []

  constructor(
    private readonly baseUrl: string,
    private readonly tokens: string[],
    private readonly paceMs = 250,
  ) {}

  start(): void {
    this.running = this.tokens.map((token) => this.work(token))
  }

  /** Lets each writer finish the write it is in (so the ledger is exact), then stops. */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all(this.running)
  }

  /** When the first write sent after `at` was acknowledged, in ms after `at`. */
  resumedAfter(at: number): number | undefined {
    const answers = this.writesAt.filter((w) => w.started > at).map((w) => w.answered)
    return answers.length === 0 ? undefined : Math.min(...answers) - at
  }

  private async work(token: string): Promise<void> {
    let last = 0
    const pace = async () => {
      const wait = last + this.paceMs - Date.now()
      if (wait > 0) await sleep(wait)
      last = Date.now()
    }
    while (!this.stopped) {
      await pace()
      const created = await this.write(token, 'POST', '/jobs/v1/job_statuses', { data: { type: 'JobStatus', attributes: { total: 1000, message: 'Waiting' } } }, pace)
      if (!created) return
      const job: Job = { id: JSON.parse(created.text).data.id, token, progress: 0, status: 'queued' }
      this.jobs.push(job)
      if (!(await this.write(token, 'POST', `/jobs/v1/job_statuses/${job.id}/transitions`, { data: { attributes: { status: 'working' } } }, pace))) return
      job.status = 'working'
      for (let step = 1; step <= 8 && !this.stopped; step++) {
        await pace()
        if (!(await this.write(token, 'POST', `/jobs/v1/job_statuses/${job.id}/progress`, { data: { attributes: { increment: 1, message: `Step ${step}` } } }, pace))) return
        job.progress += 1
        await pace()
        const path = step % 2 ? `/calendar/v2/job_statuses/${job.id}` : '/calendar/v2/job_statuses?per_page=25'
        const at = Date.now()
        this.tally.count(await call(`${this.baseUrl}${path}`, { token }).catch((error: Error) => error), at, `GET ${path}`)
      }
      await pace()
      if (!(await this.write(token, 'POST', `/jobs/v1/job_statuses/${job.id}/transitions`, { data: { attributes: { status: 'completed' } } }, pace))) return
      job.status = 'completed'
    }
  }

  /** Sends a write until it is acknowledged; undefined if it was refused (a surprise, tallied). */
  private async write(token: string, method: string, path: string, body: unknown, pace: () => Promise<void>): Promise<Reply | undefined> {
    const key = randomUUID()
    for (;;) {
      const at = Date.now()
      const reply = await call(`${this.baseUrl}${path}`, { method, token, body, headers: { 'Idempotency-Key': key } }).catch((error: Error) => error)
      this.tally.count(reply, at, `${method} ${path}`)
      if (!(reply instanceof Error)) {
        if (reply.status >= 200 && reply.status < 300) {
          this.writesAt.push({ started: at, answered: Date.now() })
          this.acknowledged.push({ method, path, body, key, token, status: reply.status, text: reply.text })
          return reply
        }
        if (reply.status >= 400 && reply.status < 500 && reply.status !== 429) return undefined
        const retryAfter = Number(reply.headers.get('retry-after'))
        if (retryAfter > 0) await sleep(Math.min(retryAfter, 2) * 1000)
      }
      await pace()
    }
  }
}

/** One job's event stream, reconnected with Last-Event-ID whenever it ends, as a browser's EventSource does. */
export class Watcher {
  readonly states: Array<{ status: string; progress: number }> = []
  reconnects = 0
  private lastEventId: string | undefined
  private stopped = false
  private abort = new AbortController()
  private readonly done: Promise<void>

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {
    this.done = this.follow()
  }

  get last() {
    return this.states.at(-1)
  }

  /** Resolves once the stream has ended for good (its job ended) or `stop` was called. */
  get finished(): Promise<void> {
    return this.done
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    await this.done
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      try {
        const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: 'text/event-stream' }
        if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId
        const reply = await fetch(this.url, { headers, signal: this.abort.signal })
        if (reply.status === 200 && reply.body) {
          let buffer = ''
          for await (const chunk of reply.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += Buffer.from(chunk).toString('utf8')
            let end: number
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              this.take(buffer.slice(0, end))
              buffer = buffer.slice(end + 2)
            }
          }
        } else {
          await reply.text()
        }
      } catch {
        // Dropped: reconnect, below.
      }
      // A job that ended ends its stream for good.
      if (this.stopped || ['completed', 'failed', 'killed'].includes(this.last?.status ?? '')) return
      this.reconnects += 1
      await sleep(500)
    }
  }

  private take(event: string): void {
    let data = ''
    for (const line of event.split('\n')) {
      if (line.startsWith('id: ')) this.lastEventId = line.slice(4)
      else if (line.startsWith('data: ')) data += line.slice(6)
    }
    if (!data) return
    const { status, progress } = JSON.parse(data).data.attributes as { status: string; progress: number }
    this.states.push({ status, progress })
  }
}
