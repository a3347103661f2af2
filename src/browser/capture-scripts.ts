import type { Frame } from 'playwright-core';
import { RESTORED_FLAG } from './session-storage.js';
import type { BrowserState } from './state.js';
import { withTimeout } from './with-timeout.js';

// What the state capture runs in the page: the init script with which every document reports its storage as
// it unloads, and the script that reads a frame's storage at capture time. Plain source text, checked when it
// comes back (the page's own scripts share its world).

type NameValue = BrowserState['origins'][number]['localStorage'][number];

/**
 * The init script that makes every document report its origin's storage as it unloads, through the binding
 * `name` (taken out of `window` at once, so the page's scripts do not see it). It notes whether the document
 * opened an IndexedDB database; the storage is read at `beforeunload` and `pagehide`, whichever comes first.
 */
export function leavingScript(name: string): string {
  return `(() => {
  let send;
  try {
    send = window[${JSON.stringify(name)}];
    delete window[${JSON.stringify(name)}];
  } catch {}
  if (typeof send !== 'function' || window.top !== window) return;
  const stringify = JSON.stringify;
  const keys = Object.keys;
  let idb = false;
  try {
    const open = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function (...args) {
      idb = true;
      return open.apply(this, args);
    };
  } catch {}
  let sent = false;
  const report = () => {
    if (sent) return;
    sent = true;
    try {
      const origin = location.origin;
      if (!origin || origin === 'null') return;
      const items = [];
      const ss = window.sessionStorage;
      for (let i = 0; i < ss.length; i++) {
        const n = ss.key(i);
        if (n === null || n === ${JSON.stringify(RESTORED_FLAG)}) continue;
        const v = ss.getItem(n);
        if (v !== null) items.push({ name: n, value: v });
      }
      const ls = window.localStorage;
      const local = keys(ls)
        .filter((n) => !n.startsWith(${JSON.stringify(COVERAGE_PREFIX)}))
        .map((n) => ({ name: n, value: ls.getItem(n) }));
      send(stringify({ origin, items, local, databases: 0, idb }));
    } catch {}
  };
  addEventListener('beforeunload', report, true);
  addEventListener('pagehide', report, true);
})();`;
}

/** What a frame answered: its origin and sessionStorage; for a main frame, its localStorage and databases. */
export interface FrameRead {
  readonly origin: string;
  readonly items: NameValue[];
  /** Main frames only. */
  readonly local?: NameValue[];
  /** Main frames only: how many IndexedDB databases the origin has; -1 when unknown. */
  readonly databases?: number;
}

export const SKIPPED_SCHEMES = ['about:', 'data:', 'javascript:', 'chrome-error:', 'chrome:', 'devtools:'];

/** Playwright's storage script leaves out its own coverage keys; so does this one. */
const COVERAGE_PREFIX = '__pwCoverage.';

// Plain source text, not a serialised function: bundlers and test transforms (esbuild's keepNames) inject
// helpers into compiled functions that do not exist in the page.
function readScript(main: boolean): string {
  return `(async () => {
  let origin;
  const items = [];
  try {
    origin = location.origin;
    if (!origin || origin === 'null') return null;
    const storage = window.sessionStorage;
    for (let i = 0; i < storage.length; i++) {
      const name = storage.key(i);
      if (name === null || name === ${JSON.stringify(RESTORED_FLAG)}) continue;
      const value = storage.getItem(name);
      if (value !== null) items.push({ name, value });
    }
  } catch {
    return null;
  }
  const result = { origin, items };
  ${
    main
      ? `try {
    const storage = window.localStorage;
    result.local = Object.keys(storage)
      .filter((name) => !name.startsWith(${JSON.stringify(COVERAGE_PREFIX)}))
      .map((name) => ({ name, value: storage.getItem(name) }));
  } catch {}
  result.databases = -1;
  try {
    result.databases = (await indexedDB.databases()).length;
  } catch {}`
      : ''
  }
  return result;
})()`;
}

const MAIN_FRAME_SCRIPT = readScript(true);
const FRAME_SCRIPT = readScript(false);

/** Bound on reading one frame: a page blocked by a dialog or a busy script never answers; it is skipped. */
const FRAME_TIMEOUT_MS = 5000;

export async function readFrame(
  frame: Frame,
  main: boolean,
  timeoutMs = FRAME_TIMEOUT_MS,
): Promise<FrameRead | undefined> {
  const read = frame.evaluate(main ? MAIN_FRAME_SCRIPT : FRAME_SCRIPT).then(
    (value) => asFrameRead(value, main),
    // Closed page, detached frame, navigation in progress: nothing to read there now.
    () => undefined,
  );
  // `read` never rejects: a rejection is the timeout.
  return withTimeout(read, timeoutMs, 'A frame did not answer in time').catch(() => undefined);
}

/** What {@link readMainFrame} needs of a page's CDP session. */
export interface RuntimeSession {
  send(
    method: 'Runtime.evaluate',
    params: { expression: string; awaitPromise: boolean; returnByValue: boolean },
  ): Promise<{ result: { value?: unknown }; exceptionDetails?: unknown }>;
}

/**
 * Reads a page's main frame like {@link readFrame}, through a CDP session of the page (`Runtime.evaluate`
 * in its main world): a single round trip, where Playwright's `frame.evaluate` first waits for its own view
 * of the document's execution context (which costs the most right after a navigation). Undefined when the
 * page gave no usable answer or none in time (as {@link readFrame}); `null` when the session itself failed
 * (detached, closed): the caller then reads the frame the Playwright way.
 */
export async function readMainFrame(
  session: RuntimeSession,
  timeoutMs = FRAME_TIMEOUT_MS,
): Promise<FrameRead | undefined | null> {
  const read = session
    .send('Runtime.evaluate', { expression: MAIN_FRAME_SCRIPT, awaitPromise: true, returnByValue: true })
    .then(
      (answer) =>
        answer.exceptionDetails === undefined ? asFrameRead(answer.result.value, true) : undefined,
      () => null,
    );
  return withTimeout(read, timeoutMs, 'A page did not answer in time').catch(() => undefined);
}

/** The page's own scripts run in the same world: its answer is checked, not trusted. */
export function asFrameRead(value: unknown, main: boolean): FrameRead | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { origin, items, local, databases } = value as Record<string, unknown>;
  if (typeof origin !== 'string' || origin === 'null' || !isNameValues(items)) return undefined;
  if (!main) return { origin, items };
  return {
    origin,
    items,
    ...(isNameValues(local) ? { local } : {}),
    databases: typeof databases === 'number' && Number.isInteger(databases) ? databases : -1,
  };
}

function isNameValues(value: unknown): value is NameValue[] {
  return (
    Array.isArray(value) &&
    value.every(
      (item: unknown) =>
        typeof item === 'object' &&
        item !== null &&
        typeof (item as NameValue).name === 'string' &&
        typeof (item as NameValue).value === 'string',
    )
  );
}
