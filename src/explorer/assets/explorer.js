// @ts-check
// The API explorer: signs in (OAuth with PKCE, or a pasted token), sends any documented request to this
// server (GET by following links; POST, PATCH and DELETE with a JSON body the OpenAPI document's
// example fills in), watches a job's event stream, and shows each answer. It talks to this server's
// origin only; the page's policy forbids the rest.
'use strict'

/** @typedef {{ kind: 'bearer', token: string, via: 'oauth' | 'pasted' } | { kind: 'basic', appId: string, secret: string }} Credentials */

const STORAGE_KEY = 'pco-explorer.credentials'
const PKCE_KEY = 'pco-explorer.pkce'
const START_PATH = '/calendar/v2'
const LIST_PATH = '/calendar/v2/job_statuses'
const KEY_HEADERS = ['x-pco-api-request-rate-count', 'x-pco-api-request-rate-limit', 'x-pco-api-request-rate-period', 'x-pco-api-processed-as-version', 'etag', 'retry-after']

/** @param {string} id */
function element(id) {
  const found = document.getElementById(id)
  if (!found) throw new Error(`#${id} is missing from the page`)
  return found
}

/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ (element(id))
/** @param {string} id */
const button = (id) => /** @type {HTMLButtonElement} */ (element(id))
/** @param {string} id */
const form = (id) => /** @type {HTMLFormElement} */ (element(id))

/**
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {Array<Node | string>} [children]
 */
function make(tag, attributes = {}, children = []) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  for (const child of children) node.append(child)
  return node
}

// ---- Credentials ----------------------------------------------------------------------------

/** @returns {Credentials | undefined} */
function loadCredentials() {
  try {
    const stored = sessionStorage.getItem(STORAGE_KEY)
    return stored ? JSON.parse(stored) : undefined
  } catch {
    return undefined
  }
}

/** @param {Credentials | undefined} credentials */
function saveCredentials(credentials) {
  if (credentials) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials))
  else sessionStorage.removeItem(STORAGE_KEY)
}

/** @param {Credentials} credentials */
function authorizationHeader(credentials) {
  if (credentials.kind === 'bearer') return `Bearer ${credentials.token}`
  return `Basic ${btoa(`${credentials.appId}:${credentials.secret}`)}`
}

/** @param {Uint8Array} bytes */
function base64Url(bytes) {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function redirectUri() {
  return `${location.origin}/explorer/`
}

/** Starts the authorization code flow with PKCE (S256): the explorer is a public client without a secret. */
async function startOAuth() {
  if (!crypto.subtle) {
    throw new Error('Signing in needs a secure context (https, localhost or 127.0.0.1). Paste a token instead.')
  }
  const verifier = base64Url(crypto.getRandomValues(new Uint8Array(32)))
  const state = base64Url(crypto.getRandomValues(new Uint8Array(16)))
  const challenge = base64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))))
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }))
  const url = new URL('/oauth/authorize', location.origin)
  url.search = new URLSearchParams({
    client_id: document.body.dataset.clientId ?? '',
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: 'calendar jobs webhooks',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString()
  location.assign(url.toString())
}

/**
 * Back from the authorize page with ?code= (or ?error=): exchange the code, then drop it from the address.
 * @returns {Promise<string | undefined>} an error to show, if the sign-in failed
 */
async function finishOAuth() {
  const query = new URLSearchParams(location.search)
  if (!query.has('code') && !query.has('error')) return undefined
  history.replaceState(null, '', `/explorer/${location.hash}`)
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? 'null')
  sessionStorage.removeItem(PKCE_KEY)
  if (query.has('error')) return `Sign-in did not complete: ${query.get('error_description') ?? query.get('error')}`
  if (!pending || pending.state !== query.get('state')) return 'Sign-in did not complete: the answer does not belong to a sign-in started here. Try again.'
  const response = await fetch('/oauth/token', {
    method: 'POST',
    credentials: 'omit',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: query.get('code') ?? '',
      redirect_uri: redirectUri(),
      client_id: document.body.dataset.clientId ?? '',
      code_verifier: pending.verifier,
    }),
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok || typeof body.access_token !== 'string') return `Sign-in failed: ${body.error_description ?? body.error ?? response.status}`
  saveCredentials({ kind: 'bearer', token: body.access_token, via: 'oauth' })
  startOver()
  return undefined
}

