// The API explorer in a real browser (Debian's Chromium driven by playwright-core), used as a new person would.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { insertJobStatus, insertJobStatuses } from './support/factories'
import { request } from './support/http'
import { createSignInPerson, type SignInPerson } from './support/oauth'
import { startTestServer, type TestServer } from './support/server'

const CHROMIUM = '/usr/bin/chromium'
// Without these, Chromium reaches for Google's hosts at start; the test also proves the page never does.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
const SCREENSHOTS = path.join(__dirname, 'screenshots')
const ROWS = 120
/** Evaluated in the page (as text: the tests are compiled without the DOM's types). */
const FITS_THE_WIDTH = 'document.documentElement.scrollWidth <= window.innerWidth'

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs Debian's chromium)`

let server: TestServer
let browser: Browser
let person: SignInPerson
let ids: string[]

before(async () => {
  if (skip) return
  mkdirSync(SCREENSHOTS, { recursive: true })
  server = await startTestServer()
  person = await createSignInPerson(server.db)
  ids = await insertJobStatuses(server.db, person.organizationId, ROWS)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS })
})
after(async () => {
  await browser?.close()
  await server?.close()
})

/** A browser context that records the host of every request its pages make. */
async function newContext(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page; hosts: Set<string> }> {
  const context = await browser.newContext({ viewport, permissions: ['clipboard-read', 'clipboard-write'] })
  // Playwright's 30-second default fails a step that a loaded machine only makes slow: waits wait for their condition.
  context.setDefaultTimeout(0)
  const hosts = new Set<string>()
  context.on('request', (r) => {
    const url = new URL(r.url())
    if (url.protocol !== 'data:') hosts.add(url.host)
  })
  const page = await context.newPage()
  // A script error in the page fails the test that caused it.
  page.on('pageerror', (error) => {
    throw error
  })
  return { context, page, hosts }
}

// Phones are shown as the person sees them, one screen; desktops whole.
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: !name.startsWith('phone') })

// The page's policy forbids eval, so nothing here runs a function in the page while it waits:
// the explorer marks each finished answer on #response (data-sequence, data-answered-path).
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function answerMarks(page: Page) {
  const response = page.locator('#response')
  return { sequence: Number((await response.getAttribute('data-sequence')) ?? 0), path: await response.getAttribute('data-answered-path'), busy: await response.getAttribute('aria-busy') }
}

/**
 * Does `action` and waits for the explorer's next answer; returns the status it shows.
 * With `expectedPath`, the answer must be for that path.
 */
async function act(page: Page, action: () => Promise<unknown>, expectedPath?: string): Promise<string> {
  const before = (await answerMarks(page)).sequence
  await action()
  for (;;) {
    const marks = await answerMarks(page)
    if (marks.sequence > before && marks.busy === 'false') {
      if (expectedPath !== undefined) assert.equal(marks.path, expectedPath)
      return (await page.locator('#status').textContent()) ?? ''
    }
    await sleep(25)
  }
}

/** Whether the element's box is inside the viewport as scrolled now. */
async function isOnScreen(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).boundingBox()
  const viewport = page.viewportSize()!
  return box !== null && box.y >= 0 && box.y < viewport.height
}

/** Waits for the first answer of a freshly loaded explorer page; returns the status it shows. */
async function loaded(page: Page, expectedPath: string): Promise<string> {
  for (;;) {
    const marks = await answerMarks(page)
    if (marks.path === expectedPath && marks.busy === 'false') return (await page.locator('#status').textContent()) ?? ''
    await sleep(25)
  }
}

