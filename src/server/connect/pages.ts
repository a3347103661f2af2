import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { CredentialField } from '../../monitor/describe-auth.js';

// The connect pages, server-rendered. Every value goes through Hono's `html` template, which escapes it;
// nothing a person typed is ever written back (credential inputs are always empty, codes too). Relative URLs
// (`<token>/…`) keep the pages working under any mount path.

type Page = HtmlEscapedString | Promise<HtmlEscapedString>;

/** What every page needs: its link (relative), its CSRF token. */
export interface PageLink {
  /** The link token, which as a relative URL is the link itself. */
  readonly token: string;
  readonly csrf: string;
}

function layout(
  title: string,
  body: Page,
  options: { script?: boolean; refresh?: number; wide?: boolean } = {},
): Page {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${options.refresh ? html`<meta http-equiv="refresh" content="${options.refresh}">` : ''}
<title>${title}</title>
<link rel="stylesheet" href="assets/connect.css">
${options.script ? html`<script src="assets/live-view.js" defer></script>` : ''}
</head>
<body${options.wide ? html` class="wide"` : ''}>
${body}
</body>
</html>`;
}

/** The form's name of a credential field (prefixed so it never collides with `csrf`). */
export function fieldName(name: string): string {
  return `c.${name}`;
}

function errorLine(error: string | undefined): Page | string {
  return error ? html`<p class="error" role="alert">${error}</p>` : '';
}

function input(field: CredentialField): Page {
  const name = fieldName(field.name);
  const id = `f-${field.name}`;
  const optional = field.optional ? html` <span class="hint">(optional)</span>` : '';
  if (field.type === 'boolean') {
    return html`<label><input type="checkbox" name="${name}" id="${id}" value="true"> ${field.name}${optional}</label>`;
  }
  const type = field.secret
    ? 'password'
    : field.type === 'number' || field.type === 'integer'
      ? 'number'
      : 'text';
  const step = field.type === 'number' ? html` step="any"` : '';
  const auto = field.secret ? 'off' : field.name.toLowerCase().includes('user') ? 'username' : 'off';
  return html`<label for="${id}">${field.name}${optional}</label>
<input type="${type}" name="${name}" id="${id}"${step} autocomplete="${auto}"${field.optional ? '' : html` required`}>`;
}

/** The credentials form: one input per field of the schema, or one JSON box when the schema is opaque. */
export function credentialsPage(
  link: PageLink,
  auth: string,
  fields: readonly CredentialField[] | undefined,
  error?: string,
): Page {
  const inputs = fields
    ? fields.map((f) => input(f))
    : html`<label for="f-json">Credentials (JSON)</label>
<textarea name="json" id="f-json" rows="6" autocomplete="off" spellcheck="false" required></textarea>`;
  return layout(
    `Connect ${auth}`,
    html`<h1>Connect your ${auth} account</h1>
${errorLine(error)}
<form method="post" action="${link.token}/credentials" autocomplete="off">
<input type="hidden" name="csrf" value="${link.csrf}">
${inputs}
<button type="submit" id="connect">Connect</button>
</form>
<p class="hint">What you enter is stored encrypted and used only to log in for you.</p>`,
  );
}

/** The login asks for input (a one-time code…): its message, and a box for the answer. */
export function inputPage(
  link: PageLink,
  auth: string,
  request: {
    readonly id: string;
    readonly kind: string;
    readonly message: string;
    readonly choices?: readonly string[];
  },
  error?: string,
): Page {
  const answer = request.choices?.length
    ? html`<select name="input" id="f-input" required>${request.choices.map((c) => html`<option>${c}</option>`)}</select>`
    : html`<input type="text" name="input" id="f-input" autocomplete="one-time-code" required>`;
  return layout(
    `Connect ${auth}`,
    html`<h1>Connect your ${auth} account</h1>
${errorLine(error)}
<form method="post" action="${link.token}/answer" autocomplete="off">
<input type="hidden" name="csrf" value="${link.csrf}">
<input type="hidden" name="request" value="${request.id}">
<label for="f-input">${request.message}</label>
${answer}
<button type="submit" id="send">Send</button>
</form>`,
  );
}

/** The login runs: the page reloads itself every two seconds. */
export function workingPage(auth: string): Page {
  return layout(
    `Connecting ${auth}`,
    html`<h1>Connecting your ${auth} account…</h1><p id="working">Logging in. This page updates by itself.</p>`,
    { refresh: 2 },
  );
}

/** Done. */
export function connectedPage(auth: string): Page {
  return layout(
    `Connected ${auth}`,
    html`<h1>Connected</h1><p class="ok" id="connected">Your ${auth} account is connected. You can close this page.</p>`,
  );
}

/** A recorder link before it is used: what will happen, and the button that starts it. */
export function recorderStartPage(link: PageLink, auth: string, error?: string): Page {
  return layout(
    `Connect ${auth}`,
    html`<h1>Connect your ${auth} account</h1>
${errorLine(error)}
<p>A browser opens the ${auth} login page on our server and shows it here. Log in on the picture as you
would in your own browser: click into the fields and type. It finishes by itself once you are logged in.</p>
<form method="post" action="${link.token}/start">
<input type="hidden" name="csrf" value="${link.csrf}">
<button type="submit" id="start">Start</button>
</form>`,
  );
}

/** The live view of the recording browser. */
export function livePage(link: PageLink, auth: string): Page {
  return layout(
    `Connect ${auth}`,
    html`<meta name="csrf-token" content="${link.csrf}">
<h1>Connect your ${auth} account</h1>
<p id="status" role="status">Opening the browser…</p>
<div id="live" tabindex="0" data-base="${link.token}" data-step="starting"><img id="screen" alt="The login page, live"></div>
<form method="post" action="${link.token}/start" id="again" hidden>
<input type="hidden" name="csrf" value="${link.csrf}">
<button type="submit">Start again</button>
</form>`,
    { script: true, wide: true },
  );
}

/** A refused link: used, expired, not valid. Says nothing about what the link was for. */
export function refusedPage(message: string): Page {
  return layout('Link not usable', html`<h1>This link cannot be used</h1><p id="refused">${message}</p>`);
}
