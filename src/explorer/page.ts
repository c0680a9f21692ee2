// The explorer's HTML shell; explorer.js fills it in. No inline script, so the page's policy can forbid them.
import { escapeHtml } from '../auth/oauth/pages'

const STATUSES = ['queued', 'working', 'stopping', 'completed', 'failed', 'killed']
const FIELDS = [
  'errors', 'message', 'retries', 'started_at', 'status',
  'completed_at', 'created_at', 'created_by', 'failed_at', 'kind', 'outputs', 'progress', 'results', 'results_count', 'runtime', 'total', 'updated_at',
]
const ORDERS = ['started_at', '-started_at', 'created_at', '-created_at']

export function explorerPage({ clientId, baseUrl }: { clientId: string; baseUrl: string }): string {
  const checkbox = (name: string, value: string) =>
    `<label class="check"><input type="checkbox" name="${name}" value="${escapeHtml(value)}"> ${escapeHtml(value)}</label>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API Explorer · Planning Center Calendar JobStatus</title>
<link rel="stylesheet" href="/explorer/assets/explorer.css">
<script src="/explorer/assets/explorer.js" defer></script>
</head>
<body data-client-id="${escapeHtml(clientId)}" data-base-url="${escapeHtml(baseUrl)}">
<a class="skip" href="#response">Skip to the response</a>
<header class="top">
  <h1>API Explorer</h1>
  <nav aria-label="Reference"><a href="/docs">Reference</a> · <a href="/openapi.json">OpenAPI</a></nav>
  <div id="identity" class="identity" aria-live="polite"></div>
</header>

<main>
<section id="signin" class="panel" hidden aria-labelledby="signin-title">
  <h2 id="signin-title">Sign in</h2>
  <p>Requests are sent with your credentials, to this server only, and answered for your organization.</p>
  <div class="signin-options">
    <div class="option">
      <h3>With this server's OAuth</h3>
      <p>Signs in as the registered <em>API Explorer</em> application (PKCE, scope <code>calendar</code>).</p>
      <button id="oauth-signin" type="button" class="primary">Sign in with OAuth</button>
    </div>
    <form id="token-form" class="option">
      <h3>Paste a bearer token</h3>
      <label for="token-input">Access token</label>
      <input id="token-input" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Use this token</button>
    </form>
    <form id="pat-form" class="option">
      <h3>Personal access token</h3>
      <label for="pat-app-id">Application ID</label>
      <input id="pat-app-id" name="app_id" autocomplete="off" spellcheck="false" required>
      <label for="pat-secret">Secret</label>
      <input id="pat-secret" name="secret" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Use this token</button>
    </form>
  </div>
  <p id="signin-error" class="error-text" role="alert"></p>
</section>

<section id="workspace" class="workspace" hidden>
  <form id="request-form" class="request-bar" aria-label="Request">
    <label class="visually-hidden" for="method-input">Method</label>
    <select id="method-input" name="method" class="method">
      <option>GET</option><option>POST</option><option>PATCH</option><option>DELETE</option>
    </select>
    <label class="visually-hidden" for="path-input">Path</label>
    <input id="path-input" name="path" spellcheck="false" autocomplete="off" aria-describedby="keys">
    <button type="submit" class="primary">Send</button>
  </form>
  <div id="write-box" class="panel write-box" hidden>
    <label for="body-input">Request body (JSON)</label>
    <textarea id="body-input" rows="8" spellcheck="false" autocomplete="off"></textarea>
    <div class="grid">
      <label>Idempotency-Key <input id="idempotency-key" autocomplete="off" spellcheck="false" placeholder="any text: a retry with it writes nothing twice"></label>
      <button id="fill-example" type="button">Fill in the example</button>
    </div>
  </div>
  <div id="watch-box" class="panel watch-box" hidden>
    <button id="watch" type="button">Watch events</button>
    <ol id="events" class="events" aria-live="polite"></ol>
  </div>
  <p id="keys" class="keys">Keys: <kbd>/</kbd> edit the path · <kbd>[</kbd> previous page · <kbd>]</kbd> next page · <kbd>Enter</kbd> on a fold opens or closes it</p>

  <form id="list-form" class="panel list-form" hidden aria-label="Job status list parameters">
    <details id="list-parameters" open>
    <summary>Parameters: per_page, offset, order, where, fields</summary>
    <div class="grid">
      <label>per_page <input name="per_page" type="number" min="1" max="100" inputmode="numeric"></label>
      <label>offset <input name="offset" type="number" min="0" inputmode="numeric"></label>
      <label>order
        <select name="order"><option value="">id (default)</option>${ORDERS.map((o) => `<option>${o}</option>`).join('')}</select>
      </label>
      <label>where[started_at][gte] <input name="where[started_at][gte]" placeholder="YYYY-MM-DDThh:mm:ssZ" spellcheck="false"></label>
      <label>where[started_at][lte] <input name="where[started_at][lte]" placeholder="YYYY-MM-DDThh:mm:ssZ" spellcheck="false"></label>
    </div>
    <fieldset><legend>where[status]</legend>${STATUSES.map((s) => checkbox('where[status]', s)).join('')}</fieldset>
    <fieldset><legend>fields[JobStatus]</legend>${FIELDS.map((f) => checkbox('fields[JobStatus]', f)).join('')}</fieldset>
    <div class="actions"><button type="submit" class="primary">Apply</button> <button type="reset" id="list-reset">Clear</button></div>
    </details>
  </form>

  <div class="pager" role="group" aria-label="Pages">
    <button id="prev" type="button" disabled>← Previous</button>
    <span id="page-info" aria-live="polite"></span>
    <button id="next" type="button" disabled>Next →</button>
  </div>

  <section id="response" class="panel response" tabindex="-1" aria-labelledby="summary" aria-busy="false">
    <h2 id="summary" class="summary">No request yet</h2>
    <div id="problem" class="problem" role="alert" hidden></div>
    <details id="reference" class="reference" hidden></details>
    <div id="view"></div>
    <div class="pager" role="group" aria-label="Pages, below the rows">
      <button id="prev-bottom" type="button" disabled aria-label="Previous page (below the rows)">← Previous</button>
      <span id="page-info-bottom"></span>
      <button id="next-bottom" type="button" disabled aria-label="Next page (below the rows)">Next →</button>
    </div>
    <div class="curl">
      <button id="copy-curl" type="button">Copy as curl</button>
      <code id="curl-line"></code>
    </div>
    <details id="headers-box" class="headers">
      <summary>Response headers</summary>
      <div class="table-wrap"><table id="headers"></table></div>
    </details>
    <div class="body-tools">
      <h3>Body</h3>
      <button id="expand-all" type="button">Expand all</button>
      <button id="collapse-all" type="button">Collapse all</button>
    </div>
    <div id="body" class="json"></div>
  </section>
</section>
</main>
</body>
</html>
`
}
