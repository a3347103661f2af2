import { html } from 'hono/html';
import type { AuthOperation } from '../challenges/operations.js';
import type { AuthDescription } from '../monitor/describe-auth.js';
import type { HistoryEntry } from '../monitor/history.js';
import type { AuthSessionStats } from '../monitor/stats.js';
import type { AuthSessionInfo } from '../session/info.js';

// Server-rendered pages. Every value goes through Hono's `html` template, which escapes it: a label holding
// `<script>` is shown as text. Pages hold no credential, cookie or token: forms are never filled back with
// what was typed, and the CSRF token is the console session's own random value.

type Html = ReturnType<typeof html>;

/** What every page needs. */
export interface PageContext {
  /** The console's base path ('' or '/something'). */
  readonly base: string;
  /** The CSRF token of the signed-in browser (absent on the sign-in page). */
  readonly csrf?: string;
}

const STATES = ['pending', 'active', 'expired', 'failed'] as const;

export function layout(ctx: PageContext, title: string, body: Html, refreshSeconds?: number): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
${ctx.csrf === undefined ? '' : html`<meta name="csrf-token" content="${ctx.csrf}">`}
${refreshSeconds === undefined ? '' : html`<meta http-equiv="refresh" content="${refreshSeconds}">`}
<title>${title} · auth-sessions</title>
<link rel="stylesheet" href="${ctx.base}/assets/console.css">
<link rel="stylesheet" href="${ctx.base}/assets/uplot.css">
</head>
<body data-base="${ctx.base}">
<header>
<a class="brand" href="${ctx.base}/">auth-sessions</a>
${
  ctx.csrf === undefined
    ? ''
    : html`<a href="${ctx.base}/">Sessions</a>
<form method="post" action="${ctx.base}/sign-out">${csrfField(ctx)}<button type="submit">Sign out</button></form>`
}
</header>
<main>
${body}
</main>
<script src="${ctx.base}/assets/uplot.js" defer></script>
<script src="${ctx.base}/assets/console.js" defer></script>
</body>
</html>`;
}

function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">`;
}

export function signInPage(ctx: PageContext, message?: string): Html {
  return layout(
    ctx,
    'Sign in',
    html`<div class="signin">
<h1>Sign in</h1>
${message === undefined ? '' : html`<p class="error" role="alert">${message}</p>`}
<form method="post" action="${ctx.base}/sign-in">
<div class="field"><label for="token">Console token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus></div>
<button class="primary" type="submit">Sign in</button>
</form>
<p class="muted">The token is printed by <code>auth-sessions serve</code>, or is the <code>token</code> given to <code>createConsole</code>.</p>
</div>`,
  );
}

/** The filters of the sessions list, as given in the query. */
export interface ListQuery {
  readonly auth?: string;
  readonly state?: string;
  readonly labels?: string;
}

export interface ListPageData {
  readonly query: ListQuery;
  readonly authNames: readonly string[];
  readonly sessions: readonly AuthSessionInfo[];
  /** Query string of the next page, when there is one. */
  readonly next?: string;
  /** Query string of the first page, when this is not it. */
  readonly first?: string;
  readonly notice?: string;
  /** What the manager did since it started (no pass over the store). */
  readonly stats?: AuthSessionStats;
}

function stateBadge(info: AuthSessionInfo): Html {
  return html`<span class="state state-${info.state}" data-session-state="${info.id}">${info.state}</span>`;
}

function labelList(labels: Readonly<Record<string, string>>): Html {
  const entries = Object.entries(labels);
  if (entries.length === 0) return html`<span class="muted">—</span>`;
  return html`${entries.map(([k, v]) => html`<span class="label">${k}=${v}</span>`)}`;
}

