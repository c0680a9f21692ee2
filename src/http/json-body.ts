// Request bodies in JSON: parsed with a size limit, then walked once (without recursion) to hold
// client JSON to a depth and to text the database can store, before any handler sees it.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import express, { type Request, type RequestHandler, type Response } from 'express'
import { isStorableText } from '../db/storable'
import { InvalidAttribute, UnsupportedMediaType } from '../jsonapi/errors'

/** The largest request body accepted, in bytes; a larger one answers 413 naming it. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024
/** How deeply client JSON may nest (the document's own levels included); deeper answers 400. */
export const MAX_JSON_DEPTH = 32

const escapePointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1')

/**
 * The first reason `value` cannot be accepted, as a JSON pointer and a detail, or undefined. Keys
 * are checked like strings: jsonb stores them too.
 */
export function findUnacceptableJson(value: unknown): { pointer: string; detail: string } | undefined {
  const stack: Array<{ value: unknown; pointer: string; depth: number }> = [{ value, pointer: '', depth: 0 }]
  while (stack.length > 0) {
    const { value: current, pointer, depth } = stack.pop()!
    if (typeof current === 'string') {
      if (!isStorableText(current)) return { pointer, detail: `${pointer || 'the body'} holds U+0000 or an unpaired surrogate, which cannot be stored` }
      continue
    }
    if (typeof current !== 'object' || current === null) continue
    if (depth >= MAX_JSON_DEPTH) return { pointer, detail: `JSON may nest at most ${MAX_JSON_DEPTH} levels deep` }
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push({ value: item, pointer: `${pointer}/${i}`, depth: depth + 1 }))
      continue
    }
    for (const [key, item] of Object.entries(current)) {
      const itemPointer = `${pointer}/${escapePointer(key)}`
      if (!isStorableText(key)) return { pointer: itemPointer, detail: `the member name at ${itemPointer} holds U+0000 or an unpaired surrogate, which cannot be stored` }
      stack.push({ value: item, pointer: itemPointer, depth: depth + 1 })
    }
  }
  return undefined
}

const JSON_TYPES = ['application/json', 'application/vnd.api+json']

/** Whether the request carries a body at all: a Content-Length above 0, or a chunked one. */
const hasBody = (headers: IncomingHttpHeaders) =>
  headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')

/** The body's media type, without its parameters, as Content-Type names it. */
const mediaTypeOf = (headers: IncomingHttpHeaders) => headers['content-type']?.split(';', 1)[0]!.trim()

const parseJson = express.json({ type: JSON_TYPES, limit: MAX_BODY_BYTES })

/**
 * Reads a JSON (or JSON:API) body within MAX_BODY_BYTES and refuses JSON the store cannot hold: its
 * value (undefined without a body) or its 4xx. A body in another media type answers 415 naming it,
 * instead of reading as no body at all.
 */
export function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const request = req as Request
  return new Promise((resolve, reject) => {
    const type = mediaTypeOf(req.headers)
    if (hasBody(req.headers) && !JSON_TYPES.includes(type?.toLowerCase() ?? '')) {
      return reject(new UnsupportedMediaType(`${type ? `The body is ${type}` : 'The body has no Content-Type'}; send application/vnd.api+json or application/json`))
    }
    parseJson(request, res as Response, (error?: unknown) => {
      if (error) return reject(error)
      const unacceptable = findUnacceptableJson(request.body)
      if (unacceptable) return reject(new InvalidAttribute(unacceptable.pointer, unacceptable.detail))
      resolve(request.body)
    })
  })
}

/** readJsonBody as a middleware: `req.body` is the request's JSON. */
export function jsonBody(): RequestHandler {
  return (req, res, next) => {
    readJsonBody(req, res).then(() => next(), next)
  }
}
