import type { BrowserContext, Page } from 'playwright-core';
import type { BrowserProvider, ContextLease, DeviceProfile } from '../browser/provider.js';
import { abortError, raceAbort } from '../browser/slots.js';
import type { BrowserState } from '../browser/state.js';
import { resolveWarmContexts, type WarmContextsInput, WarmLease, WarmPool } from '../browser/warm-pool.js';
import type { Clock } from '../clock.js';
import { type AuthDefinition, type AuthOptions, type InputRequest, resolveAuthOptions } from '../define.js';
import { AuthSessionError, AuthSessionInvalidError } from '../errors.js';
import type { AuthSessionLock } from '../lock/lock.js';
import { type EventBus, summariseError } from '../monitor/events.js';
import { resolveProxy } from '../proxy.js';
import { afterRun, type Change } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import type { ChangeResult, SessionStore } from '../store/session-store.js';
import { checkSession } from './check.js';
import type { SessionCodec } from './codec.js';
import { expiredRecords, type RefreshAhead, Refresher, sessionExpired } from './refresh.js';

/** What a task passed to `manager.run` receives. */
export interface RunContext {
  /** A page of the session's logged-in context. */
  readonly page: Page;
  /** The session's logged-in browser context. */
  readonly context: BrowserContext;
  /** The session (never secrets). */
  readonly session: AuthSessionInfo;
  /** Aborted when the caller aborts or the manager closes. */
  readonly signal: AbortSignal;
}

/** A task run with a logged-in session. */
export type RunTask<T> = (ctx: RunContext) => Promise<T> | T;

/** Options of `manager.run` (and `validate`). */
export interface RunOptions extends AuthOptions {
  /** Aborts the run: waiting for a browser slot, the check, the refresh wait and the task. */
  readonly signal?: AbortSignal;
  /** Check even when the last check is younger than `checkInterval`. @default false */
  readonly forceCheck?: boolean;
  /** Recognises a task error as "logged out mid-task" (besides `AuthSessionInvalidError`). */
  readonly isAuthError?: (err: unknown) => boolean;
}

/** Answers input requests of a login that runs in one call (`create`/`update` with `onInput`). */
export type InputHandler = (
  request: InputRequest & { readonly id: string },
  signal: AbortSignal,
) => Promise<string>;

/** How a login (create, refresh, update, record…) gets its extras. */
export interface LoginExtras {
  /** Answers `requestInput`; absent → `INPUT_REQUIRED`. */
  readonly onInput?: InputHandler | undefined;
  /** Aborts the login. */
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds each `requestInput` waits for its answer (else the auth's, else 5 minutes). */
  readonly inputTimeout?: number | undefined;
  /** The operation (`startCreate`/`startUpdate`) this login runs for, shown on the pending record. */
  readonly operationId?: string | undefined;
}

/** Builds the `totp` function for a hook from the credentials (pluggable so the challenges module owns it). */
export type TotpFactory = (credentials: unknown, clock: Clock, signal: AbortSignal) => () => Promise<string>;

/** Everything the lifecycle needs, wired by the manager. */
export interface LifecycleDeps {
  readonly store: SessionStore;
  readonly codec: () => Promise<SessionCodec>;
  readonly browser: () => BrowserProvider;
  readonly lock: AuthSessionLock;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly auth: (name: string) => AuthDefinition;
  readonly newId: () => string;
  readonly totp: TotpFactory;
  /** Aborted when the manager closes. */
  readonly closed: AbortSignal;
  readonly lockLeaseMs: number;
  readonly lockWaitMs: number;
  /** Keep a warm context per active session between runs (the manager's `warmContexts`). @default on */
  readonly warmContexts?: WarmContextsInput | undefined;
  /** When the login in a captured state lapses (ISO), stored with the state. @default never known */
  readonly expiry?: ((auth: AuthDefinition, state: BrowserState) => string | undefined) | undefined;
}

/**
 * The lifecycle: check → refresh → expire around every task, single-flight refresh under the lock, state
 * capture after each run, and the login procedure shared by create, refresh, update and record.
 */
export class Lifecycle {
  readonly #d: LifecycleDeps;
  readonly #refresher: Refresher;
  readonly #warm: WarmPool | undefined;
  /** Runs waiting for a browser context, per session: a refresh starting sends them to wait for it instead. */
  readonly #opening = new Map<string, Set<AbortController>>();