/** New credentials start at the top, not at whatever the last person was looking at. */
function startOver() {
  history.replaceState(null, '', `/explorer/#${START_PATH}`)
}

async function signOut() {
  const credentials = loadCredentials()
  saveCredentials(undefined)
  if (credentials?.kind === 'bearer' && credentials.via === 'oauth') {
    // RFC 7009: a public client names itself; the answer does not matter to the person signing out.
    await fetch('/oauth/revoke', {
      method: 'POST',
      credentials: 'omit',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: credentials.token, client_id: document.body.dataset.clientId ?? '' }),
    }).catch(() => undefined)
  }
  render()
}

// ---- Addresses ------------------------------------------------------------------------------

/**
 * This server's origins: the page's own, and the base URL the server writes into its links (they
 * differ when the page was opened as localhost and the links say 127.0.0.1, say).
 */
const OWN_ORIGINS = new Set([location.origin, ...(document.body.dataset.baseUrl ? [new URL(document.body.dataset.baseUrl).origin] : [])])

/** The path and query the explorer shows for a URL of this server, or undefined for any other URL. @param {string} url */
function ownPath(url) {
  try {
    const parsed = new URL(url, location.origin)
    return OWN_ORIGINS.has(parsed.origin) ? parsed.pathname + parsed.search : undefined
  } catch {
    return undefined
  }
}

/** The path in the address's fragment, as sent: decoding it would change what `%26` or `%2C` mean. */
function currentPath() {
  const hash = location.hash.slice(1)
  return hash.startsWith('/') ? hash : START_PATH
}

/** @param {string} path */
function navigate(path) {
  const hash = `#${path}`
  if (location.hash === hash) void send(path)
  else location.hash = hash
}

/** A single-quoted shell word. @param {string} text */
function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** @typedef {{ method: string, body?: string, idempotencyKey?: string }} Sent */

/** @param {string} url @param {Credentials} credentials @param {boolean} masked @param {Sent} [sent] */
function curlLine(url, credentials, masked, sent = { method: 'GET' }) {
  const hide = /** @param {string} s */ (s) => (masked ? `${s.slice(0, 4)}…` : s)
  const auth =
    credentials.kind === 'bearer'
      ? `-H ${shellQuote(`Authorization: Bearer ${hide(credentials.token)}`)}`
      : `-u ${shellQuote(`${credentials.appId}:${hide(credentials.secret)}`)}`
  const write = sent.method === 'GET' ? '' : ` -X ${sent.method}${sent.body === undefined ? '' : ` -H 'Content-Type: application/vnd.api+json' --data ${shellQuote(sent.body)}`}`
  const key = sent.idempotencyKey ? ` -H ${shellQuote(`Idempotency-Key: ${sent.idempotencyKey}`)}` : ''
  // -g: curl would read the brackets of where[status]=… and fields[JobStatus]=… as a glob.
  return `curl -g -i${write} ${auth}${key} -H 'Accept: application/vnd.api+json' ${shellQuote(url)}`
}

// ---- The documented operations ----------------------------------------------------------------

/** @typedef {{ name: string, description: string }} Described */
/** @typedef {{ id: string, method: string, template: string, summary: string, pattern: RegExp, example: unknown, parameters: Described[], attributes: Array<Described & { type: string }> }} Operation */

