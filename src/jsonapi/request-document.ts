// Reads a JSON:API request document's members, naming by JSON pointer whatever is not there or not right.
import { InvalidAttribute } from './errors'

export type Json = Record<string, unknown>

/** `value` as an object, or a 400 naming `pointer`. */
export function object(value: unknown, pointer: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidAttribute(pointer, `${pointer} must be an object`)
  return value as Json
}

/** `data.attributes` of a request document for `type` (an absent `data.type` is taken as it). */
export function attributesOf(body: unknown, type: string): Json {
  const data = object(object(body, '').data, '/data')
  if (data.type !== undefined && data.type !== type) throw new InvalidAttribute('/data/type', `/data/type must be ${type}`)
  return data.attributes === undefined ? {} : object(data.attributes, '/data/attributes')
}