  constructor(deps: LifecycleDeps) {
    this.#d = deps;
    this.#refresher = new Refresher(this, (id) => this.#yieldToRefresh(id));
    const warm = resolveWarmContexts(deps.warmContexts);
    if (warm) {
      const pool = new WarmPool(warm, { browser: deps.browser, clock: deps.clock });
      this.#warm = pool;
      // A session that changed here retires its warm context at once; changes made elsewhere are caught
      // when a run asks for the context (generation, proxy, device and state must match).
      for (const event of ['expired', 'deleted', 'updated', 'refreshed'] as const) {
        deps.events.on(event, (e) => pool.invalidate(e.session.id));
      }
      deps.closed.addEventListener('abort', () => void pool.close(), { once: true });
    }
  }

  /** Closes the warm contexts (the manager's `close()`); resolves at once when there are none. */
  closeWarmContexts(): Promise<void> {
    return this.#warm?.close() ?? Promise.resolve();
  }

  get deps(): LifecycleDeps {
    return this.#d;
  }

  now(): number {
    return this.#d.clock.now();
  }

  iso(): string {
    return new Date(this.#d.clock.now()).toISOString();
  }

  /** When the login held in `state` (captured for `record`) lapses, as the record stores it. */
  expiryOf(record: SessionRecord, state: BrowserState): string | undefined {
    const expiry = this.#d.expiry;
    if (!expiry) return undefined;
    try {
      return expiry(this.#d.auth(record.auth), state);
    } catch {
      return undefined;
    }
  }

  /**
   * Applies one change to the latest record of a session (`SessionStore.change`: compare-and-set, re-applied
   * on conflict) and emits `transition` when it changed the state. `before` is the record the change was
   * applied to.
   */
  async commit(id: string, change: Change): Promise<CommitResult> {
    let before: SessionRecord | undefined;
    const result = await this.#d.store.change(
      id,
      (latest) => {
        before = latest;
        return change(latest);
      },
      () => this.now(),
    );
    if (result.written && result.record && before && before.state !== result.record.state) {
      this.#d.events.emit('transition', {
        session: toInfo(result.record),
        from: before.state,
        to: result.record.state,
      });
    }
    return { ...result, before };
  }

  /**
   * After a failed check: the renewed record, or `SESSION_EXPIRED` (see {@link Refresher}). With `ahead`, a
   * refresh before the login lapses, under the same single flight and lock.
   */
  recover(
    record: SessionRecord,
    auth: AuthDefinition,
    opts: Required<AuthOptions>,
    signal: AbortSignal,
    ahead?: RefreshAhead,
  ): Promise<SessionRecord> {
    return this.#refresher.recover(record, auth, opts, signal, ahead);
  }

