import type { BrowserState } from './state.js';

/**
 * The sessionStorage of one origin, as kept in {@link BrowserState}`.sessionStorage`.
 *
 * @example
 * ```ts
 * const entry: SessionStorageSnapshot = { origin: 'https://crm.example', items: [{ name: 'token', value: '…' }] };
 * ```
 */
export type SessionStorageSnapshot = NonNullable<BrowserState['sessionStorage']>[number];

/**
 * The sessionStorage key the restore script sets in a tab once it has restored that origin's items. Kept
 * there because sessionStorage outlives reloads in a tab: on the next load the restore is skipped, so values
 * the page changed or removed since stay as the page left them. Never captured.
 *
 * @example
 * ```ts
 * const restored = await page.evaluate((flag) => sessionStorage.getItem(flag) !== null, RESTORED_FLAG);
 * ```
 */
export const RESTORED_FLAG = '__auth_sessions_restored__';

/**
 * The init script that puts saved sessionStorage back, for `context.addInitScript(script)`. It runs in every
 * document before the page's own scripts and writes the items of the document's own origin only (other
 * origins never see them). It restores once per tab and origin: items already present are not overwritten
 * (a popup inherits its opener's newer values), and after a reload or a later navigation in the same tab
 * nothing is restored again, so what the page changed or removed stays that way. Known limit: a page that
 * calls `sessionStorage.clear()` also removes the marker, and its next load in that tab restores again.
 *
 * @example
 * ```ts
 * if (state.sessionStorage?.length) await context.addInitScript(sessionStorageInitScript(state.sessionStorage));
 * ```
 */
export function sessionStorageInitScript(entries: readonly SessionStorageSnapshot[]): {
  readonly content: string;
} {
  const byOrigin: Array<[string, Array<[string, string]>]> = [];
  for (const entry of entries) {
    const origin = normaliseOrigin(entry.origin);
    if (origin === undefined || entry.items.length === 0) continue;
    byOrigin.push([origin, entry.items.map((item) => [item.name, item.value])]);
  }
  // JSON is a JS expression; U+2028/2029 are escaped for engines that predate ES2019's JSON superset.
  const data = JSON.stringify(byOrigin)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  const content = `(() => {
  const entries = ${data};
  let storage;
  let origin;
  try {
    storage = window.sessionStorage;
    origin = location.origin;
  } catch {
    return;
  }
  const entry = entries.find((e) => e[0] === origin);
  if (!entry) return;
  try {
    if (storage.getItem(${JSON.stringify(RESTORED_FLAG)}) !== null) return;
    for (const [name, value] of entry[1]) {
      if (storage.getItem(name) === null) storage.setItem(name, value);
    }
    storage.setItem(${JSON.stringify(RESTORED_FLAG)}, '1');
  } catch {}
})();`;
  return { content };
}

function normaliseOrigin(origin: string): string | undefined {
  try {
    const normalised = new URL(origin).origin;
    return normalised === 'null' ? undefined : normalised;
  } catch {
    return undefined;
  }
}
