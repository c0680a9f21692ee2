// Webhook secrets at rest: sealed under the server's key, refused when tampered with, and one key
// file however many processes start at once.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig } from '../src/config'
import { KEY_FILE, loadSecretKey, secretKey, signature } from '../src/webhooks/secrets'
import { tempDirs } from './support/temp-dirs'

const newDir = tempDirs('pco-webhook-secrets-')

describe('webhook secrets', () => {
  it('seal and open under the same key; another key or a changed byte opens nothing', () => {
    const key = secretKey(randomBytes(32))
    const sealed = key.seal('the secret')
    assert.doesNotMatch(sealed, /the secret/)
    assert.notEqual(key.seal('the secret'), sealed, 'a fresh nonce every time')
    assert.equal(key.open(sealed), 'the secret')
    assert.throws(() => secretKey(randomBytes(32)).open(sealed))
    const [version, iv, tag, body] = sealed.split(':')
    const flipped = Buffer.from(body!, 'base64')
    flipped[0] = flipped[0]! ^ 1
    assert.throws(() => key.open([version, iv, tag, flipped.toString('base64')].join(':')))
    assert.notEqual(key.id, secretKey(randomBytes(32)).id)
  })

  it('signs with HMAC-SHA256 in hexadecimal', () => {
    // RFC 4231, test case 2.
    assert.equal(signature('Jefe', 'what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })

  it('makes one key file, readable by its owner only, when many processes start at once', async () => {
    const dataDir = join(newDir(), 'data')
    const keys = await Promise.all(Array.from({ length: 20 }, () => loadSecretKey({ dataDir, webhookSecretKey: undefined })))
    assert.equal(new Set(keys.map(({ key }) => key.id)).size, 1)
    assert.equal(statSync(join(dataDir, KEY_FILE)).mode & 0o777, 0o600)
    const again = await loadSecretKey({ dataDir, webhookSecretKey: undefined })
    assert.equal(again.key.id, keys[0]!.key.id, 'the file is kept across starts')
    const configured = await loadSecretKey({ dataDir, webhookSecretKey: Buffer.alloc(32, 7) })
    assert.equal(configured.fromFile, undefined)
    assert.equal(configured.key.id, secretKey(Buffer.alloc(32, 7)).id)
  })

  it('reads WEBHOOK_SECRET_KEY as 64 hexadecimal digits or base64 of 32 bytes, and names it when wrong', () => {
    const bytes = randomBytes(32)
    assert.deepEqual(loadConfig({ WEBHOOK_SECRET_KEY: bytes.toString('hex') }).webhookSecretKey, bytes)
    assert.deepEqual(loadConfig({ WEBHOOK_SECRET_KEY: bytes.toString('base64') }).webhookSecretKey, bytes)
    for (const bad of ['short', 'ab'.repeat(31), 'zz'.repeat(32), randomBytes(16).toString('base64')]) {
      assert.throws(() => loadConfig({ WEBHOOK_SECRET_KEY: bad }), (error: unknown) => error instanceof ConfigError && error.variable === 'WEBHOOK_SECRET_KEY', bad)
    }
    for (const [name, value] of [['WEBHOOK_TIMEOUT', '0'], ['WEBHOOK_RETRY_BASE', 'soon'], ['WEBHOOK_ALLOW_PRIVATE', 'maybe'], ['WEBHOOK_RETENTION_DAYS', '0']] as const) {
      assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => error instanceof ConfigError && error.variable === name, name)
    }
    const demo = loadConfig({})
    assert.deepEqual(demo.webhookAllow, { http: true, loopback: true, private: false }, 'the demo allows a receiver on this machine')
    const production = loadConfig({ DATABASE_URL: 'postgres://localhost/x' })
    assert.deepEqual(production.webhookAllow, { http: false, loopback: false, private: false })
  })
})
