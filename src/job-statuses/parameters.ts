// Parses a job status list's where[…] and order parameters into a filter and an order.
import { InvalidParameter } from '../jsonapi/errors'
import { singleValue, type QueryPairs } from '../jsonapi/query-string'
import { STATUSES, isStatus } from './lifecycle'
import { DEFAULT_ORDER, type ListFilter, type ListOrder } from './query'

/** Listed in meta.can_query_by and meta.can_order_by. */
export const CAN_QUERY_BY = ['started_at', 'status']
export const CAN_ORDER_BY = ['created_at', 'started_at']

const OPERATORS = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/

function timestamp(name: string, raw: string): Date {
  const date = new Date(raw)
  if (!TIMESTAMP.test(raw) || Number.isNaN(date.getTime())) {
    throw new InvalidParameter(name, `${name} must be an ISO 8601 time such as 2026-01-31T12:00:00Z`)
  }
  return date
}

export function parseListQuery(pairs: QueryPairs): { filter: ListFilter; order: ListOrder } {
  const filter: ListFilter = {}
  const status = singleValue(pairs, 'where[status]')
  if (status !== undefined) {
    const statuses = status.split(',').map((s) => s.trim())
    if (!statuses.every(isStatus)) {
      throw new InvalidParameter('where[status]', `where[status] must be one or more of ${STATUSES.join(', ')}, separated by commas`)
    }
    filter.status = statuses
  }
  const exact = singleValue(pairs, 'where[started_at]')
  if (exact !== undefined) filter.startedAt = [{ operator: '>=', value: timestamp('where[started_at]', exact) }, { operator: '<=', value: timestamp('where[started_at]', exact) }]
  for (const [suffix, operator] of Object.entries(OPERATORS)) {
    const name = `where[started_at][${suffix}]`
    const raw = singleValue(pairs, name)
    if (raw !== undefined) (filter.startedAt ??= []).push({ operator, value: timestamp(name, raw) })
  }

  const orderValue = singleValue(pairs, 'order')
  if (orderValue === undefined) return { filter, order: DEFAULT_ORDER }
  const column = orderValue.replace(/^-/, '')
  if (!CAN_ORDER_BY.includes(column)) {
    throw new InvalidParameter('order', `order must be one of ${CAN_ORDER_BY.flatMap((c) => [c, `-${c}`]).join(', ')}`)
  }
  return { filter, order: { column: column as ListOrder['column'], descending: orderValue.startsWith('-') } }
}
