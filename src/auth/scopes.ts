// The OAuth scopes this server knows, each with what it lets a token do: consent pages, the
// command-line tool and application registration all read them here.

export const SCOPES = {
  calendar: 'Read your organization’s Calendar data, including job statuses',
  jobs: 'Create jobs and report their progress',
  webhooks: 'Manage webhook subscriptions and read what was delivered to them',
} as const satisfies Record<string, string>

export type Scope = keyof typeof SCOPES

export const SCOPE_NAMES = Object.keys(SCOPES) as Scope[]

export function isScope(name: string): name is Scope {
  return Object.hasOwn(SCOPES, name)
}

/** A space- or comma-separated scope list, or the names in it that this server does not know. */
export function parseScopes(text: string): { scopes: Scope[] } | { unknown: string[] } {
  const names = [...new Set(text.split(/[ ,]+/).filter(Boolean))]
  const unknown = names.filter((name) => !isScope(name))
  return unknown.length > 0 ? { unknown } : { scopes: names as Scope[] }
}
