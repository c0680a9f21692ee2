// A small HTTP client for tests: real requests over the loopback, with a token or PAT when given.
export interface Credentials {
  token?: string
  basic?: { appId: string; secret: string }
}

export interface Reply {
  status: number
  headers: Headers
  text: string
  /** The body parsed as JSON (throws when it is not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert bodies against literals
  json: any
}

export async function request(
  baseUrl: string,
  path: string,
  { token, basic, headers = {}, method = 'GET' }: Credentials & { headers?: Record<string, string>; method?: string } = {},
): Promise<Reply> {
  const all: Record<string, string> = { ...headers }
  if (token !== undefined) all.Authorization = `Bearer ${token}`
  if (basic) all.Authorization = `Basic ${Buffer.from(`${basic.appId}:${basic.secret}`).toString('base64')}`
  const response = await fetchOnce(`${baseUrl}${path}`, { method, headers: all })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    text,
    get json() {
      return JSON.parse(text)
    },
  }
}

const RESET = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'])

/**
 * fetch, sent again once when a GET or HEAD met a connection the server had just closed: a kept-alive
 * connection idle for the server's keep-alive timeout can be closed as the client reuses it, which a
 * loaded machine makes likely. HTTP lets a client retry an idempotent request then (RFC 9110 §9.2.2);
 * a server that is down fails the second attempt too.
 */
async function fetchOnce(url: string, init: RequestInit & { method: string }): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code
    if ((init.method !== 'GET' && init.method !== 'HEAD') || code === undefined || !RESET.has(code)) throw error
    return fetch(url, init)
  }
}

/** How often the server's `cache` has been hit so far, as its /metrics says. */
export async function cacheHits(url: string, cache: string): Promise<number> {
  const text = (await request(url, '/metrics')).text
  return Number(new RegExp(`^pco_cache_lookups_total\\{cache="${cache}",result="hit"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
}
