/**
 * HTML of the demo site. Plain strings with stable ids (`#username`, `#password`, `#login`, `#user`, …) so
 * login and check hooks stay one-liners. Everything user-supplied goes through {@link escapeHtml}.
 */

/**
 * Where a token site keeps its bearer token, one place only per site: `ls` localStorage, `ss`
 * sessionStorage, `idb` IndexedDB (database `auth`, store `tokens`, key `token`).
 *
 * @example
 * ```ts
 * const place: TokenPlace = 'idb';
 * ```
 */
export type TokenPlace = 'ls' | 'ss' | 'idb';

const STYLE =
  'body{font:15px/1.4 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}' +
  'label{display:block;margin-top:.6rem}input{display:block;width:100%;padding:.35rem;box-sizing:border-box}' +
  'button{margin-top:.8rem;padding:.4rem 1rem}#error,#login-required{color:#b00}nav a{margin-right:.8rem}';

/**
 * Escapes text for HTML content and double-quoted attributes.
 *
 * @example
 * ```ts
 * escapeHtml('<b>"x"</b>'); // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, script = ''): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(title)} · Demo site</title><style>${STYLE}</style></head>` +
    `<body>${body}${script ? `<script>${script}</script>` : ''}</body></html>`
  );
}

function errorLine(message: string | undefined): string {
  return message ? `<p id="error" role="alert">${escapeHtml(message)}</p>` : '';
}

function csrfField(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
}

/**
 * The home page: links to every flow.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, homePage(undefined));
 * ```
 */
export function homePage(user: string | undefined): string {
  const who = user
    ? `<p>Signed in as <span id="user">${escapeHtml(user)}</span> · <a id="logout" href="/logout">Log out</a></p>`
    : '<p id="anonymous">Not signed in.</p>';
  return layout(
    'Home',
    `<h1>Demo site</h1>${who}<nav><ul>` +
      '<li><a id="login-link" href="/login">Log in (cookie session)</a></li>' +
      '<li><a href="/account">Account</a></li>' +
      '<li><a href="/account/password">Change password</a></li>' +
      '<li><a href="/ls/login">Token site: localStorage</a></li>' +
      '<li><a href="/ss/login">Token site: sessionStorage</a></li>' +
      '<li><a href="/idb/login">Token site: IndexedDB</a></li>' +
      '<li><a href="/device">Device report</a></li></ul></nav>',
  );
}

/**
 * The login form (`POST /login`).
 *
 * @example
 * ```ts
 * sendHtml(res, 200, loginPage({ csrf, next: '/account' }));
 * ```
 */
export function loginPage(opts: { csrf: string; next: string; username?: string; error?: string }): string {
  return layout(
    'Log in',
    '<h1>Log in</h1>' +
      errorLine(opts.error) +
      '<form id="login-form" method="POST" action="/login">' +
      csrfField(opts.csrf) +
      `<input type="hidden" name="next" value="${escapeHtml(opts.next)}">` +
      '<label for="username">Username</label>' +
      `<input id="username" name="username" autocomplete="username" required value="${escapeHtml(opts.username ?? '')}">` +
      '<label for="password">Password</label>' +
      '<input id="password" name="password" type="password" autocomplete="current-password" required>' +
      '<button id="login" type="submit">Log in</button></form>',
  );
}

/**
 * The second-factor form: a TOTP code at `/otp` (`#otp`) or an e-mailed code at `/email-code` (`#code`).
 *
 * @example
 * ```ts
 * sendHtml(res, 200, codePage({ kind: 'totp', csrf, user: 'alice' }));
 * ```
 */
export function codePage(opts: {
  kind: 'totp' | 'email';
  csrf: string;
  user: string;
  error?: string;
}): string {
  const totp = opts.kind === 'totp';
  const field = totp ? 'otp' : 'code';
  const intro = totp
    ? '<p>Enter the 6-digit code from your authenticator app.</p>'
    : `<p id="sent">We e-mailed a 6-digit code to ${escapeHtml(opts.user)}.</p>`;
  return layout(
    totp ? 'Two-factor authentication' : 'Check your e-mail',
    `<h1>${totp ? 'Two-factor authentication' : 'Check your e-mail'}</h1>` +
      intro +
      errorLine(opts.error) +
      `<form id="${field}-form" method="POST" action="${totp ? '/otp' : '/email-code'}">` +
      csrfField(opts.csrf) +
      `<label for="${field}">Code</label>` +
      `<input id="${field}" name="${field}" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required>` +
      '<button id="verify" type="submit">Verify</button></form>',
  );
}

