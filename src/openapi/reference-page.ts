// /docs: the OpenAPI document rendered as one HTML reference page, on the server, with no script and no outside asset.
import { escapeHtml } from '../auth/oauth/pages'
import type { OpenApiDocument } from './document'

type Json = Record<string, unknown>

const STYLE = `
  :root { font: 16px/1.55 system-ui, sans-serif; color: #1d2330; background: #f4f5f7; }
  body { margin: 0; }
  header { background: #1d2330; color: #fff; padding: 1rem; }
  header a { color: #cfe0ff; }
  h1 { margin: 0 0 .25rem; font-size: 1.4rem; }
  main { max-width: 62rem; margin: 0 auto; padding: 1rem; }
  nav ul { columns: 2 16rem; padding-left: 1.2rem; }
  nav li { overflow-wrap: anywhere; }
  section.operation, section.schema { background: #fff; border-radius: 8px; box-shadow: 0 1px 4px #0002; padding: 1rem; margin: 1rem 0; }
  h2 { margin-top: 2rem; }
  h3 { margin: 0; font-size: 1.05rem; overflow-wrap: anywhere; }
  .method { display: inline-block; min-width: 4.2rem; font-weight: 700; color: #1e6b3a; }
  .method.post, .method.patch { color: #a0430a; }
  code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #d8dce5; vertical-align: top; overflow-wrap: anywhere; }
  .wrap { overflow-x: auto; }
  pre { background: #f4f5f7; border-radius: 6px; padding: .6rem .8rem; overflow-x: auto; font-size: .85rem; }
  .sample h4 { margin: .6rem 0 .2rem; font-size: .9rem; }
  a:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
  @media (max-width: 40rem) { main { padding: .5rem; } section.operation, section.schema { border-radius: 0; } }
`

const METHODS = ['get', 'post', 'patch', 'put', 'delete'] as const

function refName(schema: unknown): string | undefined {
  const ref = (schema as Json | undefined)?.$ref
  return typeof ref === 'string' ? ref.split('/').pop() : undefined
}

/** A schema in a few words: a link to a named one, or its type. */
function typeOf(schema: unknown): string {
  const s = (schema ?? {}) as Json
  const name = refName(s)
  if (name) return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`
  if ('const' in s) return `<code>${escapeHtml(JSON.stringify(s.const))}</code>`
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => `<code>${escapeHtml(String(v))}</code>`).join(', ')}`
  if (s.type === 'array') return `array of ${typeOf(s.items)}`
  const type = Array.isArray(s.type) ? s.type.join(' or ') : typeof s.type === 'string' ? s.type : 'any'
  const format = typeof s.format === 'string' ? ` (${s.format})` : ''
  return escapeHtml(type + format)
}

/**
 * The descriptions' Markdown, as much of it as they use: paragraphs, `code`, **strong** and *emphasis*.
 * Escaped first, so nothing in a description becomes markup of its own.
 */
export function markdown(text: string): string {
  return text
    .split(/\n{2,}/)
    .map((paragraph) =>
      escapeHtml(paragraph)
        .replace(/`([^`]+)`/g, '<code>$1</code>')
        .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
        .replace(/(^|[\s(])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>'),
    )
    .join('</p><p>')
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/** A curl line for the operation, with its documented example as the body and placeholders for secrets. */
function curlSample(document: OpenApiDocument, path: string, method: string, op: Json): string {
  const base = document.servers[0]?.url ?? ''
  const url = `${base}${path.replace(/\{[^}]+\}/g, '1')}`
  const security = (op.security ?? (document as unknown as Json).security ?? []) as Array<Record<string, string[]>>
  const schemes = security.flatMap((requirement) => Object.keys(requirement))
  const auth = schemes.includes('oauth2')
    ? ` -H "Authorization: Bearer $TOKEN"`
    : schemes.includes('zendeskBasic')
      ? ` -u "$EMAIL/token:$SECRET"`
      : schemes.includes('xplentyApiKey')
        ? ` -u "$API_KEY:"`
        : schemes.includes('personalAccessToken')
          ? ` -u "$APP_ID:$SECRET"`
          : ''
  const content = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined
  const [type, media] = Object.entries(content ?? {})[0] ?? []
  const body = media?.example === undefined ? '' : ` -H ${shellQuote(`Content-Type: ${type}`)} --data ${shellQuote(JSON.stringify(media.example))}`
  const form = type === 'application/x-www-form-urlencoded' ? ` -H 'Content-Type: ${type}' --data 'grant_type=…'` : ''
  return `curl -g -i${method === 'get' ? '' : ` -X ${method.toUpperCase()}`}${auth}${body || form} ${shellQuote(url)}`
}

function resolve(document: OpenApiDocument, value: unknown): Json {
  const ref = (value as Json | undefined)?.$ref
  if (typeof ref !== 'string') return (value ?? {}) as Json
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Json)[key], document) as Json
}

function operation(document: OpenApiDocument, path: string, method: string, op: Json, shared: unknown[]): string {
  const id = String(op.operationId)
  const parameters = [...shared, ...((op.parameters as unknown[]) ?? [])].map((p) => resolve(document, p))
  const security = (op.security ?? document.security) as Array<Record<string, string[]>>
  const auth = security.length === 0 ? 'none' : security.map((s) => Object.entries(s).map(([name, scopes]) => `${name}${scopes.length ? ` (${scopes.join(', ')})` : ''}`).join(' + ')).join(' or ')
  const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined
  const responses = Object.entries(op.responses as Record<string, unknown>).map(([status, r]) => {
    const resolved = resolve(document, r)
    const content = resolved.content as Record<string, Json> | undefined
    const media = content ? Object.entries(content).map(([type, c]) => `<code>${escapeHtml(type)}</code> ${typeOf(c.schema)}`).join('<br>') : ''
    return `<tr><td><code>${escapeHtml(status)}</code></td><td>${markdown(String(resolved.description ?? ''))}</td><td>${media}</td></tr>`
  })
  return `<section class="operation" id="${escapeHtml(id)}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p>${markdown(String(op.summary ?? ''))}${op.description ? ` ${markdown(String(op.description))}` : ''}</p>
