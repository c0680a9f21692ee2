// The API explorer (/explorer/), its assets, the OpenAPI document and the reference page (/docs): all served from here, nothing from elsewhere.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Router, type Response } from 'express'
import { EXPLORER_CLIENT_ID } from '../../db/migrations/20261124050000_explorer_application'
import { openApiDocument } from '../openapi/document'
import { referencePage } from '../openapi/reference-page'
import { explorerPage } from './page'

const ASSETS = path.join(__dirname, 'assets')

/** The explorer's files, read once at start: a missing one fails the start, not a request. */
const assets = new Map(
  [
    ['explorer.js', 'text/javascript; charset=utf-8'],
    ['explorer.css', 'text/css; charset=utf-8'],
  ].map(([name, type]) => [name!, { type: type!, body: readFileSync(path.join(ASSETS, name!)) }]),
)

// Only this server's own files and API: the browser refuses anything else, whatever a page tries.
const EXPLORER_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')
// The reference page has no script at all, and its style inline.
const REFERENCE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

function sendPage(res: Response, html: string, policy: string): void {
  res
    .status(200)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': policy,
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    })
    .send(html)
}

export function explorerRoutes(baseUrl: () => string): Router {
  // Strict, so that /explorer and /explorer/ are different routes.
  const router = Router({ strict: true })
  // Built once per base URL (it is known only once the server listens), not per request.
  let cached: { baseUrl: string; json: string; html: string; explorer: string } | undefined
  const pages = () => {
    if (cached?.baseUrl !== baseUrl()) {
      const document = openApiDocument(baseUrl())
      cached = {
        baseUrl: baseUrl(),
        json: JSON.stringify(document),
        html: referencePage(document),
        explorer: explorerPage({ clientId: EXPLORER_CLIENT_ID, baseUrl: baseUrl() }),
      }
    }
    return cached
  }

  // Public, like the rest of the reference: it holds nothing about any organization.
  router.get(['/calendar/v2/open_api/2022-07-07', '/openapi.json'], (_req, res) => {
    res.set({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'public, max-age=300' }).send(pages().json)
  })
  router.get('/docs', (_req, res) => sendPage(res, pages().html, REFERENCE_POLICY))

  // One canonical address, so the OAuth redirect URI (`/explorer/`) always matches.
  router.get('/explorer', (_req, res) => res.redirect(301, '/explorer/'))
  router.get('/explorer/', (_req, res) => sendPage(res, pages().explorer, EXPLORER_POLICY))
  router.get('/explorer/assets/:name', (req, res, next) => {
    const asset = assets.get(req.params.name)
    if (!asset) return next()
    res.set({ 'Content-Type': asset.type, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' }).send(asset.body)
  })
  return router
}