/**
 * The account page of a cookie session.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, accountPage('alice'));
 * ```
 */
export function accountPage(user: string): string {
  return layout(
    'Account',
    `<h1>Account</h1><p>Signed in as <span id="user">${escapeHtml(user)}</span></p>` +
      '<nav><a href="/account/password">Change password</a><a href="/device">Device</a>' +
      '<a id="logout" href="/logout">Log out</a></nav>',
  );
}

/**
 * The password change form (`POST /account/password`).
 *
 * @example
 * ```ts
 * sendHtml(res, 200, passwordPage({ csrf, user: 'alice' }));
 * ```
 */
export function passwordPage(opts: { csrf: string; user: string; error?: string }): string {
  return layout(
    'Change password',
    `<h1>Change password</h1><p>Signed in as <span id="user">${escapeHtml(opts.user)}</span></p>` +
      errorLine(opts.error) +
      '<form id="password-form" method="POST" action="/account/password">' +
      csrfField(opts.csrf) +
      '<label for="current">Current password</label>' +
      '<input id="current" name="current" type="password" autocomplete="current-password" required>' +
      '<label for="new">New password</label>' +
      '<input id="new" name="new" type="password" autocomplete="new-password" required>' +
      '<button id="change" type="submit">Change password</button></form>',
  );
}

/**
 * Shown after a password change: every session of the user has ended.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, passwordChangedPage());
 * ```
 */
export function passwordChangedPage(): string {
  return layout(
    'Password changed',
    '<h1>Password changed</h1><p id="message">Password changed. Please log in again.</p>' +
      '<a href="/login">Log in</a>',
  );
}

/**
 * A plain message page (403, 404, 413, …).
 *
 * @example
 * ```ts
 * sendHtml(res, 404, messagePage('Not found', 'No such page.'));
 * ```
 */
export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p id="error">${escapeHtml(message)}</p>`);
}

/** Browser code that keeps the token in exactly one place. */
function storageScript(place: TokenPlace): string {
  if (place === 'ls') {
    return (
      'async function saveToken(t){localStorage.setItem("token",t);}' +
      'async function loadToken(){return localStorage.getItem("token");}' +
      'async function dropToken(){localStorage.removeItem("token");}'
    );
  }
  if (place === 'ss') {
    return (
      'async function saveToken(t){sessionStorage.setItem("token",t);}' +
      'async function loadToken(){return sessionStorage.getItem("token");}' +
      'async function dropToken(){sessionStorage.removeItem("token");}'
    );
  }
  // No version: open whatever version exists (a restored database), create v1 with the store otherwise.
  return (
    'function openDb(){return new Promise(function(ok,ko){var r=indexedDB.open("auth");' +
    'r.onupgradeneeded=function(){if(!r.result.objectStoreNames.contains("tokens"))r.result.createObjectStore("tokens");};' +
    'r.onsuccess=function(){ok(r.result);};r.onerror=function(){ko(r.error);};});}' +
    'async function inStore(mode,fn){var db=await openDb();try{if(!db.objectStoreNames.contains("tokens"))return null;' +
    'return await new Promise(function(ok,ko){var tx=db.transaction("tokens",mode);var req=fn(tx.objectStore("tokens"));' +
    'var out=null;req.onsuccess=function(){out=req.result===undefined?null:req.result;};' +
    'tx.oncomplete=function(){ok(out);};tx.onerror=function(){ko(tx.error);};tx.onabort=function(){ko(tx.error);};});}' +
    'finally{db.close();}}' +
    'async function saveToken(t){await inStore("readwrite",function(s){return s.put(t,"token");});}' +
    'async function loadToken(){return inStore("readonly",function(s){return s.get("token");});}' +
    'async function dropToken(){await inStore("readwrite",function(s){return s.delete("token");});}'
  );
}

const PLACE_NAMES: Record<TokenPlace, string> = {
  ls: 'localStorage',
  ss: 'sessionStorage',
  idb: 'IndexedDB',
};

/**
 * Login page of a token site: a click handler posts JSON to `/api/token`, stores the token in one place and
 * goes to the account page. Enter in a field logs in too.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, tokenLoginPage('ss'));
 * ```
 */