  /**
   * Runs a task with a logged-in session (docs/architecture.md; the steps are in the README). `quiet` runs
   * (health checks) emit no `run:start`/`run:end`: they are not the application's runs.
   */
  async run<T>(id: string, task: RunTask<T>, options: RunOptions = {}, quiet = false): Promise<T> {
    const signal = anySignal(options.signal, this.#d.closed);
    let record = await this.#d.store.require(id);
    assertRunnable(record);
    const auth = this.#d.auth(record.auth);
    const opts = resolveAuthOptions(auth, options);
    const runId = this.#d.newId();
    const started = this.now();
    if (!quiet) this.#d.events.emit('run:start', { session: toInfo(record), runId });
    // What the next attempt starts from: a record that may need checking (`due`: when older than
    // checkInterval; `now`: always), or one a refresh just renewed (no check, nothing to wait for).
    let basis: 'due' | 'now' | 'renewed' = options.forceCheck === true ? 'now' : 'due';
    let taskRetried = false;
    try {
      for (;;) {
        if (signal.aborted) throw abortError(signal);
        // A refresh of this session is under way: its result is what this run needs, not a check of the old
        // state (which would also queue for a browser slot ahead of the refresh's own login).
        const refreshing = basis === 'renewed' ? undefined : this.#refresher.inFlight(record.id);
        if (refreshing) {
          record = await raceAbort(refreshing, signal);
          basis = 'renewed';
          continue;
        }
        // A refresh ahead is under way and the login it replaces lapses any moment: a check of the old state
        // would race the lapse, so wait for the new login (when the refresh ahead fails, check as usual).
        const ahead = basis === 'renewed' ? undefined : this.#refresher.aheadInFlight(record.id);
        if (ahead && lapsesWithin(record, AHEAD_WAIT_MARGIN_MS, this.now())) {
          try {
            record = await raceAbort(ahead, signal);
            basis = 'renewed';
            continue;
          } catch (err) {
            if (signal.aborted) throw err;
          }
        }
        const codec = await this.#d.codec();
        const openedState = codec.state(record);
        const opened = await this.#runContext(record, codec, openedState, signal, basis !== 'renewed', quiet);
        if (opened.yielded) {
          record = await this.recover(record, auth, opts, signal);
          basis = 'renewed';
          continue;
        }
        const lease = opened.lease;
        // Only a run that ended well hands its page on: a failed or aborted task may still be using it.
        let succeeded = false;
        try {
          const page = await lease.newPage();
          let checkedAt: string | undefined;
          if (basis === 'now' || (basis === 'due' && needsCheck(record, opts.checkInterval, this.now()))) {
            const ok = await checkSession(this, record, auth, lease, page, opts, signal);
            if (!ok) {
              await dropContext(lease);
              record = await this.recover(record, auth, opts, signal);
              basis = 'renewed';
              continue;
            }
            checkedAt = this.iso();
          }
          let result: T;
          try {
            result = await raceAbort(
              Promise.resolve().then(() =>
                task({ page, context: lease.context, session: toInfo(record), signal }),
              ),
              signal,
            );
          } catch (err) {
            // Logged out mid-task: check (and refresh) once more, then run the task once more.
            if (!taskRetried && isAuthInvalid(err, auth, options)) {
              taskRetried = true;
              basis = 'now';
              await dropContext(lease);
              record = await this.#d.store.require(id);
              assertRunnable(record);
              continue;
            }
            throw err;
          }
          succeeded = true;
          await this.#saveAfterRun(record, lease, openedState, checkedAt, codec);
          if (!quiet)
            this.#d.events.emit('run:end', {
              session: toInfo(record),
              runId,
              ok: true,
              durationMs: this.now() - started,
            });
          return result;
        } finally {
          if (!succeeded && lease instanceof WarmLease) lease.keepNoPages();
          await lease.close();
        }
      }
    } catch (err) {
      if (quiet) throw err;
      this.#d.events.emit('run:end', {
        // A run that expired the session reports it expired, not as it was when the run started.
        session: toInfo((err instanceof AuthSessionError && expiredRecords.get(err)) || record),
        runId,
        ok: false,
        durationMs: this.now() - started,
        error: summariseError(err),
      });
      throw err;
    }
  }

  /**
   * The context a run works in: the session's warm context when the pool is on (a new page in it per run),
   * else a fresh one.
   */
  async #runContext(
    record: SessionRecord,
    codec: SessionCodec,
    state: BrowserState | undefined,
    signal: AbortSignal,
    yieldable: boolean,
    quiet = false,
  ): Promise<{ yielded: false; lease: ContextLease } | { yielded: true }> {
    const open = (s: AbortSignal) => this.openContext(record, codec, state, s);
    // Health checks go through every session in turn: in the warm pool they would evict the contexts of the
    // sessions that runs keep busy.
    if (quiet) return { yielded: false, lease: await open(signal) };
    // A run that just got a renewed session has nothing to yield to.
    if (!yieldable) return { yielded: false, lease: await this.#warmOrFresh(record, open, signal) };
    // Waiting for a slot ends early when a refresh of the session starts (see #yieldToRefresh). One controller
    // that follows the caller's signal: cheaper than AbortSignal.any on every run.
    const yielding = new AbortController();
    const follow = () => yielding.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    const waiting = yielding.signal;
    let peers = this.#opening.get(record.id);
    if (!peers) {
      peers = new Set();
      this.#opening.set(record.id, peers);
    }
    peers.add(yielding);
    try {
      return { yielded: false, lease: await this.#warmOrFresh(record, open, waiting) };
    } catch (err) {
      // A refresh of the session started while this run waited for a context: it waits for that instead.
      if (yielding.signal.aborted && !signal.aborted) return { yielded: true };
      throw err;
    } finally {
      signal.removeEventListener('abort', follow);
      peers.delete(yielding);
      if (peers.size === 0 && this.#opening.get(record.id) === peers) this.#opening.delete(record.id);
    }
  }

  /** The session's warm context when the pool is on, else a fresh one. */
  #warmOrFresh(
    record: SessionRecord,
    open: (signal: AbortSignal) => Promise<ContextLease>,
    signal: AbortSignal,
  ): Promise<ContextLease> {
    if (!this.#warm) return open(signal);
    return this.#warm.acquire(
      {
        id: record.id,
        generation: record.generation,
        revision: record.revision,
        key: `${record.sealed.proxy?.box ?? ''}\0${record.device ? JSON.stringify(record.device) : ''}`,
        stateTag: record.sealed.state?.box ?? '',
        open,
      },
      signal,
    );
  }

  /** A refresh of the session started: runs still waiting for a context wait for the refresh instead. */
  #yieldToRefresh(id: string): void {
    const peers = this.#opening.get(id);
    if (!peers) return;
    for (const controller of peers) controller.abort();
  }

  /** Opens a context for a session with its state, proxy and device. */
  async openContext(
    record: SessionRecord,
    codec: SessionCodec,
    state: BrowserState | undefined,
    signal: AbortSignal | undefined,
    extra: { headless?: boolean } = {},
  ): Promise<ContextLease> {
    const proxy = codec.proxy(record);
    const opening = this.#d.browser().newContext({
      state,
      proxy: proxy === undefined ? undefined : resolveProxy(proxy, record.id),
      device: record.device as DeviceProfile | undefined,
      signal,
      ...(extra.headless === undefined ? {} : { headless: extra.headless }),
    });
    // Idle warm contexts give their browser slot up to a request that has to wait for one.
    this.#warm?.relieve();
    return opening;
  }

  /** Saves the state after a successful task when it changed (sites roll cookies) or a check was recorded. */
  async #saveAfterRun(
    record: SessionRecord,
    lease: ContextLease,
    openedState: BrowserState | undefined,
    checkedAt: string | undefined,
    codec: SessionCodec,
  ): Promise<void> {
    let captured: BrowserState;
    try {
      captured = await lease.captureState();
    } catch (err) {
      this.#d.events.emit('warning', { session: toInfo(record), error: summariseError(err) });
      return;
    }
    // The context is done with: close it (or hand the warm one back) while the record is written, so the
    // store's write (an fsync with SQLite) and the browser's close overlap instead of adding up.
    const closing = lease.close();
    try {
      const changed = codec.fingerprint(captured) !== codec.fingerprint(openedState);
      if (!changed && checkedAt === undefined) return;
      const sealedState = changed ? codec.sealState(record.id, captured) : undefined;
      const expiresAt = changed ? this.expiryOf(record, captured) : undefined;
      // The warm context holds exactly this state: runs that read it may keep using the context.
      if (sealedState && lease instanceof WarmLease) lease.adopt(sealedState.box, record.revision + 1);
      const { record: saved, written } = await this.commit(
        record.id,
        afterRun(record, {
          ...(checkedAt === undefined ? {} : { checkedAt }),
          ...(sealedState === undefined ? {} : { sealedState }),
          ...(expiresAt === undefined ? {} : { expiresAt }),
        }),
      );
      if (written && saved && sealedState && lease instanceof WarmLease)
        lease.adopt(sealedState.box, saved.revision);
    } catch (err) {
      // Any failure here must not fail a task that succeeded (a newer login simply wins: nothing is written).
      this.#d.events.emit('warning', { session: toInfo(record), error: summariseError(err) });
    } finally {
      await closing;
    }
  }
}