/** Optional fields that other parts of the library add to a session (expiry from health checks, leases). */
export function extraTimes(info: AuthSessionInfo): { expiresAt?: string; leasedUntil?: string } {
  const extra = info as AuthSessionInfo & { expiresAt?: unknown; leasedUntil?: unknown };
  return {
    ...(typeof extra.expiresAt === 'string' ? { expiresAt: extra.expiresAt } : {}),
    ...(typeof extra.leasedUntil === 'string' ? { leasedUntil: extra.leasedUntil } : {}),
  };
}

export function listPage(ctx: PageContext, data: ListPageData): Html {
  const q = data.query;
  const rows = data.sessions.map((s) => {
    const extra = extraTimes(s);
    return html`<tr>
<td class="mono"><a href="${ctx.base}/sessions/${encodeURIComponent(s.id)}">${s.id}</a></td>
<td>${s.auth}</td><td>${stateBadge(s)}</td><td>${labelList(s.labels)}</td>
<td class="mono" data-session-checked="${s.id}">${s.lastCheckedAt ?? '—'}</td>
<td class="mono">${extra.expiresAt ?? '—'}</td>
<td class="mono">${s.updatedAt}</td>
</tr>`;
  });
  return layout(
    ctx,
    'Sessions',
    html`<h1>Sessions</h1>
${data.notice === undefined ? '' : html`<p class="notice" role="status">${data.notice}</p>`}
${
  data.stats === undefined
    ? ''
    : html`<p class="muted" id="stats">Since ${data.stats.since}: ${data.stats.runs.total} runs (${data.stats.runs.failed} failed),
${data.stats.checks.total} checks, ${data.stats.refreshes.total} refreshes (${data.stats.refreshes.failed} failed),
${data.stats.expirations} expirations, ${data.stats.failures} failures in all. Chart: the last hour, per minute.</p>`
}
<div id="chart" class="chart" aria-label="Runs, refreshes and failures per minute"></div>
<form class="filters" method="get" action="${ctx.base}/">
<div><label for="f-auth">Auth</label><select id="f-auth" name="auth"><option value="">any</option>
${data.authNames.map((n) => html`<option value="${n}"${q.auth === n ? ' selected' : ''}>${n}</option>`)}</select></div>
<div><label for="f-state">State</label><select id="f-state" name="state"><option value="">any</option>
${STATES.map((s) => html`<option value="${s}"${q.state === s ? ' selected' : ''}>${s}</option>`)}</select></div>
<div><label for="f-labels">Labels</label><input id="f-labels" name="labels" placeholder="customer=acme, tier=gold" value="${q.labels ?? ''}"></div>
<button type="submit">Filter</button>
</form>
<table id="sessions">
<thead><tr><th>Id</th><th>Auth</th><th>State</th><th>Labels</th><th>Last check</th><th>Expires</th><th>Updated</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="7" class="muted">No sessions match.</td></tr>`}</tbody>
</table>
<nav class="pager">
${data.first === undefined ? '' : html`<a href="${ctx.base}/?${data.first}">First page</a>`}
${data.next === undefined ? '' : html`<a rel="next" href="${ctx.base}/?${data.next}">Next page</a>`}
</nav>`,
  );
}

export interface SessionPageData {
  readonly session: AuthSessionInfo;
  readonly history: readonly HistoryEntry[];
  readonly notice?: string;
  readonly error?: string;
}

function historyCounts(history: readonly HistoryEntry[]): Array<[string, number, number]> {
  const counts = new Map<string, [number, number]>();
  for (const e of history) {
    const c = counts.get(e.kind) ?? [0, 0];
    if (e.outcome === 'ok') c[0]++;
    else c[1]++;
    counts.set(e.kind, c);
  }
  return [...counts].map(([kind, [ok, failed]]) => [kind, ok, failed]);
}

export function sessionPage(ctx: PageContext, data: SessionPageData): Html {
  const s = data.session;
  const id = encodeURIComponent(s.id);
  const extra = extraTimes(s);
  const labelsText = Object.entries(s.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  return layout(
    ctx,
    `Session ${s.id}`,
    html`<p><a href="${ctx.base}/">← Sessions</a></p>
<h1>Session <span class="mono">${s.id}</span> ${stateBadge(s)}</h1>
${data.notice === undefined ? '' : html`<p class="notice" role="status">${data.notice}</p>`}
${data.error === undefined ? '' : html`<p class="error" role="alert">${data.error}</p>`}
<dl class="facts">
<dt>Auth</dt><dd>${s.auth} (${s.type})</dd>
<dt>Created</dt><dd class="mono">${s.createdAt}</dd>
<dt>Updated</dt><dd class="mono">${s.updatedAt}</dd>
<dt>Last check</dt><dd class="mono" data-session-checked="${s.id}">${s.lastCheckedAt ?? '—'}</dd>
<dt>Expires</dt><dd class="mono">${extra.expiresAt ?? '—'}</dd>
${s.expiredAt === undefined ? '' : html`<dt>Expired</dt><dd class="mono">${s.expiredAt}</dd>`}
<dt>Leased until</dt><dd class="mono">${extra.leasedUntil ?? '—'}</dd>
${s.proxy === undefined ? '' : html`<dt>Proxy</dt><dd class="mono">${s.proxy.server}</dd>`}
${s.failure === undefined ? '' : html`<dt>Failure</dt><dd>${s.failure.code}: ${s.failure.message}</dd>`}
${s.input === undefined ? '' : html`<dt>Waiting for</dt><dd>${s.input.kind}: ${s.input.message}</dd>`}
<dt>Labels</dt><dd>${labelList(s.labels)}</dd>
</dl>
<div class="actions">
<form method="post" action="${ctx.base}/sessions/${id}/validate">${csrfField(ctx)}<button class="primary" type="submit">Validate</button></form>
${
  s.type === 'credentials'
    ? html`<a class="button" href="${ctx.base}/sessions/${id}/credentials">Update credentials</a>`
    : html`<form method="post" action="${ctx.base}/sessions/${id}/record">${csrfField(ctx)}<button type="submit">Record again</button></form>`
}
<form method="get" action="${ctx.base}/sessions/${id}/delete"><button class="danger" type="submit">Delete…</button></form>
</div>
<h2>Labels</h2>
<form method="post" action="${ctx.base}/sessions/${id}/labels">${csrfField(ctx)}
<div class="field"><label for="labels">One <code>name=value</code> per line</label>
<textarea id="labels" name="labels" rows="3" cols="40">${labelsText}</textarea></div>
<button type="submit">Save labels</button>
</form>
<h2>Stats</h2>
<table><thead><tr><th>Kind</th><th>Succeeded</th><th>Failed</th></tr></thead><tbody>
${historyCounts(data.history).map(([kind, ok, failed]) => html`<tr><td>${kind}</td><td>${ok}</td><td>${failed}</td></tr>`)}
</tbody></table>
<h2>History</h2>
<table id="history"><thead><tr><th>At</th><th>Kind</th><th>Outcome</th><th>Duration</th><th>Error</th></tr></thead><tbody>
${
  data.history.length === 0
    ? html`<tr><td colspan="5" class="muted">Nothing yet.</td></tr>`
    : [...data.history].reverse().map(
        (e) => html`<tr><td class="mono">${e.at}</td><td>${e.kind}</td><td>${e.outcome}</td>
<td>${e.durationMs === undefined ? '—' : `${Math.round(e.durationMs)} ms`}</td>
<td>${e.error === undefined ? '' : html`<span class="mono">${e.error.code}</span> ${e.error.message}`}</td></tr>`,
      )
}
</tbody></table>`,
  );
}

export function deletePage(ctx: PageContext, session: AuthSessionInfo): Html {
  const id = encodeURIComponent(session.id);
  return layout(
    ctx,
    `Delete ${session.id}`,
    html`<h1>Delete session <span class="mono">${session.id}</span>?</h1>
<p>Its stored login and credentials are removed for good; tasks using it will fail with <code>SESSION_NOT_FOUND</code>.</p>
<div class="actions">
<form method="post" action="${ctx.base}/sessions/${id}/delete">${csrfField(ctx)}<input type="hidden" name="confirm" value="yes">
<button class="danger" type="submit">Delete for good</button></form>
<a class="button" href="${ctx.base}/sessions/${id}">Cancel</a>
</div>`,
  );
}

export function credentialsPage(
  ctx: PageContext,
  session: AuthSessionInfo,
  auth: AuthDescription,
  error?: string,
): Html {
  const id = encodeURIComponent(session.id);
  const fields = auth.credentialFields;
  const inputs =
    fields === undefined
      ? html`<div class="field"><label for="c-json">Credentials as JSON</label>
<textarea id="c-json" name="json" rows="6" cols="60" autocomplete="off" spellcheck="false"></textarea></div>`
      : fields.map((f) => {
          const type =
            f.type === 'boolean'
              ? 'checkbox'
              : f.secret
                ? 'password'
                : f.type === 'string' || f.type === undefined
                  ? 'text'
                  : 'number';
          return html`<div class="field"><label for="c-${f.name}">${f.name}${f.optional ? ' (optional)' : ''}</label>
<input id="c-${f.name}" name="c.${f.name}" type="${type}" autocomplete="off"${f.optional || type === 'checkbox' ? '' : ' required'}${f.type === 'number' ? ' step="any"' : ''}></div>`;
        });
  return layout(
    ctx,
    `Credentials of ${session.id}`,
    html`<p><a href="${ctx.base}/sessions/${id}">← Session ${session.id}</a></p>
<h1>Update the credentials of <span class="mono">${session.id}</span></h1>
${error === undefined ? '' : html`<p class="error" role="alert">${error}</p>`}
<p class="muted">The session logs in again with them; if that fails it is left as it was.</p>
<form method="post" action="${ctx.base}/sessions/${id}/credentials">${csrfField(ctx)}
${inputs}
<button class="primary" type="submit">Log in with these credentials</button>
</form>`,
  );
}

export function operationPage(ctx: PageContext, op: AuthOperation, error?: string): Html {
  const opId = encodeURIComponent(op.id);
  const done = op.status === 'succeeded' || op.status === 'failed' || op.status === 'canceled';
  return layout(
    ctx,
    'Login',
    html`<p><a href="${ctx.base}/sessions/${encodeURIComponent(op.sessionId)}">← Session ${op.sessionId}</a></p>
<h1>Login of <span class="mono">${op.sessionId}</span>: <span id="op-status">${op.status}</span></h1>
${error === undefined ? '' : html`<p class="error" role="alert">${error}</p>`}
${op.error === undefined ? '' : html`<p class="error" role="alert">${op.error.code}: ${op.error.message}</p>`}
${
  op.status === 'waiting_for_input' && op.request !== undefined
    ? html`<form method="post" action="${ctx.base}/operations/${opId}/resume">${csrfField(ctx)}
<div class="field"><label for="answer">${op.request.message}</label>
${
  op.request.choices === undefined
    ? html`<input id="answer" name="answer" autocomplete="one-time-code" required autofocus>`
    : html`<select id="answer" name="answer">${op.request.choices.map((c) => html`<option value="${c}">${c}</option>`)}</select>`
}</div>
<button class="primary" type="submit">Send</button></form>`
    : ''
}
${done ? '' : html`<p class="muted">This page reloads until the login ends.</p>`}`,
    done || op.status === 'waiting_for_input' ? undefined : 2,
  );
}

export function errorPage(ctx: PageContext, status: number, message: string): Html {
  return layout(
    ctx,
    `Error ${status}`,
    html`<h1>${status}</h1><p class="error" role="alert">${message}</p>
<p><a href="${ctx.base}/">Back to the sessions</a></p>`,
  );
}