<p>Authentication: ${escapeHtml(auth)}</p>
${
  parameters.length
    ? `<div class="wrap"><table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>${parameters
        .map((p) => `<tr><td><code>${escapeHtml(String(p.name))}</code>${p.required ? ' (required)' : ''}</td><td>${escapeHtml(String(p.in))}</td><td>${typeOf(p.schema)}</td><td>${markdown(String(p.description ?? ''))}</td></tr>`)
        .join('')}</tbody></table></div>`
    : ''
}
${body ? `<p>Body: ${Object.entries(body).map(([type, c]) => `<code>${escapeHtml(type)}</code> ${typeOf(c.schema)}`).join(', ')}</p>` : ''}
${(() => {
  const example = body ? Object.values(body).find((c) => c.example !== undefined)?.example : undefined
  return example === undefined ? '' : `<div class="sample"><h4>Example body</h4><pre><code>${escapeHtml(JSON.stringify(example, null, 2))}</code></pre></div>`
})()}
<div class="sample"><h4>With curl</h4><pre class="curl"><code>${escapeHtml(curlSample(document, path, method, op))}</code></pre></div>
<div class="wrap"><table><thead><tr><th>status</th><th>meaning</th><th>body</th></tr></thead><tbody>${responses.join('')}</tbody></table></div>
</section>`
}

function schemaSection(name: string, schema: Json): string {
  const properties = Object.entries((schema.properties ?? {}) as Record<string, unknown>)
  const required = new Set((schema.required as string[] | undefined) ?? [])
  return `<section class="schema" id="schema-${escapeHtml(name)}">
<h3>${escapeHtml(name)}</h3>
${schema.description ? `<p>${markdown(String(schema.description))}</p>` : ''}
${
  properties.length
    ? `<div class="wrap"><table><thead><tr><th>member</th><th>type</th><th>description</th></tr></thead><tbody>${properties
        .map(([member, s]) => `<tr><td><code>${escapeHtml(member)}</code>${required.has(member) ? ' (always)' : ''}</td><td>${typeOf(s)}</td><td>${markdown(String((s as Json).description ?? ''))}</td></tr>`)
        .join('')}</tbody></table></div>`
    : `<p>${typeOf(schema)}</p>`
}
</section>`
}

export function referencePage(document: OpenApiDocument): string {
  const byTag = new Map<string, string[]>()
  const index: string[] = []
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined
      if (!op) continue
      const tag = ((op.tags as string[] | undefined) ?? ['Other'])[0]!
      byTag.set(tag, [...(byTag.get(tag) ?? []), operation(document, path, method, op, (item.parameters as unknown[]) ?? [])])
      index.push(`<li><a href="#${escapeHtml(String(op.operationId))}">${method.toUpperCase()} ${escapeHtml(path)}</a></li>`)
    }
  }
  const schemes = Object.entries(document.components.securitySchemes as Record<string, Json>)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)} · Reference</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(document.info.title)}</h1>
<p>Version ${escapeHtml(document.info.version)} · <a href="/openapi.json">OpenAPI 3.1 document</a> · <a href="/explorer/">Try it in the explorer</a></p>
</header>
<main>
<p>${markdown(document.info.description)}</p>
<nav aria-label="Endpoints"><h2>Endpoints</h2><ul>${index.join('')}</ul></nav>
<h2>Authentication</h2>
<div class="wrap"><table><thead><tr><th>scheme</th><th>kind</th><th>description</th></tr></thead><tbody>${schemes
    .map(([name, s]) => `<tr><td><code>${escapeHtml(name)}</code></td><td>${escapeHtml(String(s.type))}${s.scheme ? ` ${escapeHtml(String(s.scheme))}` : ''}</td><td>${markdown(String(s.description ?? ''))}</td></tr>`)
    .join('')}</tbody></table></div>
${document.tags.map((tag) => `<h2 id="tag-${escapeHtml(tag.name)}">${escapeHtml(tag.name)}</h2><p>${markdown(tag.description)}</p>${(byTag.get(tag.name) ?? []).join('\n')}`).join('\n')}
<h2>Schemas</h2>
${Object.entries(document.components.schemas).map(([name, schema]) => schemaSection(name, schema)).join('\n')}
</main>
</body>
</html>
`
}