/** Every documented operation with its body's example, from the server's OpenAPI document. @type {Promise<Operation[]>} */
const operations = fetch('/openapi.json', { credentials: 'omit' })
  .then((response) => response.json())
  .then((document) => {
    /** Follows a $ref within the document. @param {any} node @returns {any} */
    const deref = (node) => (typeof node?.$ref === 'string' ? deref(node.$ref.slice(2).split('/').reduce((/** @type {any} */ at, /** @type {string} */ key) => at?.[key], document)) : node)
    /** The attributes of the resource a response carries, from its schema. @param {any} schema @returns {any} */
    const attributesOf = (schema) => {
      const resolved = deref(schema)
      const data = deref(resolved?.properties?.data)
      const resource = deref(data?.type === 'array' ? data.items : data)
      return deref(resource?.properties?.attributes)?.properties ?? {}
    }
    return Object.entries(/** @type {Record<string, Record<string, any>>} */ (document.paths)).flatMap(([template, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
        .map(([method, operation]) => {
          const success = Object.entries(operation.responses ?? {}).find(([status]) => status.startsWith('2'))?.[1]
          const schema = deref(success)?.content?.['application/vnd.api+json']?.schema
          return {
            id: String(operation.operationId ?? ''),
            method: method.toUpperCase(),
            template,
            summary: String(operation.summary ?? ''),
            pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/?]+')}(\\?.*)?$`),
            example: operation.requestBody?.content?.['application/vnd.api+json']?.example,
            parameters: [...(methods.parameters ?? []), ...(operation.parameters ?? [])].map(deref).map((/** @type {any} */ p) => ({ name: String(p.name), description: String(p.description ?? '') })),
            attributes: Object.entries(attributesOf(schema)).map(([name, /** @type {any} */ a]) => ({
              name,
              type: String(deref(a)?.type ?? (a?.$ref ? a.$ref.split('/').pop() : '')),
              description: String(deref(a)?.description ?? ''),
            })),
          }
        }),
    )
  })
  .catch(() => /** @type {Operation[]} */ ([]))

/** The reference beside the answer: the operation's summary, its parameters and the resource's attributes. @param {string} method @param {string} path */
async function showReference(method, path) {
  const box = element('reference')
  const operation = (await operations).find((candidate) => candidate.method === method && candidate.pattern.test(path))
  box.hidden = !operation
  if (!operation) return
  /** @param {string[]} headings @param {string[][]} rows */
  const table = (headings, rows) =>
    make('table', {}, [make('thead', {}, [make('tr', {}, headings.map((h) => make('th', { scope: 'col' }, [h])))]), make('tbody', {}, rows.map((cells) => make('tr', {}, cells.map((c, i) => make('td', {}, [i === 0 ? make('code', {}, [c]) : c])))))])
  const parts = [make('summary', {}, [`Reference: ${operation.method} ${operation.template}`]), make('p', {}, [operation.summary])]
  if (operation.parameters.length) parts.push(make('h3', {}, ['Parameters']), make('div', { class: 'table-wrap' }, [table(['parameter', 'description'], operation.parameters.map((p) => [p.name, p.description]))]))
  if (operation.attributes.length) parts.push(make('h3', {}, ['Attributes']), make('div', { class: 'table-wrap' }, [table(['attribute', 'type', 'description'], operation.attributes.map((a) => [a.name, a.type, a.description]))]))
  parts.push(make('p', {}, [make('a', { href: `/docs#${encodeURIComponent(operation.id)}` }, ['The full reference'])]))
  box.replaceChildren(...parts)
}

/** The example body of the documented operation at `method` and `path`, as the editor shows it. @param {string} method @param {string} path */
async function exampleFor(method, path) {
  const operation = (await operations).find((candidate) => candidate.method === method && candidate.pattern.test(path))
  return operation?.example === undefined ? '' : JSON.stringify(operation.example, null, 2)
}

/** The body editor is for methods that send one; the example fills it while it holds nothing of the person's. */
async function syncWriteBox() {
  const method = /** @type {HTMLSelectElement} */ (element('method-input')).value
  const editor = /** @type {HTMLTextAreaElement} */ (element('body-input'))
  element('write-box').hidden = method === 'GET'
  if (method === 'GET') return
  if (editor.value.trim() === '' || editor.dataset.example === editor.value) {
    const example = await exampleFor(method, input('path-input').value.trim())
    editor.value = example
    editor.dataset.example = example
  }
}

// ---- Watching a job -----------------------------------------------------------------------------

/** @type {AbortController | undefined} */
let watching

function stopWatching() {
  watching?.abort()
  watching = undefined
  button('watch').textContent = 'Watch events'
}

/** One event of a job's stream, as a line of the log. @param {string} data */
function eventLine(data) {
  try {
    const attributes = JSON.parse(data).data?.attributes ?? {}
    const progress = attributes.total ? ` · ${attributes.progress ?? 0} of ${attributes.total}` : ''
    return `${attributes.status ?? '?'}${progress}${attributes.message ? ` · ${attributes.message}` : ''}`
  } catch {
    return data
  }
}

/** Reads the job's Server-Sent Events with fetch (EventSource cannot send Authorization), until stopped or ended. @param {string} path */
async function watch(path) {
  const credentials = loadCredentials()
  if (!credentials) return
  stopWatching()
  const controller = new AbortController()
  watching = controller
  button('watch').textContent = 'Stop watching'
  const log = element('events')
  log.replaceChildren()
  try {
    const response = await fetch(`${path}/events`, {
      credentials: 'omit',
      signal: controller.signal,
      headers: { Accept: 'text/event-stream', Authorization: authorizationHeader(credentials) },
    })
    if (!response.ok || !response.body) {
      log.append(make('li', { class: 'error-text' }, [`${response.status}: the stream could not be opened`]))
      return
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n')
        if (data) log.append(make('li', {}, [`${new Date().toLocaleTimeString()} · ${eventLine(data)}`]))
      }
    }
    log.append(make('li', { class: 'ended' }, ['The stream ended: the job is over.']))
  } catch (error) {
    if (!controller.signal.aborted) log.append(make('li', { class: 'error-text' }, [`The stream broke off: ${error instanceof Error ? error.message : String(error)}`]))
  } finally {
    if (watching === controller) stopWatching()
  }
}

