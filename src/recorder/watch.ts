import type { BrowserContext, Frame, Page } from 'playwright-core';
import { abortError } from '../browser/slots.js';
import type { Clock, TimerHandle } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import type { FinishMatcher } from './finish-url.js';

/**
 * Options of {@link watchForFinish}.
 *
 * @example
 * ```ts
 * const options: FinishWatchOptions = { context, matches, clock, timeoutMs: 600_000, signal, sessionId: 'p1', authName: 'portal' };
 * ```
 */
export interface FinishWatchOptions {
  /** The recording's context: every page of it (new tabs and popups too) is watched. */
  readonly context: BrowserContext;
  /** Whether a page URL is the finish. */
  readonly matches: FinishMatcher;
  /** The manager's clock: the timeout runs on it. */
  readonly clock: Clock;
  /** Milliseconds the person has to reach the finish URL. */
  readonly timeoutMs: number;
  /** Aborts the wait (the caller's signal and the manager's close). */
  readonly signal: AbortSignal;
  readonly sessionId: string;
  readonly authName: string;
}

/**
 * A wait for the recorder's person to finish. `done` settles exactly once: with the page that reached the
 * finish URL, or with `RECORDER_CLOSED` (the context or its last page closed), `RECORDER_TIMEOUT`, the
 * abort error, or whatever {@link FinishWatch.fail} was given first.
 *
 * @example
 * ```ts
 * const watch = watchForFinish(options);
 * try {
 *   const page = await watch.done;
 * } finally {
 *   watch.dispose();
 * }
 * ```
 */
export interface FinishWatch {
  /** The page that reached the finish URL. */
  readonly done: Promise<Page>;
  /** Rejects when `done` rejects; never resolves. For racing other waits against the watch. */
  readonly failed: Promise<never>;
  /** True once `done` has settled. */
  readonly settled: boolean;
  /** Ends the wait with this error, unless it has already settled. */
  fail(error: unknown): void;
  /** Stops listening and clears the timer (idempotent). */
  dispose(): void;
}

/**
 * Watches every page of a context, present and future (tabs, popups), for a main-frame navigation to the
 * finish URL, including same-document navigations (`history.pushState`). Bounded by `timeoutMs` on the
 * injected clock and abortable.
 *
 * @example
 * ```ts
 * const watch = watchForFinish({ context: lease.context, matches, clock, timeoutMs, signal, sessionId, authName });
 * const page = await watch.done;
 * ```
 */
export function watchForFinish(options: FinishWatchOptions): FinishWatch {
  const { context, matches, clock, signal, sessionId, authName } = options;
  let settled = false;
  let resolveDone: (page: Page) => void = () => {};
  let rejectDone: (err: unknown) => void = () => {};
  const done = new Promise<Page>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Handled here so a failure that arrives before anyone awaits is never an unhandled rejection.
  done.catch(noop);
  const failed = done.then(() => new Promise<never>(noop));
  failed.catch(noop);

  const cleanups: Array<() => void> = [];
  const watched = new Set<Page>();
  let timer: TimerHandle | undefined;

  const dispose = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  const finish = (page: Page) => {
    if (settled) return;
    settled = true;
    dispose();
    resolveDone(page);
  };
  const fail = (error: unknown) => {
    if (settled) return;
    settled = true;
    dispose();
    rejectDone(error);
  };
  const closed = (what: string) =>
    new AuthSessionError(
      'RECORDER_CLOSED',
      `The recording browser was closed (${what}) before the login of "${authName}" reached its finish URL; nothing was stored`,
      { sessionId },
    );

  const test = (page: Page, url: string) => {
    if (settled) return;
    try {
      if (matches(url)) finish(page);
    } catch (err) {
      fail(err);
    }
  };
  const watch = (page: Page) => {
    if (settled || watched.has(page)) return;
    watched.add(page);
    const onNavigated = (frame: Frame) => {
      if (frame === page.mainFrame()) test(page, frame.url());
    };
    const onClose = () => {
      if (context.pages().every((p) => p.isClosed())) fail(closed('its last page closed'));
    };
    page.on('framenavigated', onNavigated);
    page.on('close', onClose);
    cleanups.push(() => {
      page.off('framenavigated', onNavigated);
      page.off('close', onClose);
    });
    if (page.isClosed()) onClose();
    else test(page, page.url());
  };
  const onPage = (page: Page) => watch(page);
  const onContextClose = () => fail(closed('the context closed'));
  context.on('page', onPage);
  context.on('close', onContextClose);
  cleanups.push(() => {
    context.off('page', onPage);
    context.off('close', onContextClose);
  });
  const onAbort = () => fail(abortError(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  cleanups.push(() => signal.removeEventListener('abort', onAbort));

  timer = clock.setTimeout(
    () =>
      fail(
        new AuthSessionError(
          'RECORDER_TIMEOUT',
          `Nobody reached the finish URL of "${authName}" within ${options.timeoutMs} ms; nothing was stored`,
          { sessionId },
        ),
      ),
    options.timeoutMs,
  );
  if (signal.aborted) onAbort();
  for (const page of context.pages()) watch(page);

  return {
    done,
    failed,
    get settled() {
      return settled;
    },
    fail,
    dispose,
  };
}

function noop(): void {}
