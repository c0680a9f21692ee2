// Wire formats shared by every resource: PCO timestamps and ids.

/** UTC `YYYY-MM-DDTHH:MM:SSZ`, no milliseconds (wire contract §1). */
export function formatTimestamp(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null
  const date = value instanceof Date ? value : new Date(value)
  return `${date.toISOString().slice(0, 19)}Z`
}

const MAX_BIGINT = 9223372036854775807n

/** A path id as a positive bigint string, or undefined for anything that cannot name a row. */
export function parseId(raw: string): string | undefined {
  if (!/^[1-9]\d{0,18}$/.test(raw)) return undefined
  return BigInt(raw) <= MAX_BIGINT ? raw : undefined
}
