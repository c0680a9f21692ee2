// A job's event stream (Server-Sent Events): the job now, then again after every change made
// through any process, until it ends. Memory is bounded whatever the clients do: a client that does
// not read is sent the latest state once it does, never a backlog, and all the streams of one job
// share one read and one rendering of each state.
import type { Request, Response } from 'express'
import { ServiceUnavailable } from '../jsonapi/errors'
import { TERMINAL, type Status } from './lifecycle'
import type { JobStatusNotifications } from './notifications'
import { findJobStatus, type JobStatusRow } from './query'
import type { Knex } from 'knex'
import { eventStreamsOpen } from '../http/metrics'

/** One state of a job, rendered once as the bytes of its event. */
interface JobEvent {
  version: string
  bytes: Buffer
  terminal: boolean
}

interface Watched {
  watchers: number
  /** The latest read, and the tick it started at: a watcher told of a change before then may use it. */
  latest?: { startedAt: number; event: Promise<JobEvent | undefined> }
}

export interface EventStreamOptions {
  db: Knex
  notifications: JobStatusNotifications
  /** The job's document, as every answer of the write API renders it. */
  render: (row: JobStatusRow) => Promise<string>
  /** How many streams this process keeps open at once; one more answers 503. */
  maxStreams: number
  retryAfter: number
}

export function eventStreams({ db, notifications, render, maxStreams, retryAfter }: EventStreamOptions) {
  const jobs = new Map<string, Watched>()
  let open = 0
  // Orders changes and reads: a read that started after a watcher heard of a change shows that change.
  let clock = 0

  const read = async (organizationId: string, id: string): Promise<JobEvent | undefined> => {
    const row = await findJobStatus(db, organizationId, id).catch(() => undefined)
    if (!row) return undefined
    const at = new Date(row.updated_at).getTime()
    const bytes = Buffer.from(`event: job_status\nid: ${at}\ndata: ${await render(row)}\n\n`)
    return { version: `${row.status}@${at}`, bytes, terminal: TERMINAL.includes(row.status as Status) }
  }

  /** The job as read after tick `since`: shared by every watcher of the job that asks for no fresher. */
  const latest = (key: string, organizationId: string, id: string, since: number) => {
    const watched = jobs.get(key)!
    if (watched.latest && watched.latest.startedAt > since) return watched.latest.event
    const latest = { startedAt: ++clock, event: read(organizationId, id) }
    watched.latest = latest
    return latest.event
  }

  return async (req: Request, res: Response, organizationId: string, id: string) => {
    if (open >= maxStreams) throw new ServiceUnavailable(retryAfter, 'event_streams_full', 'This server has as many event streams open as it allows; retry later')
    open += 1
    eventStreamsOpen.inc()
    res.once('close', () => {
      open -= 1
      eventStreamsOpen.dec()
    })
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' })
    // A HEAD has its headers and nothing more: there is no body to wait for.
    if (req.method === 'HEAD') return void res.end()

    const key = `${organizationId}:${id}`
    const watched = jobs.get(key) ?? { watchers: 0 }
    watched.watchers += 1
    jobs.set(key, watched)
    let sentVersion = ''
    let finished = false
    // The tick of the latest change heard and not yet sent. While the client is not reading (its
    // socket's buffer is full), changes only move it: when the socket drains, the latest state is sent.
    let changedAt: number | undefined = ++clock
    let sending = false
    const finish = () => {
      if (finished) return
      finished = true
      unsubscribe()
      clearInterval(heartbeat)
      if ((watched.watchers -= 1) === 0) jobs.delete(key)
      res.end()
    }
    const send = async () => {
      if (sending) return
      sending = true
      try {
        // One read at a time, in order, so events never go backwards.
        while (changedAt !== undefined && !finished && !res.writableNeedDrain) {
          const since = changedAt
          changedAt = undefined
          const event = await latest(key, organizationId, id, since)
          if (!event || finished || event.version === sentVersion) continue
          sentVersion = event.version
          res.write(event.bytes)
          if (event.terminal) finish()
        }
      } finally {
        sending = false
      }
    }
    const unsubscribe = notifications.subscribe(organizationId, id, (change) => {
      if (change === 'closing') return finish()
      changedAt = ++clock
      // After every watcher of this change has heard of it, so that they share one read.
      setImmediate(() => void send())
    })
    res.on('drain', () => void send())
    const heartbeat = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': keep-alive\n\n')
    }, 15_000)
    // Fires when the client goes away (or the stream ended): stop listening and writing.
    res.on('close', finish)
    // Read after subscribing, so a change between the first read and the subscription is not lost.
    await send()
  }
}
