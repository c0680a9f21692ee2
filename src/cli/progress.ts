// Progress of long work on stderr: a bar redrawn in place on a terminal, plain lines through a pipe.

export interface Progress {
  /** `done` of `total` units finished so far. */
  update(done: number): void
  finish(): void
}

const number = (n: number) => Math.round(n).toLocaleString('en-US')

export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr, clock = () => performance.now()): Progress {
  const started = clock()
  let lastLine = -1
  const describe = (done: number) => {
    const seconds = (clock() - started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    return `${number(done)} / ${number(total)} ${label}, ${number(rate)} ${label}/s`
  }
  return {
    update(done) {
      const fraction = total === 0 ? 1 : done / total
      if (stream.isTTY) {
        const width = 30
        const filled = Math.round(fraction * width)
        stream.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${describe(done)}\x1b[K`)
        return
      }
      // A line per tenth, so a log of a long run shows it moving without flooding.
      const tenth = Math.floor(fraction * 10)
      if (tenth === lastLine) return
      lastLine = tenth
      stream.write(`${describe(done)}\n`)
    },
    finish() {
      if (stream.isTTY) stream.write('\n')
    },
  }
}