/** Opens the explorer at `base`, signs in through this server's OAuth as the test's person, and waits for the first answer. */
async function signInWithOAuth(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/explorer/`)
  await page.getByRole('button', { name: 'Sign in with OAuth' }).click()
  await page.getByLabel('Email').fill(person.email)
  await page.getByLabel('Password').fill(person.password)
  await page.getByRole('button', { name: /allow/i }).click()
  await page.waitForURL((url) => url.pathname === '/explorer/' && !url.search)
  assert.equal(await loaded(page, '/calendar/v2'), '200 OK')
}

async function shownRowIds(page: Page): Promise<string[]> {
  return page.locator('#rows tbody tr td:first-child').allTextContents()
}

describe('the API explorer in Chromium', { skip }, () => {
  it('signs in through OAuth, pages through job statuses, opens one, and shows what the API answers', async () => {
    const { context, page, hosts } = await newContext({ width: 1280, height: 900 })
    await page.goto(`${server.url}/explorer`)
    assert.equal(new URL(page.url()).pathname, '/explorer/')
    await shot(page, 'desktop-1-sign-in')

    // 1. Sign in through the server's OAuth page, as the registered explorer application.
    await page.getByRole('button', { name: 'Sign in with OAuth' }).click()
    await page.waitForURL((url) => url.pathname === '/oauth/authorize')
    assert.match((await page.locator('main').textContent()) ?? '', /API Explorer/)
    await shot(page, 'desktop-2-consent')
    await page.getByLabel('Email').fill(person.email)
    await page.getByLabel('Password').fill(person.password)
    await page.getByRole('button', { name: /allow/i }).click()
    await page.waitForURL((url) => url.pathname === '/explorer/' && !url.search)
    assert.equal(await loaded(page, '/calendar/v2'), '200 OK')
    assert.match((await page.locator('#identity').textContent()) ?? '', /Signed in with OAuth/)
    const organization = (await request(server.url, '/calendar/v2', { token: person.token })).json.data
    assert.equal(await page.locator('#record dd[data-attribute="name"]').textContent(), organization.attributes.name)
    await shot(page, 'desktop-3-organization')

    // 2. Open job_statuses from the link in the answer.
    assert.equal(await act(page, () => page.locator('#record a', { hasText: '/calendar/v2/job_statuses' }).click(), '/calendar/v2/job_statuses'), '200 OK')
    assert.deepEqual(await shownRowIds(page), ids.slice(0, 25))
    assert.equal(await page.locator('#page-info').textContent(), `1–25 of ${ROWS}`)
    // Beside the answer, the reference: the operation, its parameters and the resource's attributes, from the OpenAPI document.
    assert.equal(await page.locator('#reference > summary').textContent(), 'Reference: GET /calendar/v2/job_statuses')
    const referenced = await page.locator('#reference table').last().locator('tbody tr td:first-child').allTextContents()
    const documented = (await request(server.url, '/openapi.json')).json.components.schemas.JobStatus.properties.attributes.properties
    assert.deepEqual(referenced, Object.keys(documented))
    assert.ok((await page.locator('#reference table').first().locator('tbody tr td:first-child').allTextContents()).includes('per_page'))

    // 3. Forward twice by links.next, then open a job.
    const next = page.getByRole('button', { name: 'Next →' })
    assert.equal(await act(page, () => next.click(), '/calendar/v2/job_statuses?offset=25'), '200 OK')
    assert.equal(await act(page, () => next.click(), '/calendar/v2/job_statuses?offset=50'), '200 OK')
    // 4. What is shown is what the API answers for the same page.
    const third = (await request(server.url, '/calendar/v2/job_statuses?offset=50&per_page=25', { token: person.token })).json
    assert.deepEqual(await shownRowIds(page), third.data.map((row: { id: string }) => row.id))
    assert.deepEqual(await shownRowIds(page), ids.slice(50, 75))
    assert.equal(await page.locator('#page-info').textContent(), `51–75 of ${ROWS}`)
    // The pager is below the rows too.
    assert.equal(await page.locator('#page-info-bottom').textContent(), `51–75 of ${ROWS}`)
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Next page (below the rows)' }).click(), '/calendar/v2/job_statuses?offset=75'), '200 OK')
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Previous page (below the rows)' }).click(), '/calendar/v2/job_statuses?offset=50'), '200 OK')
    assert.equal(await page.locator('#headers tr[data-header="x-pco-api-processed-as-version"] td').textContent(), '2022-07-07')
    assert.match((await page.locator('#headers tr[data-header="x-pco-api-request-rate-count"] td').textContent()) ?? '', /^\d+$/)
    assert.match((await page.locator('#headers tr[data-header="etag"] td').textContent()) ?? '', /^W\//)
    assert.match((await page.locator('#timing').textContent()) ?? '', /^\d+ ms$/)
    await shot(page, 'desktop-4-third-page')

    const job = third.data[0]
    assert.equal(await act(page, () => page.getByRole('link', { name: `Open job status ${job.id}` }).click(), `/calendar/v2/job_statuses/${job.id}`), '200 OK')
    const read = (await request(server.url, `/calendar/v2/job_statuses/${job.id}`, { token: person.token })).json.data
    assert.equal(await page.locator('#record dd[data-attribute="id"]').textContent(), read.id)
    assert.equal(await page.locator('#record dd[data-attribute="status"]').textContent(), read.attributes.status)
    assert.equal(await page.locator('#record dd[data-attribute="message"]').textContent(), read.attributes.message)
    // The body is the document itself, folded and unfolded.
    assert.deepEqual(JSON.parse((await page.locator('#body').innerText()).replace(/\s+\d+ (keys?|items?) /g, '')), (await request(server.url, `/calendar/v2/job_statuses/${job.id}`, { token: person.token })).json)
    await page.getByRole('button', { name: 'Collapse all' }).click()
    assert.equal(await page.locator('#body details[open]').count(), 0)
    await page.getByRole('button', { name: 'Expand all' }).click()
    assert.ok((await page.locator('#body details[open]').count()) > 0)
    await shot(page, 'desktop-5-job')

    // Copy as curl: the line works in a terminal and answers the same job.
    await page.getByRole('button', { name: 'Copy as curl' }).click()
    const line = (await page.evaluate('navigator.clipboard.readText()')) as string
    assert.match(line, /^curl -g -i -H 'Authorization: Bearer [^']+' -H 'Accept: application\/vnd.api\+json' 'http:\/\/[^']+'$/)
    const { stdout } = await promisify(execFile)('sh', ['-c', line])
    assert.match(stdout, /^HTTP\/1\.1 200 OK/)
    assert.equal(JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)).data.id, job.id)

    // A job links back to its list.
    assert.equal(await act(page, () => page.locator('#back-to-list').click(), '/calendar/v2/job_statuses'), '200 OK')
    // A long answer opens folded below its first levels; a short one opens whole.
    assert.equal(await act(page, () => page.getByLabel('Path').fill('/calendar/v2/job_statuses?per_page=100').then(() => page.getByLabel('Path').press('Enter')), '/calendar/v2/job_statuses?per_page=100'), '200 OK')
    assert.ok((await page.locator('#body details:not([open])').count()) >= 100, 'the rows of a long list are folded')
    assert.equal(await page.locator('#body > details[open]').count(), 1)

    // A path the server cannot parse is a 400 shown readably, not a broken page.
    await page.getByLabel('Path').fill('/calendar/v2/job_statuses/%E0%A4%A')
    assert.equal(await act(page, () => page.getByLabel('Path').press('Enter'), '/calendar/v2/job_statuses/%E0%A4%A'), '400 Bad Request')
    assert.match((await page.locator('#problem').textContent()) ?? '', /could not be parsed/)

    // 5. A 404, typed into the address bar.
    await page.getByLabel('Path').fill('/calendar/v2/job_statuses/999999999999')
    assert.equal(await act(page, () => page.getByLabel('Path').press('Enter'), '/calendar/v2/job_statuses/999999999999'), '404 Not Found')
    assert.match((await page.locator('#problem').textContent()) ?? '', /could not be found/)
    assert.match((await page.locator('#body').textContent()) ?? '', /"errors"/)
    await shot(page, 'desktop-6-not-found')

    // Signing out revokes the explorer's token; a 401 is then shown readably.
    const token = (await page.evaluate("JSON.parse(sessionStorage.getItem('pco-explorer.credentials')).token")) as string
    assert.equal((await request(server.url, '/calendar/v2', { token })).status, 200)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in with OAuth' }).waitFor()
    assert.equal((await request(server.url, '/calendar/v2', { token })).status, 401)
    await page.getByLabel('Access token').fill(token)
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Use this token' }).first().click()), '401 Unauthorized')
    assert.match((await page.locator('#problem').textContent()) ?? '', /could not be authenticated.*Sign out and sign in again/s)
    assert.match((await page.locator('#body').textContent()) ?? '', /CAPUCHIN/)
    await shot(page, 'desktop-7-unauthorized')

    assert.deepEqual([...hosts], [new URL(server.url).host], 'the page asked a host other than the server')
    await context.close()
  })

  it('works by keyboard at 375 px, with a personal access token and the list controls', async () => {
    const failed = await insertJobStatus(server.db, person.organizationId, { status: 'failed', message: 'keyboard' })
    const { context, page, hosts } = await newContext({ width: 375, height: 740 })
    await page.goto(`${server.url}/explorer/`)
    await page.getByLabel('Application ID').fill(person.pat.appId)
    await page.getByLabel('Secret').fill(person.pat.secret)
    assert.equal(await act(page, () => page.getByLabel('Secret').press('Enter'), '/calendar/v2'), '200 OK')
    assert.match((await page.locator('#identity').textContent()) ?? '', /Personal access token/)

    // "/" goes to the address bar.
    await page.locator('body').press('/')
    assert.equal(await page.evaluate('document.activeElement.id'), 'path-input')
    await page.keyboard.type('/calendar/v2/job_statuses')
    assert.equal(await act(page, () => page.keyboard.press('Enter'), '/calendar/v2/job_statuses'), '200 OK')
    // The status column comes right after the id, on screen at 375 px.
    assert.equal((await page.locator('#rows thead th').allTextContents())[1], 'status')
    const statusHeader = await page.locator('#rows thead th').nth(1).boundingBox()
    assert.ok(statusHeader && statusHeader.x + statusHeader.width <= 375, 'the status column is off screen')
    // Placeholders show a format, never something that reads as a value.
    assert.equal(await page.locator('input[name="where[started_at][gte]"]').getAttribute('placeholder'), 'YYYY-MM-DDThh:mm:ssZ')

    // On a phone the parameters start folded, so the answer is on the first screen; Enter unfolds them.
    assert.equal(await page.locator('#list-parameters').getAttribute('open'), null)
    assert.ok(await page.locator('#rows').isVisible())
    await page.locator('#list-parameters > summary').focus()
    await page.keyboard.press('Enter')
    // The list controls: where[status], per_page and fields, applied with the keyboard.
    await page.getByRole('group', { name: 'where[status]' }).getByRole('checkbox', { name: 'failed', exact: true }).check()
    await page.getByLabel('per_page').fill('10')
    await page.getByRole('group', { name: 'fields[JobStatus]' }).getByRole('checkbox', { name: 'status', exact: true }).check()
    assert.equal(await act(page, () => page.getByLabel('per_page').press('Enter'), '/calendar/v2/job_statuses?per_page=10&where[status]=failed&fields[JobStatus]=status'), '200 OK')
    assert.deepEqual(await shownRowIds(page), [failed])
    assert.deepEqual(await page.locator('#rows thead th').allTextContents(), ['id', 'status'])
    // Copied as curl, the filtered URL's brackets reach the server as written, run in sh.
    await page.getByRole('button', { name: 'Copy as curl' }).click()
    const line = (await page.evaluate('navigator.clipboard.readText()')) as string
    assert.match(line, /^curl -g /)
    const { stdout } = await promisify(execFile)('sh', ['-c', line])
    assert.match(stdout, /^HTTP\/1\.1 200 OK/)
    assert.deepEqual(JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)).data.map((row: { id: string }) => row.id), [failed])

    // "]" is the next page; "[" the previous one.
    await act(page, () => page.getByRole('button', { name: 'Clear' }).click(), '/calendar/v2/job_statuses')
    assert.equal(await act(page, () => page.locator('body').press(']'), '/calendar/v2/job_statuses?offset=25'), '200 OK')
    assert.equal(await act(page, () => page.locator('body').press('['), '/calendar/v2/job_statuses?offset=0'), '200 OK')

    // A fold opens and closes with Enter.
    const fold = page.locator('#body details > summary').nth(1)
    await fold.focus()
    await page.keyboard.press('Enter')
    assert.equal(await page.locator('#body details').nth(1).getAttribute('open'), null)
    await page.keyboard.press('Enter')
    assert.equal(await page.locator('#body details').nth(1).getAttribute('open'), '')

    // Nothing is wider than the phone.
    assert.ok(await page.evaluate(FITS_THE_WIDTH), 'the page scrolls sideways at 375 px')
    await shot(page, 'phone-1-list')

    // A bad personal access token: Planning Center's text/html refusal, shown readably.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Application ID').fill(person.pat.appId)
    await page.getByLabel('Secret').fill('wrong')
    assert.equal(await act(page, () => page.getByLabel('Secret').press('Enter')), '401 Unauthorized')
    assert.match((await page.locator('#problem').textContent()) ?? '', /HTTP Basic: Access denied\./)
    assert.ok(await page.locator('#problem').isVisible())
    assert.ok(await isOnScreen(page, '#problem'), 'the 401 is below the first screen')
    await shot(page, 'phone-2-unauthorized')
    // Signing in again starts over at /calendar/v2.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Application ID').fill(person.pat.appId)
    await page.getByLabel('Secret').fill(person.pat.secret)
    assert.equal(await act(page, () => page.getByLabel('Secret').press('Enter'), '/calendar/v2'), '200 OK')

    assert.deepEqual([...hosts], [new URL(server.url).host], 'the page asked a host other than the server')
    await context.close()
  })

  it('creates a job from the documented example, moves it, and watches it live', async () => {
    const { context, page, hosts } = await newContext({ width: 1280, height: 900 })
    await page.goto(`${server.url}/explorer/`)
    await page.getByLabel('Application ID').fill(person.pat.appId)
    await page.getByLabel('Secret').fill(person.pat.secret)
    assert.equal(await act(page, () => page.getByLabel('Secret').press('Enter'), '/calendar/v2'), '200 OK')

    // POST: the editor fills with the OpenAPI document's example for the operation.
    await page.getByLabel('Path').fill('/jobs/v1/job_statuses')
    await page.getByLabel('Method').selectOption('POST')
    const editor = page.getByLabel('Request body (JSON)')
    await page.waitForFunction("document.getElementById('body-input').value.includes('Waiting for a worker')")
    const example = JSON.parse(await editor.inputValue())
    const documented = (await request(server.url, '/openapi.json')).json.paths['/jobs/v1/job_statuses'].post.requestBody.content['application/vnd.api+json'].example
    assert.deepEqual(example, documented)
    await page.getByLabel('Idempotency-Key').fill('explorer-create-1')
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Send', exact: true }).click()), '201 Created')
    const id = (await page.locator('#record dd[data-attribute="id"]').textContent())!
    assert.equal(await page.locator('#record dd[data-attribute="message"]').textContent(), 'Waiting for a worker')
    // The same key again answers the first answer and writes nothing.
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Send', exact: true }).click()), '201 Created')
    assert.equal(await page.locator('#record dd[data-attribute="id"]').textContent(), id)
    assert.equal(Number((await server.db('job_statuses').where({ organization_id: person.organizationId, message: 'Waiting for a worker' }).count({ n: '*' }))[0]!.n), 1)
    // Copied as curl, the write runs in sh too (with another key, so it writes a second job).
    await page.getByLabel('Idempotency-Key').fill('explorer-create-2')
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Send', exact: true }).click()), '201 Created')
    await page.getByRole('button', { name: 'Copy as curl' }).click()
    const line = (await page.evaluate('navigator.clipboard.readText()')) as string
    assert.match(line, /^curl -g -i -X POST -H 'Content-Type: application\/vnd.api\+json' --data '/)
    const { stdout } = await promisify(execFile)('sh', ['-c', line])
    assert.match(stdout, /^HTTP\/1\.1 201 Created/)

    // Open the job last created (GET), watch it, and move it from the explorer: each change arrives as an event.
    const latest = (await page.locator('#record dd[data-attribute="id"]').textContent())!
    assert.notEqual(latest, id)
    assert.equal(await act(page, () => page.locator('#record a', { hasText: `/jobs/v1/job_statuses/${latest}` }).first().click(), `/jobs/v1/job_statuses/${latest}`), '200 OK')
    await page.getByRole('button', { name: 'Watch events' }).click()
    await page.locator('#events li', { hasText: 'queued' }).waitFor()
    await page.getByLabel('Path').fill(`/jobs/v1/job_statuses/${latest}/transitions`)
    await page.getByLabel('Method').selectOption('POST')
    await page.waitForFunction("document.getElementById('body-input').value.includes('working')")
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Send', exact: true }).click()), '200 OK')
    await page.locator('#events li', { hasText: 'working' }).waitFor()
    await shot(page, 'desktop-8-write-and-watch')
    await page.getByRole('button', { name: 'Stop watching' }).click()

    assert.deepEqual([...hosts], [new URL(server.url).host], 'the page asked a host other than the server')
    await context.close()
  })

  it('follows the server’s links and signs in when opened as localhost', async () => {
    const { context, page, hosts } = await newContext({ width: 1280, height: 900 })
    const localhost = server.url.replace('127.0.0.1', 'localhost')
    await signInWithOAuth(page, localhost)
    // The document's links say 127.0.0.1; they still open here, and requests stay on this origin.
    assert.equal(await act(page, () => page.locator('#record a', { hasText: '/calendar/v2/job_statuses' }).click(), '/calendar/v2/job_statuses'), '200 OK')
    assert.deepEqual([...hosts], [new URL(localhost).host])
    await context.close()
  })

  it('signs in for the Webhooks API too, subscribes, and follows a subscription’s links', async () => {
    const { context, page, hosts } = await newContext({ width: 1280, height: 900 })
    await signInWithOAuth(page, server.url)

    await page.getByLabel('Path').fill('/webhooks/v2')
    assert.equal(await act(page, () => page.getByLabel('Path').press('Enter'), '/webhooks/v2'), '200 OK')
    assert.equal(await act(page, () => page.locator('#record a', { hasText: '/webhooks/v2/available_events' }).click(), '/webhooks/v2/available_events'), '200 OK')
    assert.deepEqual((await shownRowIds(page)).sort(), ['calendar.v2.events.job_status.created', 'calendar.v2.events.job_status.destroyed', 'calendar.v2.events.job_status.updated'])

    // Subscribe from the documented example, to a public address (this test server allows nothing else).
    await page.getByLabel('Path').fill('/webhooks/v2/webhook_subscriptions')
    await page.getByLabel('Method').selectOption('POST')
    const editor = page.getByLabel('Request body (JSON)')
    await page.waitForFunction("document.getElementById('body-input').value.includes('calendar.v2.events.job_status.updated')")
    await editor.fill((await editor.inputValue()).replace('https://example.org/hooks/pco', 'https://93.184.215.14/hooks/pco'))
    assert.equal(await act(page, () => page.getByRole('button', { name: 'Send', exact: true }).click()), '201 Created')
    const id = (await page.locator('#record dd[data-attribute="id"]').textContent())!
    assert.match((await page.locator('#record dd[data-attribute="authenticity_secret"]').textContent())!, /^"?[0-9a-f]{64}"?$/)
    const events = `/webhooks/v2/webhook_subscriptions/${id}/events`
    assert.equal(await act(page, () => page.locator('#record a', { hasText: events }).click(), events), '200 OK')
    await shot(page, 'desktop-9-webhooks')
    assert.deepEqual([...hosts], [new URL(server.url).host])
    await context.close()
  })

  it('shows a 429 with the time to wait', async () => {
    const limited = await startTestServer({ RATE_LIMIT: '2' })
    try {
      const other = await createSignInPerson(limited.db)
      const { context, page } = await newContext({ width: 1280, height: 900 })
      await page.goto(`${limited.url}/explorer/`)
      await page.getByLabel('Access token').fill(other.token)
      assert.equal(await act(page, () => page.getByLabel('Access token').press('Enter'), '/calendar/v2'), '200 OK')
      const send = page.getByRole('button', { name: 'Send' })
      assert.equal(await act(page, () => send.click(), '/calendar/v2'), '200 OK')
      assert.equal(await act(page, () => send.click(), '/calendar/v2'), '429 Too Many Requests')
      assert.match((await page.locator('#problem').textContent()) ?? '', /Wait \d+ seconds/)
      await shot(page, 'desktop-8-rate-limited')
      await context.close()
    } finally {
      await limited.close()
    }
  })

  it('renders the reference page without a request to another host', async () => {
    const { context, page, hosts } = await newContext({ width: 375, height: 740 })
    await page.goto(`${server.url}/docs`)
    assert.ok(await page.locator('#listJobStatuses').isVisible())
    assert.ok(await page.evaluate(FITS_THE_WIDTH), 'the reference scrolls sideways at 375 px')
    await shot(page, 'phone-3-reference')
    assert.deepEqual([...hosts], [new URL(server.url).host])
    await context.close()
  })
})
