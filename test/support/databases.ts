// A PostgreSQL database of a test's own, on the server DATABASE_URL names.
import pg from 'pg'

/** Runs `use` with the URL of a new database named `name` on DATABASE_URL's server, and drops it afterwards. */
export async function withOwnDatabase<T>(name: string, use: (url: string) => Promise<T>): Promise<T> {
  const url = new URL(process.env.DATABASE_URL!)
  const admin = new pg.Client({ connectionString: url.toString() })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`)
    await admin.query(`CREATE DATABASE ${name}`)
    url.pathname = `/${name}`
    return await use(url.toString())
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}
