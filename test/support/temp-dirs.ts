// Fresh directories for a test file's data, removed when the file's tests end.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

/** Returns a function that makes a new directory under the system's temp dir each call; all go after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = []
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    dirs.push(dir)
    return dir
  }
}
