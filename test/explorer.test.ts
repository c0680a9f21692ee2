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
  const hosts = new Set<string>()
  context.on('request', (r) => {
    const url = new URL(r.url())
    if (url.protocol !== 'data:') hosts.add(url.host)
  })
  return { context, page: await context.newPage(), hosts }
}

// Phones are shown as the person sees them, one screen; desktops whole.
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: !name.startsWith('phone') })

async function shownStatus(page: Page): Promise<string> {
  await page.locator('#response[aria-busy="false"] #status').waitFor()
  return (await page.locator('#status').textContent()) ?? ''
}

/** Waits until the explorer has answered `path` (its address bar shows it and the request is done). */
async function answered(page: Page, pathAndQuery: string): Promise<string> {
  try {
    await page.waitForFunction(
      `document.getElementById('path-input').value === ${JSON.stringify(pathAndQuery)} && document.getElementById('response').getAttribute('aria-busy') === 'false'`,
      undefined,
      { timeout: 10_000 },
    )
  } catch (error) {
    const shown = await page.locator('#path-input').inputValue()
    throw new Error(`the explorer did not answer ${pathAndQuery}; it shows ${shown}`, { cause: error })
  }
  return shownStatus(page)
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
    assert.equal(await answered(page, '/calendar/v2'), '200 OK')
    assert.match((await page.locator('#identity').textContent()) ?? '', /Signed in with OAuth/)
    const organization = (await request(server.url, '/calendar/v2', { token: person.token })).json.data
    assert.equal(await page.locator('#record dd[data-attribute="name"]').textContent(), organization.attributes.name)
    await shot(page, 'desktop-3-organization')

    // 2. Open job_statuses from the link in the answer.
    await page.locator('#record a', { hasText: '/calendar/v2/job_statuses' }).click()
    assert.equal(await answered(page, '/calendar/v2/job_statuses'), '200 OK')
    assert.deepEqual(await shownRowIds(page), ids.slice(0, 25))
    assert.equal(await page.locator('#page-info').textContent(), `1–25 of ${ROWS}`)

    // 3. Forward twice by links.next, then open a job.
    await page.getByRole('button', { name: 'Next →' }).click()
    await answered(page, '/calendar/v2/job_statuses?offset=25')
    await page.getByRole('button', { name: 'Next →' }).click()
    assert.equal(await answered(page, '/calendar/v2/job_statuses?offset=50'), '200 OK')
    // 4. What is shown is what the API answers for the same page.
    const third = (await request(server.url, '/calendar/v2/job_statuses?offset=50&per_page=25', { token: person.token })).json
    assert.deepEqual(await shownRowIds(page), third.data.map((row: { id: string }) => row.id))
    assert.deepEqual(await shownRowIds(page), ids.slice(50, 75))
    assert.equal(await page.locator('#page-info').textContent(), `51–75 of ${ROWS}`)
    assert.equal(await page.locator('#headers tr[data-header="x-pco-api-processed-as-version"] td').textContent(), '2022-07-07')
    assert.match((await page.locator('#headers tr[data-header="x-pco-api-request-rate-count"] td').textContent()) ?? '', /^\d+$/)
    assert.match((await page.locator('#headers tr[data-header="etag"] td').textContent()) ?? '', /^W\//)
    assert.match((await page.locator('#timing').textContent()) ?? '', /^\d+ ms$/)
    await shot(page, 'desktop-4-third-page')

    const job = third.data[0]
    await page.getByRole('link', { name: `Open job status ${job.id}` }).click()
    assert.equal(await answered(page, `/calendar/v2/job_statuses/${job.id}`), '200 OK')
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
    assert.match(line, /^curl -i -H 'Authorization: Bearer [^']+' -H 'Accept: application\/vnd.api\+json' 'http:\/\/[^']+'$/)
    const { stdout } = await promisify(execFile)('sh', ['-c', line])
    assert.match(stdout, /^HTTP\/1\.1 200 OK/)
    assert.equal(JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)).data.id, job.id)

    // 5. A 404, typed into the address bar.
    await page.getByLabel('Path').fill('/calendar/v2/job_statuses/999999999999')
    await page.getByLabel('Path').press('Enter')
    assert.equal(await answered(page, '/calendar/v2/job_statuses/999999999999'), '404 Not Found')
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
    await page.getByRole('button', { name: 'Use this token' }).first().click()
    assert.equal(await shownStatus(page), '401 Unauthorized')
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
    await page.getByLabel('Secret').press('Enter')
    assert.equal(await answered(page, '/calendar/v2'), '200 OK')
    assert.match((await page.locator('#identity').textContent()) ?? '', /Personal access token/)

    // "/" goes to the address bar.
    await page.locator('body').press('/')
    assert.equal(await page.evaluate('document.activeElement.id'), 'path-input')
    await page.keyboard.type('/calendar/v2/job_statuses')
    await page.keyboard.press('Enter')
    assert.equal(await answered(page, '/calendar/v2/job_statuses'), '200 OK')

    // The list controls: where[status], per_page and fields, applied with the keyboard.
    await page.getByRole('group', { name: 'where[status]' }).getByRole('checkbox', { name: 'failed', exact: true }).check()
    await page.getByLabel('per_page').fill('10')
    await page.getByRole('group', { name: 'fields[JobStatus]' }).getByRole('checkbox', { name: 'status', exact: true }).check()
    await page.getByLabel('per_page').press('Enter')
    assert.equal(await answered(page, '/calendar/v2/job_statuses?per_page=10&where[status]=failed&fields[JobStatus]=status'), '200 OK')
    assert.deepEqual(await shownRowIds(page), [failed])
    assert.deepEqual(await page.locator('#rows thead th').allTextContents(), ['id', 'status'])

    // "]" is the next page; "[" the previous one.
    await page.getByRole('button', { name: 'Clear' }).click()
    await answered(page, '/calendar/v2/job_statuses')
    await page.locator('body').press(']')
    assert.equal(await answered(page, '/calendar/v2/job_statuses?offset=25'), '200 OK')
    await page.locator('body').press('[')
    assert.equal(await answered(page, '/calendar/v2/job_statuses?offset=0'), '200 OK')

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
    await page.getByLabel('Secret').press('Enter')
    assert.equal(await shownStatus(page), '401 Unauthorized')
    assert.match((await page.locator('#problem').textContent()) ?? '', /HTTP Basic: Access denied\./)
    await shot(page, 'phone-2-unauthorized')

    assert.deepEqual([...hosts], [new URL(server.url).host], 'the page asked a host other than the server')
    await context.close()
  })

  it('shows a 429 with the time to wait', async () => {
    const limited = await startTestServer({ RATE_LIMIT: '2' })
    try {
      const other = await createSignInPerson(limited.db)
      const { context, page } = await newContext({ width: 1280, height: 900 })
      await page.goto(`${limited.url}/explorer/`)
      await page.getByLabel('Access token').fill(other.token)
      await page.getByLabel('Access token').press('Enter')
      await answered(page, '/calendar/v2')
      for (let i = 0; i < 2; i++) await page.getByRole('button', { name: 'Send' }).click()
      assert.equal(await shownStatus(page), '429 Too Many Requests')
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
