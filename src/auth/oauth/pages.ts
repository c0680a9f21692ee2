// The HTML of the sign-in and consent page and of the error page, self-contained: no script, no outside asset.
import { isScope, SCOPES } from '../scopes'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 26rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.3rem; margin-top: 0; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input[type=email], input[type=password] { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #bbc; border-radius: 4px; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { flex: 1; padding: .7rem; font-size: 1rem; border-radius: 4px; border: 1px solid #2a5bd7; cursor: pointer; }
  button[value=allow] { background: #2a5bd7; color: #fff; }
  button[value=deny] { background: #fff; color: #2a5bd7; }
  button:focus-visible, input:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
  .error { background: #fdecea; color: #8a1c13; padding: .75rem; border-radius: 4px; }
  ul { padding-left: 1.2rem; }
  @media (max-width: 30rem) { main { margin: 0; border-radius: 0; box-shadow: none; } }
`

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>${body}</main></body>
</html>
`
}

export interface ConsentPage {
  applicationName: string
  scopes: string[]
  /** The authorization request's parameters, carried through the form unchanged. */
  parameters: Record<string, string>
  email?: string
  error?: string
}


export function consentPage({ applicationName, scopes, parameters, email = '', error }: ConsentPage): string {
  const hidden = Object.entries(parameters)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n')
  const scopeItems = scopes.map((scope) => `<li><strong>${escapeHtml(scope)}</strong>: ${escapeHtml(isScope(scope) ? SCOPES[scope] : 'Access to this product')}</li>`).join('')
  return page(
    `Authorize ${applicationName}`,
    `<h1>Sign in to authorize ${escapeHtml(applicationName)}</h1>
<p><strong>${escapeHtml(applicationName)}</strong> would like to:</p>
<ul>${scopeItems}</ul>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/oauth/authorize">
${hidden}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>`,
  )
}

export function errorPage(title: string, detail: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1>\n<p class="error" role="alert">${escapeHtml(detail)}</p>\n<p>Nothing was sent back to the application. Check its OAuth settings and try again.</p>`)
}