// ---- JSON view ------------------------------------------------------------------------------

/** A body longer than this (in characters of JSON) opens folded below its first two levels. */
const FOLD_PAST = 20_000

/**
 * The value as highlighted JSON, objects and arrays foldable. `suffix` (a comma) goes right after the
 * value's last character, inside its fold, so it stays on the closing bracket's line. Folds deeper
 * than `openDepth` start closed.
 * @param {unknown} value @param {string} [suffix] @param {number} [depth] @param {number} [openDepth] @returns {Node[]}
 */
function jsonValue(value, suffix = '', depth = 0, openDepth = Infinity) {
  const comma = suffix ? [make('span', { class: 'j-punct' }, [suffix])] : []
  if (value === null) return [make('span', { class: 'j-null' }, ['null']), ...comma]
  if (typeof value === 'string') {
    const path = /^https?:\/\//.test(value) ? ownPath(value) : undefined
    const text = JSON.stringify(value)
    if (path) return [make('a', { class: 'j-string j-link', href: `#${path}`, title: `Open ${path}` }, [text]), ...comma]
    return [make('span', { class: 'j-string' }, [text]), ...comma]
  }
  if (typeof value === 'number') return [make('span', { class: 'j-number' }, [String(value)]), ...comma]
  if (typeof value === 'boolean') return [make('span', { class: 'j-boolean' }, [String(value)]), ...comma]
  const isArray = Array.isArray(value)
  const entries = isArray ? value.map((item, i) => /** @type {[string, unknown]} */ ([String(i), item])) : Object.entries(/** @type {object} */ (value))
  const [opening, closing] = isArray ? ['[', ']'] : ['{', '}']
  if (entries.length === 0) return [make('span', { class: 'j-punct' }, [opening + closing + suffix])]
  const list = make('ul', { class: 'j-members' })
  entries.forEach(([key, item], i) => {
    const row = make('li')
    if (!isArray) row.append(make('span', { class: 'j-key' }, [JSON.stringify(key)]), make('span', { class: 'j-punct' }, [': ']))
    row.append(...jsonValue(item, i < entries.length - 1 ? ',' : '', depth + 1, openDepth))
    list.append(row)
  })
  const count = isArray ? `${entries.length} item${entries.length === 1 ? '' : 's'}` : `${entries.length} key${entries.length === 1 ? '' : 's'}`
  return [
    make('details', depth < openDepth ? { open: '' } : {}, [
      make('summary', {}, [make('span', { class: 'j-punct' }, [opening]), make('span', { class: 'j-count' }, [` ${count} ${closing}${suffix}`])]),
      list,
      make('span', { class: 'j-punct' }, [closing + suffix]),
    ]),
  ]
}

// ---- Views of a document --------------------------------------------------------------------

const STATUS_TEXT = /** @type {Record<number, string>} */ ({
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 409: 'Conflict', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
})

/** What a person should do about a failure. @param {number} status @param {Headers} headers */
function advice(status, headers) {
  if (status === 401) return 'The server did not accept the credentials: they are missing, wrong, expired or revoked. Sign out and sign in again, or paste another token.'
  if (status === 404) return 'Nothing is at this address in your organization. The id may not exist, or belong to another organization.'
  if (status === 429) return `Too many requests in this window. Wait ${headers.get('retry-after') ?? 'a few'} seconds, then send again.`
  if (status === 400) return 'The server could not use a parameter or header of this request.'
  if (status >= 500) return 'The server could not answer right now. Try again shortly.'
  return ''
}

