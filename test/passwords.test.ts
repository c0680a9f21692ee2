// Signing in with a password: Argon2id digests, older digests upgraded, and no way to tell by timing
// whether an email has an account.
import assert from 'node:assert/strict'
import { randomBytes, scryptSync } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createPerson } from '../src/auth/credentials'
import { hashPassword } from '../src/auth/passwords'
import { createTenant } from './support/factories'
import { request } from './support/http'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  server = await startTestServer({ RATE_LIMIT: '1000000', AUTH_FAILURE_LIMIT: '1000000' })
})
after(() => server.close())

const zendeskBasic = (email: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` })
const signIn = (email: string, password: string) => request(server.url, '/api/v2/job_statuses.json', { headers: zendeskBasic(email, password) })

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

describe('password digests', () => {
  it('a digest from before (scrypt) signs in and is replaced by an Argon2id one', async () => {
    const tenant = await createTenant(server.db)
    const email = `legacy-${tenant.organizationId}@example.org`
    const salt = randomBytes(16)
    const legacy = `scrypt$${salt.toString('hex')}$${scryptSync('old-password', salt, 64).toString('hex')}`
    const personId = await createPerson(server.db, tenant.organizationId, { name: 'Legacy', email, password_digest: legacy })
    assert.equal((await signIn(email, 'wrong')).status, 401)
    assert.equal((await server.db('people').where({ id: personId }).first('password_digest')).password_digest, legacy)
    assert.equal((await signIn(email, 'old-password')).status, 200)
    const upgraded = (await server.db('people').where({ id: personId }).first('password_digest')).password_digest as string
    assert.match(upgraded, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    assert.equal((await signIn(email, 'old-password')).status, 200)
    assert.equal((await signIn(email, 'wrong')).status, 401)
  })

  it('a wrong password for a registered email takes as long as any password for an unknown one', async () => {
    const tenant = await createTenant(server.db)
    const email = `timing-${tenant.organizationId}@example.org`
    await createPerson(server.db, tenant.organizationId, { name: 'Timing', email, password_digest: await hashPassword('right-password') })
    const known: number[] = []
    const unknown: number[] = []
    // Interleaved, so whatever else the machine does weighs on both alike.
    for (let i = 0; i < 25; i++) {
      for (const [sample, address] of [[known, email], [unknown, `nobody-${i}-${tenant.organizationId}@example.org`]] as const) {
        const started = process.hrtime.bigint()
        assert.equal((await signIn(address, 'wrong-password')).status, 401)
        sample.push(Number(process.hrtime.bigint() - started) / 1e6)
      }
    }
    const [k, u] = [median(known), median(unknown)]
    // Before, an unknown email answered about 20 times faster than a wrong password; the same work
    // either way leaves medians within a factor of two of each other.
    assert.ok(u >= k / 2 && k >= u / 2, `median ${k.toFixed(1)} ms for a registered email, ${u.toFixed(1)} ms for an unknown one`)
  })
})
