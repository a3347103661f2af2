import type { BrowserContext, Download, Page } from 'playwright-core';
import { withTimeout } from './with-timeout.js';

/**
 * What keeps a reused page and a warm context from carrying one run's leftovers into the next.
 *
 * A run gets the real Playwright `page` and `context` (not wrappers: identity, `instanceof` and every API
 * keep working). The methods whose effect outlives a run and that Playwright cannot undo cheaply are
 * shadowed on the instance by a function that records the call, then calls Playwright's own:
 *
 * - on a page (`PAGE_STICKY`): init scripts, exposed functions, extra headers, viewport and media emulation,
 *   HAR and WebSocket routes, locator handlers, default timeouts. Such a page is closed after the run
 *   instead of being kept for the next one.
 * - on a context (`CONTEXT_STICKY`, and the clock): init scripts, exposed functions, routes, extra headers,
 *   permissions, geolocation, offline mode, HTTP credentials, a CDP session, a fake clock. Such a context is
 *   retired after the run: the session's next run gets a fresh one (opened from the saved state).
 *
 * What can be undone cheaply is undone when the run ends: listeners and routes the run added to its page
 * are removed, pages it opened (popups) are closed, downloads it started are cancelled and deleted, and the
 * page is navigated to `about:blank` so nothing of its documents (`window` globals, timers, workers)
 * survives. A page that got a `dialog` listener during the run is closed rather than kept (a dialog may be
 * waiting on it).
 *
 * @example
 * ```ts
 * const context = trackContext(lease.context);
 * const page = trackPage(await lease.newPage());
 * const run = startRun(page);
 * // … the task runs …
 * const keep = !isDirty(page) && (await endRun(run));
 * ```
 */
export const PAGE_STICKY = [
  'addInitScript',
  'exposeBinding',
  'exposeFunction',
  'setExtraHTTPHeaders',
  'setViewportSize',
  'emulateMedia',
  'routeFromHAR',
  'routeWebSocket',
  'addLocatorHandler',
  'setDefaultTimeout',
  'setDefaultNavigationTimeout',
] as const;

/** Context methods whose effect outlives a run and cannot be undone cheaply (see {@link PAGE_STICKY}). */
export const CONTEXT_STICKY = [
  'addInitScript',
  'exposeBinding',
  'exposeFunction',
  'route',
  'routeFromHAR',
  'routeWebSocket',
  'setExtraHTTPHeaders',
  'grantPermissions',
  'clearPermissions',
  'setGeolocation',
  'setOffline',
  'setHTTPCredentials',
  'newCDPSession',
  'setDefaultTimeout',
  'setDefaultNavigationTimeout',
] as const;

/** Clock methods (context-wide, also reached as `page.clock`) that change time for every page. */
const CLOCK_STICKY = [
  'install',
  'fastForward',
  'pauseAt',
  'resume',
  'runFor',
  'setFixedTime',
  'setSystemTime',
];

/** Bound on one clean-up step of a page (unroute, navigate away, cancel a download). */
const STEP_TIMEOUT_MS = 5000;

/** Objects instrumented so far, and whether a sticky method was called on them since. */
const dirty = new WeakMap<object, { dirty: boolean }>();

/** Tracked pages that `page.route()` was called on since their last clean-up (only those need unrouting). */
const routed = new WeakSet<object>();

/**
 * Shadows `names` on `target` with recording wrappers, once per object; `flag` is the object whose dirty
 * mark the calls set.
 */
function instrument(target: object, names: readonly string[], flag: { dirty: boolean }): void {
  const record = target as Record<string, unknown>;
  for (const name of names) {
    const original = record[name];
    if (typeof original !== 'function') continue;
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      flag.dirty = true;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    Object.defineProperty(target, name, { value: wrapped, configurable: true, writable: true });
  }
}

/** Instruments a warm context (idempotent): calls of {@link CONTEXT_STICKY} methods mark it dirty. */
export function trackContext(context: BrowserContext): BrowserContext {
  if (dirty.has(context)) return context;
  const flag = { dirty: false };
  dirty.set(context, flag);
  instrument(context, CONTEXT_STICKY, flag);
  const clock = (context as unknown as { clock?: object }).clock;
  if (clock && typeof clock === 'object' && !dirty.has(clock)) {
    dirty.set(clock, flag);
    instrument(clock, CLOCK_STICKY, flag);
  }
  return context;
}

/** Instruments a page lent to runs (idempotent): calls of {@link PAGE_STICKY} methods mark it dirty. */
export function trackPage(page: Page): Page {
  if (dirty.has(page)) return page;
  const flag = { dirty: false };
  dirty.set(page, flag);
  instrument(page, PAGE_STICKY, flag);
  const route = (page as unknown as { route?: unknown }).route;
  if (typeof route === 'function') {
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      routed.add(page);
      return (route as (...a: unknown[]) => unknown).apply(this, args);
    };
    Object.defineProperty(page, 'route', { value: wrapped, configurable: true, writable: true });
  }
  // `page.clock` is the context's clock: instrumented with the context (marks the context dirty).
  return page;
}

/** Whether a tracked page or context had a sticky method called on it. Untracked objects count as clean. */
export function isDirty(target: object): boolean {
  return dirty.get(target)?.dirty === true;
}

/**
 * Calls a context's own method, bypassing the instrumentation (for the library's own use, e.g. the state
 * capture's CDP session), so it does not mark the context dirty.
 */
export function untracked<K extends keyof BrowserContext>(
  context: BrowserContext,
  name: K,
): BrowserContext[K] {
  const own = Object.getPrototypeOf(context) as BrowserContext;
  const fn = (own[name] ?? context[name]) as unknown;
  return (typeof fn === 'function' ? fn.bind(context) : fn) as BrowserContext[K];
}