/** @param {unknown} body */
function firstError(body) {
  const errors = body && typeof body === 'object' && 'errors' in body ? /** @type {{ errors: unknown }} */ (body).errors : undefined
  return Array.isArray(errors) && errors[0] && typeof errors[0] === 'object' ? /** @type {Record<string, unknown>} */ (errors[0]) : undefined
}

/** @param {Record<string, unknown>} resource */
function resourceLink(resource) {
  const links = /** @type {Record<string, unknown> | undefined} */ (resource.links)
  return typeof links?.self === 'string' ? ownPath(links.self) : undefined
}

/** A table of the page's rows, each opening its read view. @param {Array<Record<string, unknown>>} rows */
function listView(rows) {
  if (rows.length === 0) return make('p', { class: 'empty' }, ['No rows on this page.'])
  // status right after id, so it is on screen on a phone; the rest in the document's order.
  const names = [...new Set(rows.flatMap((row) => Object.keys(/** @type {object} */ (row.attributes ?? {}))))]
    .filter((name) => name !== 'errors' && name !== 'results' && name !== 'outputs')
    .sort((a, b) => Number(b === 'status') - Number(a === 'status'))
  const head = make('tr', {}, [make('th', { scope: 'col' }, ['id']), ...names.map((name) => make('th', { scope: 'col' }, [name]))])
  const body = rows.map((row) => {
    const attributes = /** @type {Record<string, unknown>} */ (row.attributes ?? {})
    const path = resourceLink(row)
    const id = String(row.id)
    const idCell = make('td', {}, [path ? make('a', { href: `#${path}`, 'aria-label': `Open job status ${id}` }, [id]) : id])
    return make('tr', {}, [idCell, ...names.map((name) => make('td', { 'data-attribute': name }, [attributes[name] === null || attributes[name] === undefined ? '—' : String(attributes[name])]))])
  })
  return make('div', { class: 'table-wrap' }, [make('table', { class: 'rows', id: 'rows' }, [make('thead', {}, [head]), make('tbody', {}, body)])])
}

/** One resource as a definition list; a job status links back to its list. @param {Record<string, unknown>} resource */
function readView(resource) {
  const attributes = /** @type {Record<string, unknown>} */ (resource.attributes ?? {})
  const list = make('dl', { class: 'record', id: 'record' })
  if (resource.type === 'JobStatus') {
    const back = make('p', { class: 'back' }, [make('a', { href: `#${LIST_PATH}`, id: 'back-to-list' }, ['← All job statuses'])])
    return make('div', {}, [back, fillRecord(list, resource, attributes)])
  }
  return fillRecord(list, resource, attributes)
}

/** @param {HTMLElement} list @param {Record<string, unknown>} resource @param {Record<string, unknown>} attributes */
function fillRecord(list, resource, attributes) {
  list.append(make('dt', {}, ['type']), make('dd', {}, [String(resource.type)]), make('dt', {}, ['id']), make('dd', { 'data-attribute': 'id' }, [String(resource.id)]))
  for (const [name, value] of Object.entries(attributes)) {
    const shown = value !== null && typeof value === 'object' ? JSON.stringify(value) : value === null ? 'null' : String(value)
    list.append(make('dt', {}, [name]), make('dd', { 'data-attribute': name }, [shown]))
  }
  const links = /** @type {Record<string, unknown>} */ (resource.links ?? {})
  for (const [name, value] of Object.entries(links)) {
    const path = typeof value === 'string' ? ownPath(value) : undefined
    list.append(make('dt', {}, [`links.${name}`]), make('dd', {}, [path ? make('a', { href: `#${path}` }, [path]) : String(value)]))
  }
  return list
}

// ---- Sending and showing --------------------------------------------------------------------

let sequence = 0

