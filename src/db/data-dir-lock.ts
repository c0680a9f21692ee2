// The embedded database's files may be open in one process only: PGlite keeps its state in memory
// and writes it back, so a second process on the same files loses the first one's writes (or its
// own) without a word. Whoever opens DATA_DIR takes this lock first.
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'

export const LOCK_FILE = 'pco-job-status.lock'

export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly holder: string,
  ) {
    super(
      `the embedded database in ${dataDir} is open in process ${pid} (${holder}); two processes on the same files lose writes. ` +
        'Stop that process first. While the server runs, the command-line tool and psql use its database through the socket it serves in DATA_DIR.',
    )
    this.name = 'DataDirInUse'
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes DATA_DIR's lock for this process, naming it `holder` for whoever finds it taken; a lock left
 * by a process that no longer runs is taken over. Returns the release function.
 */
export function lockDataDir(dataDir: string, holder: string): () => void {
  const path = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, JSON.stringify({ pid: process.pid, holder, since: new Date().toISOString() }))
      closeSync(fd)
      let released = false
      const release = () => {
        if (released) return
        released = true
        process.off('exit', release)
        try {
          unlinkSync(path)
        } catch {
          // Already gone: nothing to release.
        }
      }
      process.once('exit', release)
      return release
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      let found: { pid?: unknown; holder?: unknown } = {}
      try {
        found = JSON.parse(readFileSync(path, 'utf8')) as typeof found
      } catch {
        // Being written right now, or unreadable: looked at again on the next attempt.
      }
      const pid = typeof found.pid === 'number' ? found.pid : undefined
      if (pid !== undefined && isAlive(pid)) throw new DataDirInUse(dataDir, pid, String(found.holder ?? 'unknown'))
      if (pid !== undefined) {
        try {
          unlinkSync(path)
        } catch {
          // Another process took it over first; the next attempt finds out who.
        }
      }
    }
  }
  throw new Error(`could not take the lock ${path}`)
}
