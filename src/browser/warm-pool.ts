import type { BrowserContext, Page } from 'playwright-core';
import type { Clock, TimerHandle } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import type { BrowserProvider, ContextLease } from './provider.js';
import { closePage, trackContext } from './run-hygiene.js';
import { abortError, raceAbort, Slots } from './slots.js';
import { WarmLease } from './warm-lease.js';
import type { WarmContextOptions } from './warm-options.js';

export { WarmLease } from './warm-lease.js';
export {
  DEFAULT_WARM_CONTEXTS,
  resolveWarmContexts,
  type WarmContextOptions,
  type WarmContextsInput,
} from './warm-options.js';

/**
 * What a run asks the pool for: the session's context, identified by everything that must match for a warm
 * context to be reused.
 */
export interface WarmTarget {
  /** Session id: one warm context per session. */
  readonly id: string;
  /** The record's generation (bumped by every login): a newer one retires the warm context. */
  readonly generation: number;
  /** The record's revision: tells a caller holding an older record from one holding a newer one. */
  readonly revision: number;
  /**
   * Everything else the context was opened with that must not change (proxy, device). A different key in a
   * newer record retires the warm context.
   */
  readonly key: string;
  /**
   * Identifies the stored browser state the caller read (the sealed box). A warm context serves a run only
   * when it knows this state: it opened with it or produced it itself. A state written by someone else (another
   * process) retires it, so the context never runs on older cookies than the store holds.
   */
  readonly stateTag: string;
  /** Opens a fresh context for the session (with its state, proxy and device). */
  readonly open: (signal: AbortSignal) => Promise<ContextLease>;
}

/** Counters of a {@link WarmPool}, for tests and monitoring. */
export interface WarmPoolStats {
  /** Warm contexts held (opening, idle or in use), retiring ones excluded. */
  readonly warm: number;
  /** Of those, contexts with at least one run in them. */
  readonly busy: number;
  /** Retired contexts still finishing their runs. */
  readonly retiring: number;
  /** Runs served by an already open warm context. */
  readonly hits: number;
  /** Warm contexts opened. */
  readonly opened: number;
  /** Runs that got a one-off context because every warm context was busy. */
  readonly overflow: number;
}

interface IdlePage {
  readonly page: Page;
  readonly ready: Promise<boolean>;
  /** `ready` has settled: the page can be taken without waiting for its clean-up. */
  settled: boolean;
}

interface Entry {
  readonly id: string;
  readonly generation: number;
  /** Newest record revision the context is known to match. */
  revision: number;
  readonly key: string;
  /** State tags known to match the context's cookies (bounded, newest last). */
  readonly tags: string[];
  /** Pages kept from earlier runs (`reusePages`), each with its clean-up (resolves false: close it). */
  idle: IdlePage[];
  /** The context's listeners when it opened: others were added by runs and are removed when it goes idle. */
  baseline: ListenerSnapshot | undefined;
  readonly pages: Slots;
  readonly openAbort: AbortController;
  opening: Promise<ContextLease> | undefined;
  lease: ContextLease | undefined;
  openWaiters: number;
  borrowed: number;
  retired: boolean;
  closing: Promise<void> | undefined;
  idleTimer: TimerHandle | undefined;
}

/** Thrown into page waiters of a context that retired: they start over with a fresh look-up. */
const RETRY = Symbol('warm-pool-retry');
/** Tags remembered per context: enough for the states concurrent runs of the context write meanwhile. */
const MAX_TAGS = 16;

/** Dependencies of a {@link WarmPool}. */
export interface WarmPoolDeps {
  /** The browser provider (asked for its `stats().waiting` to give slots back under pressure). */
  readonly browser: () => BrowserProvider;
  /** Time source of the idle timers. */
  readonly clock: Clock;
}

/**
 * Keeps at most `max` browser contexts open, one per active session, so runs reuse a logged-in context
 * instead of opening a fresh one. Bounded (least recently used idle context evicted first), closed when idle
 * for `idleMs`, when the session changes (another generation, proxy, device or a state written elsewhere) or
 * is invalidated (expired, deleted, updated, refreshed), when a browser provider slot is wanted by someone
 * else, and on {@link WarmPool.close}. Every run gets its own page, closed when the run ends (or, with
 * `reusePages`, kept for the session's next run).
 *
 * Internal: the manager builds one unless its `warmContexts` option is `false` (or `0`).
 *
 * @example
 * ```ts
 * const pool = new WarmPool(resolveWarmContexts({ max: 2 })!, { browser: () => provider, clock: systemClock });
 * const open = (signal: AbortSignal) => provider.newContext({ state, signal });
 * const lease = await pool.acquire({ id, generation, revision, key: '', stateTag: box, open }, signal);
 * try { const page = await lease.newPage(); … } finally { await lease.close(); }
 * await pool.close();
 * ```
 */
