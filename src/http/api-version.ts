// X-PCO-API-Version: picks the newest Calendar API version on or before the requested date.
import type { RequestHandler } from 'express'
import { UnsupportedVersion } from '../jsonapi/errors'

/** Calendar API versions, oldest first; the documents of both are the same for JobStatus. */
export const CALENDAR_VERSIONS = ['2018-08-01', '2022-07-07'] as const
export const DEFAULT_VERSION = '2022-07-07'

function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)
}

export function resolveVersion(requested: string | undefined): string {
  if (requested === undefined || requested.trim() === '') return DEFAULT_VERSION
  const value = requested.trim()
  if (value.toUpperCase() === 'LATEST') return CALENDAR_VERSIONS[CALENDAR_VERSIONS.length - 1] as string
  if (!isCalendarDate(value)) throw new UnsupportedVersion()
  // ISO dates compare correctly as strings.
  const chosen = CALENDAR_VERSIONS.filter((version) => version <= value).pop()
  if (chosen === undefined) throw new UnsupportedVersion()
  return chosen
}

export const apiVersion: RequestHandler = (req, res, next) => {
  const header = req.headers['x-pco-api-version']
  const version = resolveVersion(Array.isArray(header) ? header[0] : header)
  res.set('X-PCO-API-Processed-As-Version', version)
  next()
}
