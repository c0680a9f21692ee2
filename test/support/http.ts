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
  const response = await fetch(`${baseUrl}${path}`, { method, headers: all })
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
