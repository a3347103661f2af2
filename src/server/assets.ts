import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

// The console's static assets: its stylesheet and script (below, served as files so the CSP needs no inline
// code) and uPlot's build, read from its package once.

/** The console's stylesheet. */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5f6b7a; --line: #d8dee4; --bg: #fff; --accent: #0b62d6;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9aa7b4; --line: #30363d; --bg: #0d1117;
  --accent: #4493f8; --ok: #3fb950; --bad: #f85149; --warn: #d29922; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
header a.brand { font-weight: 600; color: var(--fg); text-decoration: none; }
header form { margin-left: auto; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
a { color: var(--accent); }
h1 { font-size: 1.3rem; margin: .2rem 0 1rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: 13px; }
.state { display: inline-block; padding: 0 .45rem; border-radius: .6rem; border: 1px solid currentColor; font-size: 12px; }
.state-active { color: var(--ok); } .state-expired, .state-failed { color: var(--bad); } .state-pending { color: var(--warn); }
.label { display: inline-block; margin: 0 .25rem .1rem 0; padding: 0 .35rem; border: 1px solid var(--line); border-radius: .3rem; font-size: 12px; }
form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; }
label { display: block; color: var(--muted); font-size: 12px; }
input, select, textarea, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: .3rem; padding: .3rem .5rem; }
button { cursor: pointer; }
a.button { display: inline-block; text-decoration: none; color: inherit; border: 1px solid var(--line); border-radius: .3rem; padding: .3rem .5rem; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger, a.button.danger { border-color: var(--bad); color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; } .actions form { margin: 0; }
.notice { padding: .5rem .8rem; border: 1px solid var(--ok); border-radius: .3rem; margin-bottom: 1rem; }
.error { padding: .5rem .8rem; border: 1px solid var(--bad); border-radius: .3rem; margin-bottom: 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; } dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.muted { color: var(--muted); } .pager { margin-top: 1rem; display: flex; gap: 1rem; }
.chart { min-height: 180px; margin-bottom: 1rem; } .field { margin-bottom: .7rem; }
.signin { max-width: 360px; margin: 4rem auto; }
`;

/** The console's script: live states over Server-Sent Events, and the charts. */
export const CONSOLE_JS = `(() => {
  'use strict';
  const base = document.body.dataset.base || '';
  const stateCells = () => document.querySelectorAll('[data-session-state]');
  if (stateCells().length > 0 && typeof EventSource === 'function') {
    const source = new EventSource(base + '/events');
    source.addEventListener('open', () => { document.body.dataset.live = 'on'; });
    source.addEventListener('error', () => { document.body.dataset.live = 'off'; });
    source.addEventListener('session', (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      for (const cell of stateCells()) {
        if (cell.dataset.sessionState !== data.id) continue;
        const state = data.deleted ? 'deleted' : data.state;
        cell.textContent = state;
        cell.className = 'state state-' + state;
      }
      for (const cell of document.querySelectorAll('[data-session-checked]')) {
        if (cell.dataset.sessionChecked === data.id && data.lastCheckedAt) cell.textContent = data.lastCheckedAt;
      }
    });
    window.addEventListener('pagehide', () => source.close());
  }
  const chart = document.getElementById('chart');
  if (chart && typeof uPlot === 'function') {
    let plot;
    const draw = async () => {
      const response = await fetch(base + '/api/metrics', { credentials: 'same-origin' });
      if (!response.ok) return;
      const s = await response.json();
      const data = [s.t, s.runs, s.refreshes, s.failures];
      if (plot) { plot.setData(data); return; }
      plot = new uPlot({
        width: Math.max(320, chart.clientWidth || 800), height: 180,
        series: [{}, { label: 'runs', stroke: '#0b62d6' }, { label: 'refreshes', stroke: '#1a7f37' },
          { label: 'failures', stroke: '#cf222e' }],
      }, data, chart);
    };
    draw().catch(() => {});
    setInterval(() => draw().catch(() => {}), 15000);
  }
})();
`;

const require = createRequire(import.meta.url);
let uplot: Promise<{ js: string; css: string }> | undefined;

/** uPlot's script and stylesheet, read from the installed package on first use. */
export function uplotAssets(): Promise<{ js: string; css: string }> {
  uplot ??= (async () => ({
    js: await readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  }))();
  uplot.catch(() => {
    uplot = undefined;
  });
  return uplot;
}
