// The OAuth 2 provider, driven by simple-oauth2 as a real integration would, and attacked as one would not.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { AuthorizationCode } from 'simple-oauth2'
import { request } from './support/http'
import { createSignInPerson, hiddenFields, pkcePair, postConsent, postForm, REDIRECT_URI, registerApplication, submitConsent, type SignInPerson } from './support/oauth'
import { startTestServer, type TestServer } from './support/server'

let server: TestServer
before(async () => {
  // This file is about the protocol; throttling of failures has its own test below.
  server = await startTestServer({ AUTH_FAILURE_LIMIT: '100000' })
})
after(() => server.close())

const INVALID_GRANT = {
  error: 'invalid_grant',
  error_description:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
}

function oauthClient(credentials: { clientId: string; clientSecret: string }, authorizationMethod: 'body' | 'header' = 'body') {
  return new AuthorizationCode({
    client: { id: credentials.clientId, secret: credentials.clientSecret },
    auth: { tokenHost: server.url, tokenPath: '/oauth/token', authorizePath: '/oauth/authorize', revokePath: '/oauth/revoke' },
    options: { authorizationMethod },
  })
}

/** Signs in through the consent form and returns the code from the redirect. */
async function signIn(client: AuthorizationCode, person: SignInPerson, extra: Record<string, string> = {}) {
  const state = randomBytes(8).toString('hex')
  const url = client.authorizeURL({ redirect_uri: REDIRECT_URI, scope: 'calendar', state, ...extra })
  const reply = await submitConsent(url, person)
  assert.equal(reply.status, 302, reply.html)
  const location = new URL(reply.location!)
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI)
  assert.equal(location.searchParams.get('state'), state)
  return location.searchParams.get('code')!
}

async function apiStatus(token: string): Promise<{ status: number; hint?: string }> {
  const reply = await request(server.url, '/calendar/v2/job_statuses', { token })
  const detail: string | undefined = reply.status === 401 ? reply.json.errors[0].detail : undefined
  return { status: reply.status, ...(detail?.includes('Hint') ? { hint: detail.split('Hint: ')[1] } : {}) }
}

describe('the whole flow with simple-oauth2', () => {
  it('authorizes with PKCE, exchanges, calls the API, refreshes, refuses the old refresh token, revokes and expires', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const client = oauthClient(credentials)
    const { verifier, challenge } = pkcePair()

    // 1–2. authorize (submitting the consent form), then exchange the code
    const code = await signIn(client, person, { code_challenge: challenge, code_challenge_method: 'S256' })
    const first = await client.getToken({ code, redirect_uri: REDIRECT_URI, code_verifier: verifier } as never)
    const issued = first.token as Record<string, unknown>
    assert.match(String(issued.access_token), /^[0-9a-f]{64}$/)
    assert.match(String(issued.refresh_token), /^[0-9a-f]{64}$/)
    assert.equal(issued.token_type, 'bearer')
    assert.equal(issued.expires_in, 7200)
    assert.equal(issued.scope, 'calendar')
    assert.ok(Math.abs(Number(issued.created_at) - server.clock.now().getTime() / 1000) < 5)

    // 3. the API, as the signed-in person
    const list = await request(server.url, '/calendar/v2/job_statuses', { token: String(issued.access_token) })
    assert.equal(list.status, 200)
    assert.equal(list.headers.get('x-pco-api-auth-method'), 'OAuth2')
    assert.equal(list.json.meta.parent.id, person.organizationId)

    // 4. refresh: a new pair, the old access token stops; the old refresh token is refused and ends the sign-in
    const second = await first.refresh()
    const renewed = second.token as Record<string, unknown>
    assert.notEqual(renewed.access_token, issued.access_token)
    assert.notEqual(renewed.refresh_token, issued.refresh_token)
    assert.deepEqual(await apiStatus(String(renewed.access_token)), { status: 200 })
    assert.deepEqual(await apiStatus(String(issued.access_token)), { status: 401, hint: 'CAPUCHIN' })
    await assert.rejects(first.refresh(), (error: { data?: { res: { statusCode: number }; payload: unknown } }) => {
      assert.equal(error.data?.res.statusCode, 400)
      assert.deepEqual(error.data?.payload, INVALID_GRANT)
      return true
    })
    assert.deepEqual(await apiStatus(String(renewed.access_token)), { status: 401, hint: 'CAPUCHIN' })

    // 5. revoke (RFC 7009), with the client authenticating by HTTP Basic this time
    const headerClient = oauthClient(credentials, 'header')
    const third = await headerClient.getToken({ code: await signIn(headerClient, person), redirect_uri: REDIRECT_URI })
    assert.deepEqual(await apiStatus(String(third.token.access_token)), { status: 200 })
    await third.revoke('access_token')
    assert.deepEqual(await apiStatus(String(third.token.access_token)), { status: 401, hint: 'CAPUCHIN' })
    await third.revoke('refresh_token')
    await assert.rejects(third.refresh(), (error: { data?: { payload: unknown } }) => {
      assert.deepEqual(error.data?.payload, INVALID_GRANT)
      return true
    })

    // 6. expire: the access token after 7,200 s, the refresh token after a year
    const fourth = await client.getToken({ code: await signIn(client, person), redirect_uri: REDIRECT_URI })
    server.clock.advance(7_199_000)
    assert.deepEqual(await apiStatus(String(fourth.token.access_token)), { status: 200 })
    server.clock.advance(2_000)
    assert.deepEqual(await apiStatus(String(fourth.token.access_token)), { status: 401, hint: 'BABOON' })
    const fifth = await fourth.refresh()
    assert.deepEqual(await apiStatus(String(fifth.token.access_token)), { status: 200 })
    server.clock.advance(366 * 24 * 3600 * 1000)
    await assert.rejects(fifth.refresh(), (error: { data?: { payload: unknown } }) => {
      assert.deepEqual(error.data?.payload, INVALID_GRANT)
      return true
    })
  })
})