/** @param {string} path @param {Sent} [sent] */
async function send(path, sent = { method: 'GET' }) {
  const credentials = loadCredentials()
  if (!credentials) return render()
  const mine = ++sequence
  const url = new URL(path, location.origin).toString()
  input('path-input').value = path
  if (sent.method === 'GET') {
    /** @type {HTMLSelectElement} */ (element('method-input')).value = 'GET'
    element('write-box').hidden = true
    stopWatching()
    element('events').replaceChildren()
  }
  // A stream being watched stays on screen while the job is moved from here.
  element('watch-box').hidden = !watching && !(sent.method === 'GET' && /^\/jobs\/v1\/job_statuses\/[^/?]+$/.test(path))
  syncListForm(path)
  const response = element('response')
  response.setAttribute('aria-busy', 'true')
  element('summary').textContent = `${sent.method} ${url} …`
  const started = performance.now()
  /** @type {Response} */
  let answer
  try {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/vnd.api+json', Authorization: authorizationHeader(credentials) }
    if (sent.body !== undefined) headers['Content-Type'] = 'application/vnd.api+json'
    if (sent.idempotencyKey) headers['Idempotency-Key'] = sent.idempotencyKey
    // credentials: 'omit' keeps the browser's own Basic prompt and cookies out of it; the header says who asks.
    answer = await fetch(url, { method: sent.method, credentials: 'omit', cache: 'no-store', headers, body: sent.body })
  } catch (error) {
    if (mine !== sequence) return
    element('summary').textContent = `${sent.method} ${url} → no answer`
    showProblem(`The server could not be reached: ${error instanceof Error ? error.message : String(error)}`, undefined)
    answered(path, mine)
    return
  }
  const text = await answer.text()
  const elapsed = Math.round(performance.now() - started)
  if (mine !== sequence) return
  /** @type {unknown} */
  let body = text
  try {
    body = text ? JSON.parse(text) : ''
  } catch {
    // Not JSON (Planning Center's HTTP Basic refusal is text/html): shown as it came.
  }
  showAnswer(url, credentials, answer, body, elapsed, sent)
  await showReference(sent.method, path)
  answered(path, mine)
}

/** Marks the response as done: for people (aria-busy) and for tests waiting on the n-th answer. @param {string} path @param {number} n */
function answered(path, n) {
  const response = element('response')
  response.dataset.answeredPath = path
  response.dataset.sequence = String(n)
  response.setAttribute('aria-busy', 'false')
}

/** @param {string} message @param {Record<string, unknown> | undefined} error */
function showProblem(message, error) {
  const problem = element('problem')
  problem.replaceChildren()
  if (error) {
    const title = [error.status, error.title].filter(Boolean).join(' ')
    problem.append(make('strong', {}, [title || 'Error']))
    if (error.detail) problem.append(make('p', { class: 'detail' }, [String(error.detail)]))
    if (error.code) problem.append(make('p', {}, ['code: ', make('code', {}, [String(error.code)])]))
  }
  if (message) problem.append(make('p', {}, [message]))
  problem.hidden = false
}

/**
 * @param {string} url @param {Credentials} credentials @param {Response} answer @param {unknown} body @param {number} elapsed @param {Sent} sent
 */
function showAnswer(url, credentials, answer, body, elapsed, sent) {
  const statusText = answer.statusText || STATUS_TEXT[answer.status] || ''
  const summary = element('summary')
  summary.replaceChildren(
    make('span', { class: 'method' }, [sent.method]),
    ' ',
    make('span', { class: 'url' }, [url]),
    ' ',
    make('span', { class: `status s${String(answer.status)[0]}`, id: 'status' }, [`${answer.status} ${statusText}`]),
    ' ',
    make('span', { class: 'timing', id: 'timing' }, [`${elapsed} ms`]),
  )

  const problem = element('problem')
  problem.hidden = true
  if (answer.status >= 400) {
    showProblem(advice(answer.status, answer.headers), firstError(body) ?? { status: String(answer.status), title: statusText, detail: typeof body === 'string' ? body.trim() : undefined })
    // A failure must be seen: on a phone it would sit below the parameters.
    problem.scrollIntoView({ block: 'nearest' })
  }

  // Key headers first, then the rest, as sent.
  const rows = [...answer.headers.entries()].sort(([a], [b]) => {
    const rank = /** @param {string} name */ (name) => (KEY_HEADERS.includes(name) ? KEY_HEADERS.indexOf(name) : KEY_HEADERS.length)
    return rank(a) - rank(b) || a.localeCompare(b)
  })
  element('headers').replaceChildren(
    ...rows.map(([name, value]) => make('tr', KEY_HEADERS.includes(name) ? { class: 'key', 'data-header': name } : { 'data-header': name }, [make('th', { scope: 'row' }, [name]), make('td', {}, [value])])),
  )
  const keyLine = KEY_HEADERS.filter((name) => answer.headers.has(name)).map((name) => `${name}: ${answer.headers.get(name)}`)
  const headersSummary = element('headers-box').querySelector('summary')
  if (headersSummary) headersSummary.textContent = `Response headers (${rows.length})${keyLine.length ? ` · ${keyLine.join(' · ')}` : ''}`

  const data = body && typeof body === 'object' && 'data' in body ? /** @type {{ data: unknown }} */ (body).data : undefined
  const view = element('view')
  if (Array.isArray(data)) view.replaceChildren(listView(data))
  else if (data && typeof data === 'object') view.replaceChildren(readView(/** @type {Record<string, unknown>} */ (data)))
  else view.replaceChildren()

  updatePager(body)
  element('curl-line').textContent = curlLine(url, credentials, true, sent)
  element('curl-line').dataset.url = url
  element('curl-line').dataset.sent = JSON.stringify(sent)
  const long = typeof body !== 'string' && JSON.stringify(body).length > FOLD_PAST
  element('body').replaceChildren(...(typeof body === 'string' ? [make('pre', { class: 'raw' }, [body])] : jsonValue(body, '', 0, long ? 2 : Infinity)))
}