/** What {@link Lifecycle.commit} did: `SessionStore.change`'s result and the record the change saw. */
export interface CommitResult extends ChangeResult {
  readonly before: SessionRecord | undefined;
}

/** Closes a context whose login no longer holds: a warm one is retired so no later run gets it. */
async function dropContext(lease: ContextLease): Promise<void> {
  if (lease instanceof WarmLease) lease.discard();
  await lease.close();
}

/** Throws `SESSION_EXPIRED` for expired/failed sessions and `INVALID_STATE` for pending ones. */
export function assertRunnable(record: SessionRecord): void {
  if (record.state === 'active') return;
  if (record.state === 'pending') {
    throw new AuthSessionError(
      'INVALID_STATE',
      `Session "${record.id}" is still being created or waits for input`,
      {
        sessionId: record.id,
      },
    );
  }
  throw sessionExpired(record);
}

/** A run waits for a refresh ahead under way when the current login lapses within this many ms. */
const AHEAD_WAIT_MARGIN_MS = 10_000;

function lapsesWithin(record: SessionRecord, ms: number, now: number): boolean {
  return record.expiresAt !== undefined && Date.parse(record.expiresAt) - now < ms;
}

function needsCheck(record: SessionRecord, interval: number, now: number): boolean {
  if (interval <= 0 || record.lastCheckedAt === undefined) return true;
  return now - Date.parse(record.lastCheckedAt) >= interval;
}

function isAuthInvalid(err: unknown, auth: AuthDefinition, options: RunOptions): boolean {
  if (err instanceof AuthSessionInvalidError) return true;
  try {
    return options.isAuthError?.(err) === true || auth.isAuthError?.(err) === true;
  } catch {
    return false;
  }
}

/** A signal aborted when any of the given ones is. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 1) return present[0]!;
  return AbortSignal.any(present);
}
