// The connect pages' style and the live view's script, served as files from the connect routes so the
// content security policy can forbid every inline script and style.

/** `assets/connect.css`. */
export const CONNECT_CSS = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { max-width: 44rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
body.wide { max-width: 90rem; }
h1 { font-size: 1.4rem; }
label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
input[type=text], input[type=password], input[type=number], textarea, select { width: 100%; box-sizing: border-box; padding: .45rem; font: inherit; }
button { margin-top: 1rem; padding: .5rem 1.2rem; font: inherit; cursor: pointer; }
.error { color: #b00020; border-left: 3px solid #b00020; padding-left: .6rem; }
.ok { color: #116611; }
.hint { color: GrayText; font-size: .9rem; }
#live { outline: none; border: 2px solid GrayText; display: inline-block; max-width: 100%; line-height: 0; }
#live:focus { border-color: Highlight; }
#screen { max-width: 100%; height: auto; cursor: pointer; user-select: none; -webkit-user-drag: none; }
#screen:not([src]) { min-width: 20rem; min-height: 12rem; }
`;

/**
 * `assets/live-view.js`: shows the pictures streamed over Server-Sent Events and sends the person's clicks
 * (as fractions of the picture), keys and pasted text back by POST, one after the other, with the page's
 * CSRF token.
 */
export const LIVE_VIEW_JS = `'use strict';
(() => {
  const live = document.getElementById('live');
  const screen = document.getElementById('screen');
  const status = document.getElementById('status');
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  const base = live.getAttribute('data-base');
  let queue = Promise.resolve();
  const send = (message) => {
    queue = queue
      .then(() => fetch(base + '/input', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify(message),
      }))
      .catch(() => {});
  };
  const events = new EventSource(base + '/frames');
  events.addEventListener('frame', (e) => {
    const frame = JSON.parse(e.data);
    screen.setAttribute('data-width', String(frame.width));
    screen.setAttribute('data-height', String(frame.height));
    screen.src = 'data:image/jpeg;base64,' + frame.data;
  });
  events.addEventListener('status', (e) => {
    const s = JSON.parse(e.data);
    live.setAttribute('data-step', s.step);
    if (s.step === 'connected') {
      status.textContent = 'Connected. You can close this page.';
      status.className = 'ok';
      events.close();
    } else if (s.step === 'idle') {
      status.textContent = s.error || 'The recording stopped.';
      status.className = 'error';
      events.close();
      const again = document.getElementById('again');
      if (again) again.hidden = false;
    } else if (s.step === 'live') {
      status.textContent = 'Log in on the picture below: click into it, then type. It finishes by itself.';
      status.className = '';
    } else {
      status.textContent = 'Opening the browser…';
    }
  });
  screen.addEventListener('mousedown', (e) => e.preventDefault());
  screen.addEventListener('click', (e) => {
    const r = screen.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    live.focus();
    send({ type: 'click', x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height });
  });
  live.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && (e.key === 'v' || e.key === 'V')) return; // the paste event follows
    if (e.key === 'Shift' || e.key === 'Control' || e.key === 'Alt' || e.key === 'Meta') return;
    e.preventDefault();
    send({ type: 'key', key: e.key, ctrl: e.ctrlKey, alt: e.altKey, meta: e.metaKey, shift: e.shiftKey });
  });
  live.addEventListener('paste', (e) => {
    e.preventDefault();
    const text = e.clipboardData ? e.clipboardData.getData('text/plain') : '';
    if (text) send({ type: 'text', text });
  });
})();
`;
