// Reads and creates organizations, the tenant every other row belongs to.
import type { Knex } from 'knex'

export interface OrganizationRow {
  id: string
  name: string
  time_zone: string
  date_format: string
  twenty_four_hour_time: boolean
  calendar_starts_on: string
}

export async function findOrganization(db: Knex, id: string): Promise<OrganizationRow | undefined> {
  const row = await db('organizations').where({ id }).first('id', 'name', 'time_zone', 'date_format', 'twenty_four_hour_time', 'calendar_starts_on')
  return row && { ...row, id: String(row.id) }
}

export interface NewOrganization {
  name: string
  time_zone?: string
  date_format?: string
  twenty_four_hour_time?: boolean
  calendar_starts_on?: string
  demo?: boolean
}

export async function createOrganization(db: Knex, attributes: NewOrganization): Promise<string> {
  const [row] = await db('organizations').insert(attributes).returning('id')
  return String(row.id)
}