describe('the token endpoint', () => {
  it('answers Planning Center’s token response, key for key, with Cache-Control: no-store', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const code = await signIn(oauthClient(credentials), person)
    const reply = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code',
      code,
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      redirect_uri: REDIRECT_URI,
    })
    assert.equal(reply.status, 200)
    assert.deepEqual(Object.keys(reply.json), ['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'created_at'])
    assert.equal(reply.headers.get('cache-control'), 'no-store')
    assert.match(reply.headers.get('content-type') ?? '', /^application\/json/)
  })

  it('refuses a replayed code and revokes what the first exchange issued', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const code = await signIn(oauthClient(credentials), person)
    const form = { grant_type: 'authorization_code', code, client_id: credentials.clientId, client_secret: credentials.clientSecret, redirect_uri: REDIRECT_URI }
    const first = await postForm(`${server.url}/oauth/token`, form)
    assert.equal(first.status, 200)
    assert.deepEqual(await apiStatus(String(first.json.access_token)), { status: 200 })
    const replay = await postForm(`${server.url}/oauth/token`, form)
    assert.equal(replay.status, 400)
    assert.deepEqual(replay.json, INVALID_GRANT)
    assert.equal(replay.headers.get('cache-control'), 'no-store')
    assert.deepEqual(await apiStatus(String(first.json.access_token)), { status: 401, hint: 'CAPUCHIN' })
    const refresh = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: String(first.json.refresh_token),
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
    })
    assert.deepEqual(refresh.json, INVALID_GRANT)
  })

  it('refuses another client’s code, which stays usable by its own client', async () => {
    const person = await createSignInPerson(server.db)
    const mine = await registerApplication(server.db)
    const other = await registerApplication(server.db)
    const code = await signIn(oauthClient(mine), person)
    const stolen = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code, client_id: other.clientId, client_secret: other.clientSecret, redirect_uri: REDIRECT_URI,
    })
    assert.equal(stolen.status, 400)
    assert.deepEqual(stolen.json, INVALID_GRANT)
    const own = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code, client_id: mine.clientId, client_secret: mine.clientSecret, redirect_uri: REDIRECT_URI,
    })
    assert.equal(own.status, 200)
  })

  it('refuses a wrong or missing PKCE verifier, and the code is spent', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const { verifier, challenge } = pkcePair()
    const exchange = (code: string, extra: Record<string, string>) =>
      postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code, client_id: credentials.clientId, client_secret: credentials.clientSecret, redirect_uri: REDIRECT_URI, ...extra,
      })
    const client = oauthClient(credentials)
    const code = await signIn(client, person, { code_challenge: challenge, code_challenge_method: 'S256' })
    const wrong = await exchange(code, { code_verifier: pkcePair().verifier })
    assert.equal(wrong.status, 400)
    assert.deepEqual(wrong.json, INVALID_GRANT)
    assert.deepEqual((await exchange(code, { code_verifier: verifier })).json, INVALID_GRANT)

    const another = await signIn(client, person, { code_challenge: challenge, code_challenge_method: 'S256' })
    assert.deepEqual((await exchange(another, {})).json, INVALID_GRANT)
  })

  it('refuses a redirect_uri that differs from the authorization request’s', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db, { redirectUris: [REDIRECT_URI, 'http://127.0.0.1:8765/other'] })
    const code = await signIn(oauthClient(credentials), person)
    const reply = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code, client_id: credentials.clientId, client_secret: credentials.clientSecret, redirect_uri: 'http://127.0.0.1:8765/other',
    })
    assert.deepEqual(reply.json, INVALID_GRANT)
  })

  it('answers invalid_client for a wrong secret, in the body or by HTTP Basic', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const code = await signIn(oauthClient(credentials), person)
    const inBody = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code, client_id: credentials.clientId, client_secret: 'f'.repeat(64), redirect_uri: REDIRECT_URI,
    })
    assert.equal(inBody.status, 401)
    assert.equal(inBody.json.error, 'invalid_client')
    assert.equal(inBody.headers.get('cache-control'), 'no-store')
    const basic = Buffer.from(`${credentials.clientId}:wrong`).toString('base64')
    const inHeader = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, { Authorization: `Basic ${basic}` })
    assert.equal(inHeader.status, 401)
    assert.equal(inHeader.json.error, 'invalid_client')
    // The code was never touched by the failed attempts.
    const good = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code, client_id: credentials.clientId, client_secret: credentials.clientSecret, redirect_uri: REDIRECT_URI,
    })
    assert.equal(good.status, 200)
  })

  it('answers unsupported_grant_type and invalid_request in RFC 6749 bodies', async () => {
    const credentials = await registerApplication(server.db)
    const auth = { client_id: credentials.clientId, client_secret: credentials.clientSecret }
    for (const grantType of ['password', 'client_credentials', 'urn:example:unknown']) {
      const reply = await postForm(`${server.url}/oauth/token`, { grant_type: grantType, username: 'a', password: 'b', ...auth })
      assert.equal(reply.status, 400)
      assert.equal(reply.json.error, 'unsupported_grant_type')
    }
    const missing = await postForm(`${server.url}/oauth/token`, { ...auth })
    assert.equal(missing.status, 400)
    assert.equal(missing.json.error, 'invalid_request')
    assert.equal(missing.headers.get('cache-control'), 'no-store')
  })

  it('answers invalid_request, never a 500, for any parameter sent twice at the token and revoke endpoints', async () => {
    const credentials = await registerApplication(server.db)
    const forms = [
      ['/oauth/token', `grant_type=authorization_code&code=a&code=b&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&client_id=${credentials.clientId}&client_secret=${credentials.clientSecret}`],
      ['/oauth/token', `grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=${credentials.clientId}&client_secret=${credentials.clientSecret}`],
      ['/oauth/token', `grant_type=refresh_token&refresh_token=a&client_id=${credentials.clientId}&client_secret=x&client_secret=${credentials.clientSecret}`],
      ['/oauth/revoke', `token=a&token=b&client_id=${credentials.clientId}&client_secret=${credentials.clientSecret}`],
    ]
    for (const [path, body] of forms) {
      const reply = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body })
      assert.equal(reply.status, 400, body)
      assert.equal(((await reply.json()) as { error: string }).error, 'invalid_request', body)
    }
  })

  it('issues tokens without the calendar scope that the API refuses with PELICAN', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db, { scopes: ['people'] })
    const client = oauthClient(credentials)
    const url = client.authorizeURL({ redirect_uri: REDIRECT_URI, scope: 'people' })
    const reply = await submitConsent(url, person)
    const code = new URL(reply.location!).searchParams.get('code')!
    const token = await client.getToken({ code, redirect_uri: REDIRECT_URI })
    assert.equal(token.token.scope, 'people')
    assert.deepEqual(await apiStatus(String(token.token.access_token)), { status: 401, hint: 'PELICAN' })
  })
})