export class WarmPool {
  readonly #options: Required<WarmContextOptions>;
  readonly #deps: WarmPoolDeps;
  /** Current context per session, in least-recently-used order (first = oldest). */
  readonly #entries = new Map<string, Entry>();
  /** Retired contexts whose runs have not all ended yet. */
  readonly #retiring = new Set<Entry>();
  readonly #closed = new AbortController();
  #closing: Promise<void> | undefined;
  #relieving: Promise<void> | undefined;
  #hits = 0;
  #opened = 0;
  #overflow = 0;

  constructor(options: Required<WarmContextOptions>, deps: WarmPoolDeps) {
    this.#options = options;
    this.#deps = deps;
  }

  /**
   * Lends the session's warm context (opening it when there is none or it no longer matches). The lease's
   * `newPage()` opens a page for this run; `close()` closes that page and gives the context back. When every
   * warm context is busy and the pool is full, the run gets a one-off context instead (closed by `close()`).
   *
   * @throws AuthSessionError `ABORTED` when `signal` aborts a wait, `CLOSED` after {@link WarmPool.close}, or
   *   whatever opening the context throws.
   */
  async acquire(target: WarmTarget, signal: AbortSignal): Promise<ContextLease> {
    for (;;) {
      this.#assertOpen();
      if (signal.aborted) throw abortError(signal);
      let entry = this.#entries.get(target.id);
      if (entry && !serves(entry, target)) {
        this.#retire(entry);
        entry = undefined;
      }
      const hit = entry?.lease !== undefined;
      if (!entry) {
        if (this.#entries.size >= this.#options.max && !this.#evictIdle()) {
          this.#overflow++;
          return target.open(signal);
        }
        entry = this.#open(target);
      }
      let release: () => void;
      try {
        await this.#ready(entry, signal);
        if (entry.retired) continue;
        release = await entry.pages.acquire(signal);
      } catch (err) {
        if (err === RETRY) continue;
        throw err;
      }
      if (entry.retired || entry.lease === undefined) {
        release();
        continue;
      }
      if (hit) this.#hits++;
      entry.borrowed++;
      if (entry.idleTimer !== undefined) {
        this.#deps.clock.clearTimeout(entry.idleTimer);
        entry.idleTimer = undefined;
      }
      // Most recently used goes last.
      this.#entries.delete(entry.id);
      this.#entries.set(entry.id, entry);
      const borrowed = entry;
      return new WarmLease(entry.lease, {
        giveBack: () => this.#giveBack(borrowed, release),
        discard: () => this.#retire(borrowed),
        adopt: (tag, revision) => adoptTag(borrowed, tag, revision),
        takePage: () => takeIdlePage(borrowed),
        canKeep: () => this.#options.reusePages && !borrowed.retired && !this.#closing,
        keep: (page, ready) => {
          if (!this.#options.reusePages || borrowed.retired || this.#closing) return false;
          if (borrowed.idle.length >= this.#options.pagesPerContext) return false;
          const idle: IdlePage = { page, ready, settled: false };
          borrowed.idle.push(idle);
          // A page that could not be cleaned is closed (whoever takes it meanwhile skips it).
          void ready.then(async (ok) => {
            idle.settled = true;
            if (ok) return;
            borrowed.idle = borrowed.idle.filter((other) => other !== idle);
            await closePage(page);
          });
          return true;
        },
      });
    }
  }

  /** Retires the session's warm context: closed at once when idle, else when its last run ends. */
  invalidate(id: string): void {
    const entry = this.#entries.get(id);
    if (entry) this.#retire(entry);
  }

  /**
   * Someone is about to wait for a browser slot: close idle warm contexts (least recently used first) while
   * requests are waiting, so warm contexts never starve logins or other sessions.
   */
  relieve(): void {
    if (this.#relieving || this.#closing) return;
    if (this.#waiting() === 0) return;
    this.#relieving = (async () => {
      try {
        while (!this.#closing && this.#waiting() > 0) {
          const idle = this.#oldestIdle();
          if (!idle) break;
          this.#retire(idle);
          await idle.closing;
        }
      } finally {
        this.#relieving = undefined;
      }
    })();
  }

  /** Counters: warm, busy and retiring contexts, hits, opened, overflow. */
  stats(): WarmPoolStats {
    let busy = 0;
    for (const entry of this.#entries.values()) {
      if (entry.borrowed > 0 || entry.lease === undefined) busy++;
    }
    return {
      warm: this.#entries.size,
      busy,
      retiring: this.#retiring.size,
      hits: this.#hits,
      opened: this.#opened,
      overflow: this.#overflow,
    };
  }

  /** Closes every warm context (runs still in them lose their page) and refuses further requests. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort(new AuthSessionError('CLOSED', 'The manager was closed'));
      const all = [...this.#entries.values(), ...this.#retiring];
      const openings = all.map((e) => e.opening).filter((p): p is Promise<ContextLease> => p !== undefined);
      for (const entry of all) this.#retire(entry);
      await Promise.allSettled(all.map((entry) => this.#closeEntry(entry)));
      // A context still opening is closed as soon as it arrives (see #open).
      await Promise.allSettled(openings);
      await Promise.allSettled(all.map((entry) => entry.closing));
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing) throw new AuthSessionError('CLOSED', 'The manager was closed');
  }

  #waiting(): number {
    try {
      return this.#deps.browser().stats().waiting;
    } catch {
      return 0;
    }
  }

  #open(target: WarmTarget): Entry {
    const entry: Entry = {
      id: target.id,
      generation: target.generation,
      revision: target.revision,
      key: target.key,
      tags: [target.stateTag],
      idle: [],
      baseline: undefined,
      pages: new Slots(this.#options.pagesPerContext),
      openAbort: new AbortController(),
      opening: undefined,
      lease: undefined,
      openWaiters: 0,
      borrowed: 0,
      retired: false,
      closing: undefined,
      idleTimer: undefined,
    };
    // Opened for whoever needs it, not for the first caller: one caller aborting must not fail the others.
    const signal = AbortSignal.any([this.#closed.signal, entry.openAbort.signal]);
    const opening = target.open(signal).then(
      (lease) => {
        entry.lease = lease;
        entry.opening = undefined;
        this.#opened++;
        watchClose(lease.context, () => this.#retire(entry));
        trackContext(lease.context);
        entry.baseline = listenerSnapshot(lease.context);
        if (entry.retired || this.#closing) void this.#closeEntry(entry);
        return lease;
      },
      (err: unknown) => {
        entry.opening = undefined;
        entry.retired = true;
        if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
        entry.pages.rejectAll(RETRY);
        throw err;
      },
    );
    opening.catch(noop);
    entry.opening = opening;
    this.#entries.set(entry.id, entry);
    // Opening may have to wait for a slot that idle warm contexts hold.
    this.relieve();
    return entry;
  }

  async #ready(entry: Entry, signal: AbortSignal): Promise<void> {
    if (entry.lease !== undefined || entry.opening === undefined) return;
    entry.openWaiters++;
    try {
      await raceAbort(entry.opening, signal);
    } finally {
      entry.openWaiters--;
      // Nobody wants it any more: stop waiting for a slot rather than open a context for no one.
      if (entry.openWaiters === 0 && entry.lease === undefined && signal.aborted) {
        this.#retire(entry);
        entry.openAbort.abort(abortError(signal));
      }
    }
  }

  #evictIdle(): boolean {
    const idle = this.#oldestIdle();
    if (!idle) return false;
    this.#retire(idle);
    return true;
  }

  #oldestIdle(): Entry | undefined {
    for (const entry of this.#entries.values()) {
      if (entry.lease !== undefined && entry.borrowed === 0 && !entry.retired) return entry;
    }
    return undefined;
  }

  #retire(entry: Entry): void {
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
    if (entry.retired) return;
    entry.retired = true;
    entry.idle = [];
    if (entry.idleTimer !== undefined) {
      this.#deps.clock.clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
    }
    entry.pages.rejectAll(RETRY);
    if (entry.lease === undefined) {
      if (entry.openWaiters === 0 && entry.opening)
        entry.openAbort.abort(new AuthSessionError('ABORTED', 'Not needed'));
      return; // closed when (if) it arrives
    }
    if (entry.borrowed === 0 || this.#closing) void this.#closeEntry(entry);
    else this.#retiring.add(entry);
  }

  #closeEntry(entry: Entry): Promise<void> {
    if (entry.lease === undefined) return Promise.resolve();
    entry.closing ??= entry.lease.close().then(
      () => {
        this.#retiring.delete(entry);
      },
      () => {
        this.#retiring.delete(entry);
      },
    );
    return entry.closing;
  }

  async #giveBack(entry: Entry, release: () => void): Promise<void> {
    entry.borrowed--;
    release();
    if (entry.borrowed > 0) return;
    if (entry.retired || this.#closing) {
      await this.#closeEntry(entry);
      return;
    }
    // A slot is wanted elsewhere: give it back rather than keep an idle context.
    if (this.#waiting() > 0) {
      this.#retire(entry);
      await entry.closing;
      return;
    }
    // Pages a task left open (popups, context.newPage()) would pile up across runs; listeners it added to
    // the context would fire in the next run.
    const lease = entry.lease;
    if (lease) {
      const kept = new Set(entry.idle.map((idle) => idle.page));
      const stray = lease.context.pages().filter((page) => !kept.has(page));
      if (entry.baseline) removeAddedListeners(lease.context, entry.baseline);
      await Promise.allSettled(stray.map((page) => closePage(page)));
    }
    if (entry.retired || entry.borrowed > 0 || entry.idleTimer !== undefined) return;
    entry.idleTimer = this.#deps.clock.setTimeout(() => {
      entry.idleTimer = undefined;
      if (entry.borrowed === 0) this.#retire(entry);
    }, this.#options.idleMs);
  }
}

/**
 * A kept page for the next run: the most recently kept one already cleaned, else the one whose clean-up
 * began first (the soonest done), waited for.
 */
async function takeIdlePage(entry: Entry): Promise<Page | undefined> {
  while (entry.idle.length > 0) {
    let index = entry.idle.length - 1;
    while (index >= 0 && !(entry.idle[index] as IdlePage).settled) index--;
    const idle = entry.idle.splice(Math.max(index, 0), 1)[0] as IdlePage;
    const ok = await idle.ready;
    // A navigation the last task left running may have landed after the clean-up: not clean, not kept.
    if (ok && !idle.page.isClosed() && !entry.retired && blank(idle.page)) return idle.page;
    await closePage(idle.page);
  }
  return undefined;
}

function blank(page: Page): boolean {
  const { url } = page as { url?: () => string };
  return typeof url !== 'function' || url.call(page) === 'about:blank';
}

/** The listeners an emitter had at some point, per event. */
type ListenerSnapshot = ReadonlyMap<string | symbol, readonly unknown[]>;

interface ListenerApi {
  eventNames?: () => (string | symbol)[];
  rawListeners?: (event: string | symbol) => unknown[];
  removeListener?: (event: string | symbol, listener: (...args: unknown[]) => unknown) => unknown;
}

function listenerSnapshot(target: object): ListenerSnapshot {
  const api = target as ListenerApi;
  const snapshot = new Map<string | symbol, readonly unknown[]>();
  if (typeof api.eventNames !== 'function' || typeof api.rawListeners !== 'function') return snapshot;
  for (const event of api.eventNames()) snapshot.set(event, [...api.rawListeners(event)]);
  return snapshot;
}

/** Removes the listeners added to `target` since `before` was taken. */
function removeAddedListeners(target: object, before: ListenerSnapshot): void {
  const api = target as ListenerApi;
  if (typeof api.eventNames !== 'function' || typeof api.rawListeners !== 'function' || !api.removeListener)
    return;
  for (const event of api.eventNames()) {
    const kept = before.get(event) ?? [];
    for (const listener of api.rawListeners(event)) {
      if (!kept.includes(listener)) api.removeListener(event, listener as (...args: unknown[]) => unknown);
    }
  }
}

function adoptTag(entry: Entry, tag: string, revision: number): void {
  entry.revision = Math.max(entry.revision, revision);
  if (entry.tags.includes(tag)) return;
  entry.tags.push(tag);
  if (entry.tags.length > MAX_TAGS) entry.tags.shift();
}

/**
 * Whether a warm context may serve a caller: it matches the caller's record, or the caller's record is older
 * than the one the context matches (a stale read; the context is at least as new, so using it beats
 * retiring it, which would make concurrent callers with old and new records evict each other in turn).
 */
function serves(entry: Entry, target: WarmTarget): boolean {
  if (target.generation !== entry.generation) return target.generation < entry.generation;
  if (target.key === entry.key && entry.tags.includes(target.stateTag)) return true;
  return target.revision < entry.revision;
}

function watchClose(context: BrowserContext, onClose: () => void): void {
  const target = context as unknown as { once?: (event: string, fn: () => void) => unknown };
  if (typeof target.once === 'function') target.once('close', onClose);
}

function noop(): void {}