/** @param {unknown} body */
function updatePager(body) {
  const links = body && typeof body === 'object' && 'links' in body ? /** @type {{ links: Record<string, unknown> }} */ (body).links : {}
  const meta = body && typeof body === 'object' && 'meta' in body ? /** @type {{ meta: Record<string, unknown> }} */ (body).meta : {}
  // The same pager above the answer and below its rows, so a long page need not be scrolled back up.
  for (const place of ['', '-bottom']) {
    for (const direction of /** @type {const} */ (['prev', 'next'])) {
      const target = typeof links?.[direction] === 'string' ? ownPath(/** @type {string} */ (links[direction])) : undefined
      const control = button(`${direction}${place}`)
      control.disabled = !target
      control.dataset.target = target ?? ''
    }
    const info = element(`page-info${place}`)
    const pager = /** @type {HTMLElement} */ (info.parentElement)
    pager.hidden = !(typeof meta?.total_count === 'number')
    if (typeof meta?.total_count === 'number' && typeof meta.count === 'number') {
      const offset = Number(new URL(location.origin + currentPath()).searchParams.get('offset') ?? 0)
      const first = meta.count === 0 ? 0 : Math.max(0, offset) + 1
      info.textContent = `${first}–${Math.max(0, offset) + meta.count} of ${meta.total_count}`
    } else {
      info.textContent = ''
    }
  }
}

// ---- The list form --------------------------------------------------------------------------

/** Shows the form for job status lists and fills it from the path. @param {string} path */
function syncListForm(path) {
  const url = new URL(path, location.origin)
  const listForm = form('list-form')
  listForm.hidden = url.pathname !== LIST_PATH
  if (listForm.hidden) return
  const query = url.searchParams
  for (const control of /** @type {HTMLCollectionOf<HTMLInputElement | HTMLSelectElement>} */ (listForm.elements)) {
    if (!control.name) continue
    if (control instanceof HTMLInputElement && control.type === 'checkbox') {
      control.checked = (query.get(control.name) ?? '').split(',').includes(control.value)
    } else {
      control.value = query.get(control.name) ?? ''
    }
  }
}

/** The list's path from the form; multi-valued names become comma-separated values. */
function listPathFromForm() {
  const values = new Map()
  for (const [name, value] of new FormData(form('list-form'))) {
    if (typeof value !== 'string' || value.trim() === '') continue
    values.set(name, values.has(name) ? `${values.get(name)},${value.trim()}` : value.trim())
  }
  const query = [...values].map(([name, value]) => `${name}=${encodeURIComponent(value).replace(/%2C/g, ',')}`).join('&')
  return query ? `${LIST_PATH}?${query}` : LIST_PATH
}

// ---- Page state -----------------------------------------------------------------------------

function render() {
  const credentials = loadCredentials()
  element('signin').hidden = Boolean(credentials)
  element('workspace').hidden = !credentials
  const identity = element('identity')
  identity.replaceChildren()
  if (!credentials) return
  const label =
    credentials.kind === 'basic' ? `Personal access token ${credentials.appId.slice(0, 8)}…` : credentials.via === 'oauth' ? 'Signed in with OAuth' : 'Pasted bearer token'
  const out = make('button', { type: 'button', id: 'sign-out' }, ['Sign out'])
  out.addEventListener('click', () => void signOut())
  identity.append(make('span', {}, [label]), ' ', out)
  void send(currentPath())
}