describe('the authorization page', () => {
  const HOSTILE_REDIRECTS = [
    `${REDIRECT_URI}/`,
    'http://127.0.0.1:8765/Callback',
    'HTTP://127.0.0.1:8765/callback',
    `${REDIRECT_URI}?extra=1`,
    `${REDIRECT_URI}?`,
    `${REDIRECT_URI}#fragment`,
    'http://127.0.0.1:8766/callback',
    'http://127.0.0.1/callback',
    'https://127.0.0.1:8765/callback',
    'http://localhost:8765/callback',
    'http://[::1]:8765/callback',
    'https://127.0.0.1:8765@evil.example/callback',
    'http://127.0.0.1:8765@evil.example/callback',
    'http://127.0.0.1:8765.evil.example/callback',
    'http://evil.example/callback',
    'http://127.0.0.1:8765/callbackx',
    'http://127.0.0.1:8765/call',
    'http://127.0.0.1:8765//callback',
    'http://127.0.0.1:8765/x/../callback',
    'http://127.0.0.1:8765/callback%2F',
    ` ${REDIRECT_URI}`,
    `${REDIRECT_URI}%00`,
    'javascript:alert(1)',
    '//evil.example/callback',
  ]

  for (const redirectUri of HOSTILE_REDIRECTS) {
    it(`shows an error and never redirects for redirect_uri ${JSON.stringify(redirectUri)}`, async () => {
      const person = await createSignInPerson(server.db)
      const credentials = await registerApplication(server.db)
      const query = new URLSearchParams({ client_id: credentials.clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'calendar', state: 's' })
      const page = await fetch(`${server.url}/oauth/authorize?${query}`, { redirect: 'manual' })
      assert.equal(page.status, 400)
      assert.equal(page.headers.get('location'), null)
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
      assert.match(await page.text(), /Invalid redirect_uri/)
      // Submitting the form directly, with good credentials, must not redirect either.
      const posted = await postConsent(
        `${server.url}/oauth/authorize`,
        new URLSearchParams({ ...Object.fromEntries(query), email: person.email, password: person.password, decision: 'allow' }),
      )
      assert.equal(posted.status, 400)
      assert.equal(posted.location, null)
    })
  }

  it('shows an error for a parameter sent twice and never redirects', async () => {
    const credentials = await registerApplication(server.db)
    for (const repeated of ['redirect_uri', 'client_id', 'state', 'code_challenge']) {
      const query = new URLSearchParams({ client_id: credentials.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })
      query.append(repeated, repeated === 'redirect_uri' ? 'http://evil.example/cb' : 'again')
      const page = await fetch(`${server.url}/oauth/authorize?${query}`, { redirect: 'manual' })
      assert.equal(page.status, 400, repeated)
      assert.equal(page.headers.get('location'), null)
      assert.match(await page.text(), new RegExp(`${repeated} was sent more than once`))
    }
  })

  it('shows an error for an unknown client and never redirects', async () => {
    const query = new URLSearchParams({ client_id: 'nope', redirect_uri: REDIRECT_URI, response_type: 'code' })
    const page = await fetch(`${server.url}/oauth/authorize?${query}`, { redirect: 'manual' })
    assert.equal(page.status, 400)
    assert.equal(page.headers.get('location'), null)
  })

  it('redirects access_denied with the state when the person denies', async () => {
    const person = await createSignInPerson(server.db)
    const client = oauthClient(await registerApplication(server.db))
    const reply = await submitConsent(client.authorizeURL({ redirect_uri: REDIRECT_URI, scope: 'calendar', state: 'xyz' }), person, 'deny')
    assert.equal(reply.status, 302)
    const location = new URL(reply.location!)
    assert.equal(location.searchParams.get('error'), 'access_denied')
    assert.equal(location.searchParams.get('state'), 'xyz')
    assert.equal(location.searchParams.get('code'), null)
  })

  it('redirects invalid_scope and unsupported_response_type to a verified redirect_uri', async () => {
    const client = oauthClient(await registerApplication(server.db))
    const scope = await fetch(client.authorizeURL({ redirect_uri: REDIRECT_URI, scope: 'giving', state: 'a' }), { redirect: 'manual' })
    assert.equal(scope.status, 302)
    assert.equal(new URL(scope.headers.get('location')!).searchParams.get('error'), 'invalid_scope')
    const plainParameters: Record<string, string> = { redirect_uri: REDIRECT_URI, code_challenge: 'abc', code_challenge_method: 'plain' }
    const plain = await fetch(client.authorizeURL(plainParameters), { redirect: 'manual' })
    assert.equal(new URL(plain.headers.get('location')!).searchParams.get('error'), 'invalid_request')
  })

  it('refuses a code_challenge outside RFC 7636 before the consent form', async () => {
    const client = oauthClient(await registerApplication(server.db))
    for (const challenge of ['short', 'a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`, `${'a'.repeat(42)}=`, `${'a'.repeat(42)} `]) {
      const parameters: Record<string, string> = { redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256', state: 'st' }
      const page = await fetch(client.authorizeURL(parameters), { redirect: 'manual' })
      assert.equal(page.status, 302, challenge)
      const location = new URL(page.headers.get('location')!)
      assert.equal(location.searchParams.get('error'), 'invalid_request', challenge)
      assert.match(location.searchParams.get('error_description') ?? '', /code_challenge/)
      assert.equal(location.searchParams.get('state'), 'st')
    }
    // The edges of the grammar are accepted: 43 and 128 characters of the unreserved set.
    for (const challenge of [`${'A'.repeat(39)}-._~`, 'z9'.repeat(64)]) {
      const parameters: Record<string, string> = { redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256' }
      const page = await fetch(client.authorizeURL(parameters), { redirect: 'manual' })
      assert.equal(page.status, 200, challenge)
    }
  })

  it('refuses a state it could not carry before the consent form, and carries an ASCII one intact through Allow', async () => {
    const person = await createSignInPerson(server.db)
    const client = oauthClient(await registerApplication(server.db))
    const refused = await fetch(client.authorizeURL({ redirect_uri: REDIRECT_URI, state: 'café' }), { redirect: 'manual' })
    assert.equal(refused.status, 302)
    const location = new URL(refused.headers.get('location')!)
    assert.equal(location.searchParams.get('error'), 'invalid_request')
    assert.match(location.searchParams.get('error_description') ?? '', /state/)
    assert.equal(location.searchParams.get('code'), null)
    // Submitted directly with the right password, it is refused the same way, never a code without its state.
    const form = hiddenFields(await (await fetch(client.authorizeURL({ redirect_uri: REDIRECT_URI, state: 'ok' }))).text())
    const posted = await postConsent(`${server.url}/oauth/authorize`, new URLSearchParams({ ...form, state: 'café', email: person.email, password: person.password, decision: 'allow' }))
    assert.equal(posted.status, 302)
    assert.equal(new URL(posted.location!).searchParams.get('code'), null)
    assert.equal(new URL(posted.location!).searchParams.get('error'), 'invalid_request')

    const state = 'a b+c/d=e&f~!*()\'Z'
    const allowed = await submitConsent(client.authorizeURL({ redirect_uri: REDIRECT_URI, state }), person)
    assert.equal(allowed.status, 302)
    const back = new URL(allowed.location!)
    assert.ok(back.searchParams.get('code'))
    assert.equal(back.searchParams.get('state'), state)
  })

  it('re-renders the form for a wrong password, without a redirect', async () => {
    const person = await createSignInPerson(server.db)
    const client = oauthClient(await registerApplication(server.db))
    const reply = await submitConsent(client.authorizeURL({ redirect_uri: REDIRECT_URI }), { email: person.email, password: 'wrong' })
    assert.equal(reply.status, 401)
    assert.equal(reply.location, null)
    assert.match(reply.html, /Email or password is incorrect/)
  })

  it('escapes what it echoes and cannot be framed', async () => {
    const credentials = await registerApplication(server.db)
    const url = `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: credentials.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', state: '"><script>alert(1)</script>' })}`
    const page = await fetch(url)
    const html = await page.text()
    assert.ok(!html.includes('<script>'))
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/)
  })
})

describe('the API explorer, a public client', () => {
  const EXPLORER = 'api-explorer'
  const explorerRedirect = () => `${server.url}/explorer/`
  const authorizeUrl = (extra: Record<string, string>) =>
    `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: EXPLORER, redirect_uri: explorerRedirect(), response_type: 'code', scope: 'calendar', ...extra })}`

  it('signs in with PKCE alone, and its token reads the Calendar API', async () => {
    const person = await createSignInPerson(server.db)
    const { verifier, challenge } = pkcePair()
    const reply = await submitConsent(authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }), person)
    assert.equal(reply.status, 302, reply.html)
    const location = new URL(reply.location!)
    assert.equal(`${location.origin}${location.pathname}`, explorerRedirect())
    const code = location.searchParams.get('code')!
    const token = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: explorerRedirect(), client_id: EXPLORER, code_verifier: verifier })
    assert.equal(token.status, 200, token.text)
    assert.equal(token.json.scope, 'calendar')
    assert.equal((await request(server.url, '/calendar/v2', { token: String(token.json.access_token) })).status, 200)

    // RFC 7009: a public client revokes by naming itself, without a secret.
    const revoked = await postForm(`${server.url}/oauth/revoke`, { token: String(token.json.access_token), client_id: EXPLORER })
    assert.equal(revoked.status, 200)
    assert.equal((await request(server.url, '/calendar/v2', { token: String(token.json.access_token) })).status, 401)
  })

  it('must send a code_challenge, and a code without its verifier is refused', async () => {
    const person = await createSignInPerson(server.db)
    const refused = await submitConsent(authorizeUrl({ state: 's1' }), person)
    assert.equal(refused.status, 302)
    const error = new URL(refused.location!).searchParams
    assert.equal(error.get('error'), 'invalid_request')
    assert.equal(error.get('state'), 's1')

    const { challenge } = pkcePair()
    const code = new URL((await submitConsent(authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }), person)).location!).searchParams.get('code')!
    const noVerifier = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: explorerRedirect(), client_id: EXPLORER })
    // Without a verifier the explorer has proved nothing: it is not authenticated at all.
    assert.equal(noVerifier.status, 401)
    assert.equal(noVerifier.json.error, 'invalid_client')
    const wrongVerifier = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: explorerRedirect(), client_id: EXPLORER, code_verifier: pkcePair().verifier })
    assert.deepEqual(wrongVerifier.json, INVALID_GRANT)
  })

  it('answers under both loopback names of this server', async () => {
    const person = await createSignInPerson(server.db)
    const { verifier, challenge } = pkcePair()
    const localhost = explorerRedirect().replace('127.0.0.1', 'localhost')
    assert.notEqual(localhost, explorerRedirect())
    const reply = await submitConsent(authorizeUrl({ redirect_uri: localhost, code_challenge: challenge, code_challenge_method: 'S256' }), person)
    assert.equal(reply.status, 302, reply.html)
    assert.ok(reply.location!.startsWith(`${localhost}?`))
    const code = new URL(reply.location!).searchParams.get('code')!
    const token = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: localhost, client_id: EXPLORER, code_verifier: verifier })
    assert.equal(token.status, 200, token.text)
  })

  it('answers only to this server’s /explorer/, never to another redirect_uri', async () => {
    const port = new URL(server.url).port
    for (const redirectUri of ['http://evil.example/explorer/', `${server.url}/explorer`, `${server.url}/explorer/x`, '/explorer/', `http://[::1]:${port}/explorer/`, `http://127.0.0.2:${port}/explorer/`]) {
      const page = await fetch(authorizeUrl({ redirect_uri: redirectUri, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' })
      assert.equal(page.status, 400, redirectUri)
      assert.equal(page.headers.get('location'), null)
    }
  })

  it('does not let a confidential client skip its secret, nor the explorer send one', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const { verifier, challenge } = pkcePair()
    const url = `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: credentials.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' })}`
    const code = new URL((await submitConsent(url, person)).location!).searchParams.get('code')!
    const withoutSecret = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: credentials.clientId, code_verifier: verifier })
    assert.equal(withoutSecret.status, 401)
    assert.equal(withoutSecret.json.error, 'invalid_client')
    const revoke = await postForm(`${server.url}/oauth/revoke`, { token: 'anything', client_id: credentials.clientId })
    assert.equal(revoke.status, 401)

    const explorerWithSecret = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'x', client_id: EXPLORER, client_secret: 'guess' })
    assert.equal(explorerWithSecret.json.error, 'invalid_client')
  })
})

describe('secrets at rest and in logs', () => {
  it('keep no plaintext token, secret, code or password in any table or log line', async () => {
    const person = await createSignInPerson(server.db)
    const credentials = await registerApplication(server.db)
    const client = oauthClient(credentials)
    const code = await signIn(client, person)
    const token = await client.getToken({ code, redirect_uri: REDIRECT_URI })
    const refreshed = await token.refresh()
    await request(server.url, '/calendar/v2/job_statuses', { token: String(refreshed.token.access_token) })
    const secrets = [
      credentials.clientSecret, code, person.password, person.token, person.pat.secret,
      String(token.token.access_token), String(token.token.refresh_token), String(refreshed.token.access_token), String(refreshed.token.refresh_token),
    ]
    const tables = ['organizations', 'people', 'personal_access_tokens', 'oauth_applications', 'oauth_access_tokens', 'oauth_authorization_codes', 'rate_limits']
    const dump = JSON.stringify(await Promise.all(tables.map((table) => server.db(table).select('*'))))
    const logs = server.logs.join('\n')
    for (const secret of secrets) {
      assert.ok(!dump.includes(secret), 'a secret is stored in plaintext')
      assert.ok(!logs.includes(secret), 'a secret reached the log')
    }
  })
})
