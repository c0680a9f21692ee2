/* global process */
// A test reporter that ends the run with every skipped test or suite and its reason, so a skip
// (no Chromium, no psql) is never a silent line in a long log. Plain JavaScript: the runner loads
// reporters before any TypeScript loader.

/** @param {AsyncIterable<{ type: string, data: { skip?: boolean | string, name: string, file?: string } }>} source */
export default async function* skippedReporter(source) {
  const skipped = []
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    const { skip, name, file } = event.data
    if (skip === undefined || skip === false) continue
    skipped.push(`  - ${file ? `${file.replace(`${process.cwd()}/`, '')}: ` : ''}${name}${typeof skip === 'string' ? ` (${skip})` : ''}`)
  }
  yield skipped.length === 0 ? '\nskipped: none\n' : `\nskipped: ${skipped.length}\n${skipped.join('\n')}\n`
}