async function copyCurl() {
  const credentials = loadCredentials()
  const url = element('curl-line').dataset.url
  if (!credentials || !url) return
  const line = curlLine(url, credentials, false, JSON.parse(element('curl-line').dataset.sent ?? '{"method":"GET"}'))
  const copy = button('copy-curl')
  try {
    await navigator.clipboard.writeText(line)
  } catch {
    // Without clipboard access (an insecure origin), select a copy for Ctrl+C instead.
    const area = make('textarea', { class: 'visually-hidden', 'aria-hidden': 'true' })
    area.textContent = line
    document.body.append(area)
    ;/** @type {HTMLTextAreaElement} */ (area).select()
    document.execCommand('copy')
    area.remove()
  }
  copy.textContent = 'Copied'
  setTimeout(() => (copy.textContent = 'Copy as curl'), 1500)
}

/** @param {boolean} expanded */
function foldAll(expanded) {
  for (const details of element('body').querySelectorAll('details')) details.open = expanded
}

function isTyping() {
  const active = document.activeElement
  return active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement || active instanceof HTMLSelectElement
}

async function start() {
  // On a phone the parameters start folded, so the answer is on the first screen.
  if (matchMedia('(max-width: 40rem)').matches) /** @type {HTMLDetailsElement} */ (element('list-parameters')).open = false

  const error = await finishOAuth().catch((e) => `Sign-in failed: ${e instanceof Error ? e.message : String(e)}`)
  element('signin-error').textContent = error ?? ''

  button('oauth-signin').addEventListener('click', () => {
    startOAuth().catch((e) => (element('signin-error').textContent = e instanceof Error ? e.message : String(e)))
  })
  form('token-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const token = input('token-input').value.trim()
    if (!token) return
    input('token-input').value = ''
    saveCredentials({ kind: 'bearer', token, via: 'pasted' })
    startOver()
    render()
  })
  form('pat-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const appId = input('pat-app-id').value.trim()
    const secret = input('pat-secret').value.trim()
    if (!appId || !secret) return
    input('pat-secret').value = ''
    saveCredentials({ kind: 'basic', appId, secret })
    startOver()
    render()
  })
  form('request-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const value = input('path-input').value.trim()
    const path = ownPath(value) ?? (value.startsWith('/') ? value : `/${value}`)
    const method = /** @type {HTMLSelectElement} */ (element('method-input')).value
    if (method === 'GET') return navigate(path)
    // A write is sent as it is, not kept in the address: reloading the page must not send it again.
    const text = /** @type {HTMLTextAreaElement} */ (element('body-input')).value.trim()
    const idempotencyKey = input('idempotency-key').value.trim()
    void send(path, { method, ...(text ? { body: text } : {}), ...(idempotencyKey ? { idempotencyKey } : {}) })
  })
  // A key names one request: another method or path is another request, so the key is cleared.
  const anotherRequest = () => {
    input('idempotency-key').value = ''
    void syncWriteBox()
  }
  element('method-input').addEventListener('change', anotherRequest)
  input('path-input').addEventListener('change', anotherRequest)
  button('fill-example').addEventListener('click', () => {
    /** @type {HTMLTextAreaElement} */ (element('body-input')).value = ''
    void syncWriteBox()
  })
  button('watch').addEventListener('click', () => {
    if (watching) stopWatching()
    else void watch(currentPath())
  })
  form('list-form').addEventListener('submit', (event) => {
    event.preventDefault()
    navigate(listPathFromForm())
  })
  form('list-form').addEventListener('reset', (event) => {
    event.preventDefault()
    navigate(LIST_PATH)
  })
  for (const control of ['prev', 'next', 'prev-bottom', 'next-bottom']) {
    button(control).addEventListener('click', () => {
      const target = button(control).dataset.target
      if (target) navigate(target)
    })
  }
  button('copy-curl').addEventListener('click', () => void copyCurl())
  button('expand-all').addEventListener('click', () => foldAll(true))
  button('collapse-all').addEventListener('click', () => foldAll(false))
  window.addEventListener('hashchange', () => {
    if (loadCredentials()) void send(currentPath())
  })
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping() || !loadCredentials()) return
    if (event.key === '/') {
      event.preventDefault()
      input('path-input').focus()
      input('path-input').select()
    } else if (event.key === '[' || event.key === ']') {
      const control = button(event.key === '[' ? 'prev' : 'next')
      if (!control.disabled) control.click()
    }
  })
  render()
}

void start()