/** The listeners a page had when a run got it, per event. */
type ListenerSnapshot = ReadonlyMap<string | symbol, readonly unknown[]>;

interface ListenerApi {
  eventNames?: () => (string | symbol)[];
  rawListeners?: (event: string | symbol) => unknown[];
  removeListener?: (event: string | symbol, listener: (...args: unknown[]) => unknown) => unknown;
  on?: (event: string, listener: (...args: never[]) => unknown) => unknown;
  off?: (event: string, listener: (...args: never[]) => unknown) => unknown;
  unrouteAll?: (options?: { behavior?: 'wait' | 'ignoreErrors' | 'default' }) => Promise<void>;
  goto?: (url: string, options?: { timeout?: number; waitUntil?: 'commit' }) => Promise<unknown>;
  url?: () => string;
}

/** One run's use of a page: what to undo when the run ends. */
export interface PageRun {
  readonly page: Page;
  readonly listeners: ListenerSnapshot;
  /** Pages opened from the run's page (popups, and their popups), closed when the run ends. */
  readonly popups: Set<Page>;
  /** Downloads started in the run's page or its popups, cancelled and deleted when the run ends. */
  readonly downloads: Set<Download>;
  readonly stop: () => void;
}

/**
 * Starts following a page for one run: its listeners now (to tell the run's own ones later), and the popups
 * and downloads it opens.
 */
export function startRun(page: Page): PageRun {
  const popups = new Set<Page>();
  const downloads = new Set<Download>();
  const watched: Page[] = [];
  const onDownload = (download: Download) => downloads.add(download);
  const onPopup = (popup: Page) => {
    popups.add(popup);
    watch(popup);
  };
  const watch = (target: Page) => {
    const api = target as unknown as ListenerApi;
    if (typeof api.on !== 'function') return;
    api.on('popup', onPopup);
    api.on('download', onDownload);
    watched.push(target);
  };
  // The snapshot is taken first: the run's own watchers are removed by `stop`, never by the reset.
  const listeners = listenerSnapshot(page);
  watch(page);
  const stop = () => {
    for (const target of watched.splice(0)) {
      const api = target as unknown as ListenerApi;
      api.off?.('popup', onPopup);
      api.off?.('download', onDownload);
    }
  };
  return { page, listeners, popups, downloads, stop };
}

/**
 * Ends a run on a page: closes its popups, cancels its downloads and, when `keep` is asked, readies the page
 * for the next run (listeners and routes the run added removed, navigated to `about:blank`). Resolves to
 * whether the page may be kept; when false the caller closes it.
 */
export async function endRun(run: PageRun, keep: boolean): Promise<boolean> {
  run.stop();
  const { page } = run;
  await Promise.allSettled([
    ...[...run.popups].map((popup) => closePage(popup)),
    ...[...run.downloads].map((download) => dropDownload(download)),
  ]);
  if (!keep || page.isClosed() || isDirty(page)) return false;
  const api = page as unknown as ListenerApi;
  let dialogHandler = false;
  if (typeof api.eventNames === 'function' && typeof api.rawListeners === 'function' && api.removeListener) {
    for (const event of api.eventNames()) {
      const kept = run.listeners.get(event) ?? [];
      for (const listener of api.rawListeners(event)) {
        if (kept.includes(listener)) continue;
        if (event === 'dialog') dialogHandler = true;
        api.removeListener(event, listener as (...args: unknown[]) => unknown);
      }
    }
  }
  // A dialog the run's handler left open would block the page: not worth keeping.
  if (dialogHandler) return false;
  try {
    // Unrouting costs a round trip to the browser: only a page that got a route needs it.
    if (routed.has(page) && typeof api.unrouteAll === 'function') {
      await withTimeout(api.unrouteAll({ behavior: 'ignoreErrors' }), STEP_TIMEOUT_MS, 'Unrouting a page');
      routed.delete(page);
    }
    const url = typeof api.url === 'function' ? api.url() : 'about:blank';
    if (typeof api.goto === 'function' && url !== 'about:blank') {
      await api.goto('about:blank', { timeout: STEP_TIMEOUT_MS, waitUntil: 'commit' });
    }
  } catch {
    return false;
  }
  return !page.isClosed() && !isDirty(page);
}

function listenerSnapshot(page: Page): ListenerSnapshot {
  const api = page as unknown as ListenerApi;
  const snapshot = new Map<string | symbol, readonly unknown[]>();
  if (typeof api.eventNames !== 'function' || typeof api.rawListeners !== 'function') return snapshot;
  for (const event of api.eventNames()) snapshot.set(event, [...api.rawListeners(event)]);
  return snapshot;
}

async function dropDownload(download: Download): Promise<void> {
  try {
    await withTimeout(download.cancel(), STEP_TIMEOUT_MS, 'Cancelling a download');
    await withTimeout(download.delete(), STEP_TIMEOUT_MS, 'Deleting a download');
  } catch {
    // A download that cannot be cancelled in time is removed with its context.
  }
}

/**
 * Closes a page, bounded; never throws. Calls Playwright's own `close` (not the state capture's shadow of it,
 * which reads the page first: the library closes pages after the capture, so that read would be wasted).
 */
export async function closePage(page: Page): Promise<void> {
  if (page.isClosed()) return;
  const own = (Object.getPrototypeOf(page) as { close?: unknown } | null)?.close;
  const closing = typeof own === 'function' ? (own as Page['close']).call(page) : page.close();
  await withTimeout(closing, STEP_TIMEOUT_MS * 2, 'Closing a page').catch(() => undefined);
}
