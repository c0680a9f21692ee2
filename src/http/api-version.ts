// X-PCO-API-Version: picks the newest version of an API on or before the requested date.
import type { RequestHandler } from 'express'
import { UnsupportedVersion } from '../jsonapi/errors'

/** Calendar API versions, oldest first; the documents of both are the same for JobStatus. */
export const CALENDAR_VERSIONS = ['2018-08-01', '2022-07-07'] as const
/** What a Calendar request without X-PCO-API-Version is answered as: the newest. */
export const DEFAULT_VERSION = CALENDAR_VERSIONS[CALENDAR_VERSIONS.length - 1]!

/** The Webhooks API's one version. */
export const WEBHOOKS_VERSIONS = ['2022-10-20'] as const

function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)
}

/** The version a request asked for; absent means the newest. */
export function resolveVersion(requested: string | undefined, versions: readonly string[] = CALENDAR_VERSIONS): string {
  const newest = versions[versions.length - 1] as string
  if (requested === undefined || requested.trim() === '') return newest
  const value = requested.trim()
  if (value.toUpperCase() === 'LATEST') return newest
  if (!isCalendarDate(value)) throw new UnsupportedVersion(versions[0])
  // ISO dates compare correctly as strings.
  const chosen = versions.filter((version) => version <= value).pop()
  if (chosen === undefined) throw new UnsupportedVersion(versions[0])
  return chosen
}

export function apiVersion(versions: readonly string[]): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['x-pco-api-version']
    res.set('X-PCO-API-Processed-As-Version', resolveVersion(Array.isArray(header) ? header[0] : header, versions))
    next()
  }
}
