import type { BrowserContext, Frame } from 'playwright-core';
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
 * Options of {@link captureSessionStorage}.
 *
 * @example
 * ```ts
 * await captureSessionStorage(context, { frameTimeoutMs: 2000 });
 * ```
 */
export interface CaptureSessionStorageOptions {
  /**
   * Bound on reading one frame. A page blocked by a dialog or a busy script never answers; it is skipped.
   * @default 5000
   */
  readonly frameTimeoutMs?: number;
}

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

// Plain source text, not a serialised function: bundlers and test transforms (esbuild's keepNames) inject
// helpers into compiled functions that do not exist in the page.
const READ_SCRIPT = `(() => {
  try {
    const origin = location.origin;
    if (!origin || origin === 'null') return null;
    const storage = window.sessionStorage;
    const items = [];
    for (let i = 0; i < storage.length; i++) {
      const name = storage.key(i);
      if (name === null || name === ${JSON.stringify(RESTORED_FLAG)}) continue;
      const value = storage.getItem(name);
      if (value !== null) items.push({ name, value });
    }
    return { origin, items };
  } catch {
    return null;
  }
})()`;

const SKIPPED_SCHEMES = ['about:', 'data:', 'javascript:', 'chrome-error:', 'chrome:', 'devtools:'];

/**
 * Reads the sessionStorage of every open page of `context` and of their frames, per origin. Pages that close
 * or navigate meanwhile, opaque origins (`about:blank`, `data:`, sandboxed frames) and frames that do not
 * answer within `frameTimeoutMs` are skipped. sessionStorage belongs to a tab: when several tabs hold the
 * same origin, their items are merged and the most recently opened tab wins on equal names. Origins with no
 * items are left out; origins and items are sorted so an unchanged state compares equal.
 *
 * Playwright's `storageState()` does not include sessionStorage, hence this.
 *
 * @example
 * ```ts
 * const state = { ...(await context.storageState({ indexedDB: true })), sessionStorage: await captureSessionStorage(context) };
 * ```
 */
export async function captureSessionStorage(
  context: BrowserContext,
  options: CaptureSessionStorageOptions = {},
): Promise<SessionStorageSnapshot[]> {
  const timeoutMs = options.frameTimeoutMs ?? 5000;
  const frames: Frame[] = [];
  for (const page of context.pages()) {
    if (page.isClosed()) continue;
    for (const frame of page.frames()) {
      const url = frame.url();
      if (url === '' || SKIPPED_SCHEMES.some((scheme) => url.startsWith(scheme))) continue;
      frames.push(frame);
    }
  }
  // Read in parallel, keep the page order for merging.
  const results = await Promise.all(frames.map((frame) => readFrame(frame, timeoutMs)));
  const byOrigin = new Map<string, Map<string, string>>();
  for (const result of results) {
    if (result === undefined) continue;
    let items = byOrigin.get(result.origin);
    if (items === undefined) {
      items = new Map();
      byOrigin.set(result.origin, items);
    }
    for (const { name, value } of result.items) items.set(name, value);
  }
  return [...byOrigin]
    .filter(([, items]) => items.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([origin, items]) => ({
      origin,
      items: [...items]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, value]) => ({ name, value })),
    }));
}

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

async function readFrame(frame: Frame, timeoutMs: number): Promise<SessionStorageSnapshot | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
    timer.unref?.();
  });
  const read = frame.evaluate(READ_SCRIPT).then(
    (value) => (isSnapshot(value) ? value : undefined),
    // Closed page, detached frame, navigation in progress: nothing to read there now.
    () => undefined,
  );
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isSnapshot(value: unknown): value is SessionStorageSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const { origin, items } = value as { origin?: unknown; items?: unknown };
  return typeof origin === 'string' && origin !== 'null' && Array.isArray(items);
}

function normaliseOrigin(origin: string): string | undefined {
  try {
    const normalised = new URL(origin).origin;
    return normalised === 'null' ? undefined : normalised;
  } catch {
    return undefined;
  }
}