export function tokenLoginPage(place: TokenPlace): string {
  const script =
    storageScript(place) +
    'var busy=false;' +
    'function fail(m){var e=document.getElementById("error");if(!e){e=document.createElement("p");e.id="error";' +
    'e.setAttribute("role","alert");document.getElementById("messages").appendChild(e);}e.textContent=m;}' +
    'async function login(){if(busy)return;busy=true;var old=document.getElementById("error");if(old)old.remove();' +
    'try{var body={username:document.getElementById("username").value,password:document.getElementById("password").value};' +
    'var otp=document.getElementById("otp").value;if(otp)body.otp=otp;' +
    'var res=await fetch("/api/token",{method:"POST",credentials:"omit",headers:{"content-type":"application/json"},body:JSON.stringify(body)});' +
    'if(!res.ok)return fail("Invalid username or password");' +
    'var data=await res.json();await saveToken(data.token);' +
    `location.href="/${place}/account";` +
    '}catch(e){fail("Login failed");}finally{busy=false;}}' +
    'document.getElementById("login").addEventListener("click",login);' +
    'document.querySelectorAll("input").forEach(function(i){i.addEventListener("keydown",function(e){if(e.key==="Enter")login();});});';
  return layout(
    `Log in (${PLACE_NAMES[place]})`,
    `<h1>Log in</h1><p>This site keeps its token in ${PLACE_NAMES[place]}.</p>` +
      '<div id="messages"></div><div id="login-form">' +
      '<label for="username">Username</label><input id="username" autocomplete="username">' +
      '<label for="password">Password</label><input id="password" type="password" autocomplete="current-password">' +
      '<label for="otp">Code (if two-factor is on)</label><input id="otp" inputmode="numeric" autocomplete="one-time-code">' +
      '<button id="login" type="button">Log in</button></div>',
    script,
  );
}

/**
 * Account page of a token site: reads the token from its one place and calls `/api/me` with it; adds
 * `#user` on success, `#login-required` otherwise (neither exists while loading).
 *
 * @example
 * ```ts
 * sendHtml(res, 200, tokenAccountPage('idb'));
 * ```
 */
export function tokenAccountPage(place: TokenPlace): string {
  const script =
    storageScript(place) +
    'var box=document.getElementById("status");' +
    'function required(){box.innerHTML="";var p=document.createElement("p");p.id="login-required";' +
    `p.innerHTML='Login required. <a href="/${place}/login">Log in</a>';box.appendChild(p);}` +
    '(async function(){try{var t=await loadToken();if(!t)return required();' +
    'var res=await fetch("/api/me",{credentials:"omit",headers:{authorization:"Bearer "+t}});' +
    'if(!res.ok)return required();var data=await res.json();box.innerHTML="";' +
    'var p=document.createElement("p");p.append("Signed in as ");var s=document.createElement("span");s.id="user";' +
    's.textContent=data.user;p.appendChild(s);box.appendChild(p);}catch(e){required();}})();' +
    'document.getElementById("logout").addEventListener("click",async function(){var t=await loadToken();' +
    'if(t)await fetch("/api/logout",{method:"POST",credentials:"omit",headers:{authorization:"Bearer "+t}}).catch(function(){});' +
    `await dropToken();location.href="/${place}/login";});`;
  return layout(
    `Account (${PLACE_NAMES[place]})`,
    `<h1>Account</h1><div id="status"><p id="loading">Loading…</p></div>` +
      '<button id="logout" type="button">Log out</button>',
    script,
  );
}

/**
 * The device page: reports what the browser looks like to `POST /api/device` and shows it.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, devicePage());
 * ```
 */
export function devicePage(): string {
  const script =
    'var d={userAgent:navigator.userAgent,width:innerWidth,height:innerHeight,' +
    'timezone:Intl.DateTimeFormat().resolvedOptions().timeZone,language:navigator.language};' +
    'document.getElementById("device").textContent=JSON.stringify(d,null,2);' +
    'fetch("/api/device",{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify(d)})' +
    '.then(function(r){var p=document.createElement("p");p.id=r.ok?"reported":"report-failed";' +
    'p.textContent=r.ok?"Reported.":"Report failed.";document.body.appendChild(p);});';
  return layout('Device', '<h1>Device</h1><pre id="device"></pre>', script);
}
