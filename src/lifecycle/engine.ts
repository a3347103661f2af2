import { randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { toInfrastructureError } from '../browser/network-errors.js';
import type { BrowserProvider, ContextLease, DeviceProfile } from '../browser/provider.js';
import { abortError, raceAbort } from '../browser/slots.js';
import type { BrowserState } from '../browser/state.js';
import { resolveWarmContexts, type WarmContextsInput, WarmLease, WarmPool } from '../browser/warm-pool.js';
import type { Clock } from '../clock.js';
import {
  type AuthDefinition,
  type AuthOptions,
  type CreateContext,
  type CredentialsAuthDefinition,
  type InputRequest,
  resolveAuthOptions,
} from '../define.js';
import { AuthSessionError, AuthSessionInvalidError, issuePaths } from '../errors.js';
import type { AuthSessionLock } from '../lock/lock.js';
import { type EventBus, summariseError } from '../monitor/events.js';
import { resolveProxy, watchProxyAuth } from '../proxy.js';
import { afterRun, type Change, clearInput, expired, refreshed, showInput } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import type { ChangeResult, SessionStore } from '../store/session-store.js';
import type { SessionCodec } from './codec.js';
import { invalidCheckResult } from './hook-result.js';
import { type HookTimer, normalise, runBounded, withAttempts } from './hooks.js';
import {
  assertValidAnswer,
  type PendingInputRequest,
  parseInputRequest,
  resolveInputTimeout,
  shownRequest,
} from './input.js';
import { scrubSecrets } from './scrub-secrets.js';

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
  /** Keep a warm context per active session between runs (the manager's `warmContexts`). @default off */
  readonly warmContexts?: WarmContextsInput | undefined;
}

/**
 * The lifecycle: check → refresh → expire around every task, single-flight refresh under the lock, state
 * capture after each run, and the login procedure shared by create, refresh, update and record.
 */
export class Lifecycle {
  readonly #d: LifecycleDeps;
  readonly #refreshing = new Map<string, Promise<SessionRecord>>();
  readonly #warm: WarmPool | undefined;
  /** Runs waiting for a browser context, per session: a refresh starting sends them to wait for it instead. */
  readonly #opening = new Map<string, Set<AbortController>>();

  constructor(deps: LifecycleDeps) {
    this.#d = deps;
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

  /** Runs a task with a logged-in session (DESIGN.md "Lifecycle"). */
  async run<T>(id: string, task: RunTask<T>, options: RunOptions = {}): Promise<T> {
    const signal = anySignal(options.signal, this.#d.closed);
    let record = await this.#d.store.require(id);
    assertRunnable(record);
    const auth = this.#d.auth(record.auth);
    const opts = resolveAuthOptions(auth, options);
    const runId = this.#d.newId();
    const started = this.now();
    this.#d.events.emit('run:start', { session: toInfo(record), runId });
    let skipCheck = false;
    let forceCheck = options.forceCheck === true;
    let retried = false;
    try {
      for (;;) {
        if (signal.aborted) throw abortError(signal);
        // A refresh of this session is under way: its result is what this run needs, not a check of the old
        // state (which would also queue for a browser slot ahead of the refresh's own login).
        const refreshing = skipCheck ? undefined : this.#refreshing.get(record.id);
        if (refreshing) {
          record = await raceAbort(refreshing, signal);
          skipCheck = true;
          forceCheck = false;
          continue;
        }
        const codec = await this.#d.codec();
        const openedState = codec.state(record);
        let lease: ContextLease;
        try {
          lease = await this.#runContext(record, codec, openedState, signal, !skipCheck);
        } catch (err) {
          if (err !== YIELD_TO_REFRESH) throw err;
          record = await this.recover(record, auth, opts, signal);
          skipCheck = true;
          forceCheck = false;
          continue;
        }
        try {
          const page = await lease.newPage();
          let checkedAt: string | undefined;
          if (!skipCheck && (forceCheck || needsCheck(record, opts.checkInterval, this.now()))) {
            const ok = await this.check(record, auth, lease, page, opts, signal);
            if (!ok) {
              await dropContext(lease);
              record = await this.recover(record, auth, opts, signal);
              skipCheck = true;
              forceCheck = false;
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
            if (!retried && isAuthInvalid(err, auth, options)) {
              retried = true;
              forceCheck = true;
              skipCheck = false;
              await dropContext(lease);
              record = await this.#d.store.require(id);
              assertRunnable(record);
              continue;
            }
            throw err;
          }
          await this.#saveAfterRun(record, lease, openedState, checkedAt, codec);
          this.#d.events.emit('run:end', {
            session: toInfo(record),
            runId,
            ok: true,
            durationMs: this.now() - started,
          });
          return result;
        } finally {
          await lease.close();
        }
      }
    } catch (err) {
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
  ): Promise<ContextLease> {
    const open = (s: AbortSignal) => this.openContext(record, codec, state, s);
    // A run that just got a renewed session has nothing to yield to.
    if (!yieldable) return this.#warmOrFresh(record, open, signal);
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
      return await this.#warmOrFresh(record, open, waiting);
    } catch (err) {
      if (yielding.signal.aborted && !signal.aborted) throw YIELD_TO_REFRESH;
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
    for (const controller of peers) controller.abort(YIELD_TO_REFRESH);
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

  /**
   * Runs `check` up to `checkAttempts` times. True when it passed; false when every attempt said "not logged
   * in"; throws infrastructure errors (`TARGET_UNREACHABLE`, `PROXY_ERROR`) and aborts, which say nothing
   * about the login.
   */
  async check(
    record: SessionRecord,
    auth: AuthDefinition,
    lease: ContextLease,
    page: Page,
    opts: Required<AuthOptions>,
    signal: AbortSignal,
  ): Promise<boolean> {
    const started = this.now();
    // Over plain HTTP a proxy refusing its credentials answers 407 instead of failing the navigation.
    const proxyAuth = record.proxy === undefined ? undefined : watchProxyAuth(lease.context, record.id);
    try {
      await withAttempts(
        async () => {
          try {
            await this.#checkOnce(record, auth, lease, page, opts, signal);
          } catch (err) {
            throw (
              proxyAuth?.failure(err) ??
              toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined }) ??
              err
            );
          }
        },
        'CHECK_FAILED',
        `The check of session "${record.id}" failed`,
        { attempts: opts.checkAttempts, retryDelay: opts.retryDelay, signal, sessionId: record.id },
      );
      this.#d.events.emit('checked', { session: toInfo(record), ok: true, durationMs: this.now() - started });
      return true;
    } catch (err) {
      const e = normalise(err, 'CHECK_FAILED', `The check of session "${record.id}" failed`, record.id);
      this.#d.events.emit('checked', {
        session: toInfo(record),
        ok: false,
        durationMs: this.now() - started,
        error: summariseError(e),
      });
      if (e.code === 'CHECK_FAILED' || e.code === 'HOOK_TIMEOUT') return false;
      throw e;
    } finally {
      proxyAuth?.stop();
    }
  }

  async #checkOnce(
    record: SessionRecord,
    auth: AuthDefinition,
    lease: ContextLease,
    page: Page,
    opts: Required<AuthOptions>,
    signal: AbortSignal,
  ): Promise<void> {
    const verdict = await runBounded(
      (hookSignal) =>
        auth.check({ page, context: lease.context, signal: hookSignal, session: toInfo(record) }),
      {
        timeoutMs: opts.checkTimeout,
        clock: this.#d.clock,
        signal,
        what: `check hook of "${auth.name}"`,
        sessionId: record.id,
      },
    );
    // Anything but a boolean is a programming error, not a "logged out" answer: no refresh, no expiry.
    if (typeof verdict !== 'boolean') throw invalidCheckResult(auth.name, verdict, record.id);
    if (verdict !== true) {
      throw new AuthSessionError('CHECK_FAILED', `The check of "${auth.name}" did not return true`, {
        sessionId: record.id,
      });
    }
  }

  /**
   * After a failed check: credentials sessions refresh once for everyone (single flight + lock); recorder
   * sessions expire at once. Returns the renewed record or throws `SESSION_EXPIRED`.
   */
  async recover(
    record: SessionRecord,
    auth: AuthDefinition,
    opts: Required<AuthOptions>,
    signal: AbortSignal,
  ): Promise<SessionRecord> {
    let flight = this.#refreshing.get(record.id);
    if (!flight) {
      flight = this.#recoverExclusive(record, auth, opts).finally(() => this.#refreshing.delete(record.id));
      this.#refreshing.set(record.id, flight);
      this.#yieldToRefresh(record.id);
    }
    return raceAbort(flight, signal);
  }

  async #recoverExclusive(
    seen: SessionRecord,
    auth: AuthDefinition,
    opts: Required<AuthOptions>,
  ): Promise<SessionRecord> {
    const handle = await this.#d.lock.acquire(`refresh:${seen.id}`, {
      leaseMs: this.#d.lockLeaseMs,
      waitMs: this.#d.lockWaitMs,
      signal: this.#d.closed,
    });
    try {
      // Another worker may have renewed (or expired) the session while we waited for the lock.
      const current = await this.#d.store.require(seen.id);
      if (current.generation !== seen.generation && current.state === 'active') return current;
      assertRunnable(current);
      if (auth.type !== 'credentials') {
        return await this.expire(
          current,
          new AuthSessionError(
            'CHECK_FAILED',
            `The recorded login of session "${current.id}" no longer holds; a person must record it again`,
            { sessionId: current.id },
          ),
        );
      }
      const started = this.now();
      const codec = await this.#d.codec();
      try {
        const credentials = parseStoredCredentials(auth, codec.credentials(current), current.id);
        const state = await this.login(current, auth, credentials, 'refresh', opts, {
          signal: this.#d.closed,
        });
        const { record, written } = await this.commit(
          current.id,
          refreshed(current, codec.sealState(current.id, state), this.iso()),
        );
        // Not written: the session changed under us (renewed by another worker whose lock we outlived,
        // deleted, or taken over by a new login); the latest record tells what callers get.
        if (!written) return adoptLatest(current.id, record);
        const saved = record as SessionRecord;
        this.#d.events.emit('refreshed', { session: toInfo(saved), durationMs: this.now() - started });
        return saved;
      } catch (err) {
        const e = normalise(err, 'CREATE_FAILED', `Logging in again to "${auth.name}" failed`, current.id);
        if (!expiresSession(e)) throw e;
        return await this.expire(current, e);
      }
    } finally {
      await handle.release().catch(() => {});
    }
  }

  /**
   * Marks a session expired (event included) and throws `SESSION_EXPIRED`. When the session changed
   * meanwhile (renewed by another worker, a new login under way, deleted), nothing is written and the latest
   * record decides: a renewed session is returned instead.
   */
  async expire(current: SessionRecord, reason: AuthSessionError): Promise<SessionRecord> {
    const { record, written } = await this.commit(
      current.id,
      expired(current, { code: reason.code, message: reason.message }, this.iso()),
    );
    if (!written) return adoptLatest(current.id, record);
    const done = record as SessionRecord;
    this.#d.codec().then(
      (c) => c.forget(current.id),
      () => {},
    );
    this.#d.events.emit('expired', { session: toInfo(done), reason: summariseError(reason) });
    const error = sessionExpired(done, reason);
    expiredRecords.set(error, done);
    throw error;
  }

  /**
   * Logs in: a fresh context (or one with the current state for a custom `refresh`), the `create` or
   * `refresh` hook, then `check`; up to `createAttempts`. Returns the captured state.
   *
   * When the hook asks for input while `record` is `pending`, the request is written to the stored record
   * (shown by `get()`) and removed once answered; `record.revision` is kept in step with those writes, so
   * the caller's final write fenced on `record.revision` still applies.
   */
  async login(
    record: SessionRecord,
    auth: CredentialsAuthDefinition,
    credentials: unknown,
    mode: 'create' | 'refresh',
    opts: Required<AuthOptions>,
    extras: LoginExtras,
  ): Promise<BrowserState> {
    const signal = anySignal(extras.signal, this.#d.closed);
    const hook = mode === 'refresh' && auth.refresh ? auth.refresh : auth.create;
    const codec = await this.#d.codec();
    const startState = mode === 'refresh' && auth.refresh ? codec.state(record) : undefined;
    return withAttempts(
      async () => {
        const lease = await this.openContext(record, codec, startState, signal);
        const proxyAuth = record.proxy === undefined ? undefined : watchProxyAuth(lease.context, record.id);
        // Writes of input requests to the record still in flight: the caller's clean-up (delete, restore,
        // fail) must come after them, never be overwritten by them.
        const settling = new Set<Promise<unknown>>();
        try {
          const page = await lease.newPage();
          await this.#runCreateHook(
            record,
            auth,
            hook,
            credentials,
            lease,
            page,
            opts,
            signal,
            extras,
            settling,
          );
          await this.#checkOnce(record, auth, lease, page, opts, signal);
          return await lease.captureState();
        } catch (err) {
          const infra =
            proxyAuth?.failure(err) ??
            toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined });
          if (infra) throw infra;
          // The check after logging in failing means the login failed.
          if (err instanceof AuthSessionError && err.code === 'CHECK_FAILED') {
            throw new AuthSessionError(
              'CREATE_FAILED',
              `Logging in to "${auth.name}" did not pass the check`,
              {
                sessionId: record.id,
                cause: err,
              },
            );
          }
          throw err;
        } finally {
          proxyAuth?.stop();
          await Promise.allSettled([...settling]);
          await lease.close();
        }
      },
      'CREATE_FAILED',
      `Logging in to "${auth.name}" failed`,
      { attempts: opts.createAttempts, retryDelay: opts.retryDelay, signal, sessionId: record.id },
    );
  }

  async #runCreateHook(
    record: SessionRecord,
    auth: CredentialsAuthDefinition,
    hook: CredentialsAuthDefinition['create'],
    credentials: unknown,
    lease: ContextLease,
    page: Page,
    opts: Required<AuthOptions>,
    signal: AbortSignal,
    extras: LoginExtras,
    settling: Set<Promise<unknown>>,
  ): Promise<void> {
    // The one place hook errors enter the library: what a login hook throws may quote the credentials
    // (`new Error('bad password ' + password)`) or the proxy password; they are scrubbed before the error is
    // kept, thrown or logged.
    await runBounded(
      async (hookSignal, timer) => {
        const ctx: CreateContext<unknown> = {
          page,
          context: lease.context,
          signal: hookSignal,
          session: toInfo(record),
          credentials,
          totp: this.#d.totp(credentials, this.#d.clock, hookSignal),
          requestInput: (request) =>
            this.#requestInput(record, auth, request, extras, { signal: hookSignal, timer, settling }),
        };
        await hook(ctx as CreateContext<never>);
      },
      {
        timeoutMs: opts.createTimeout,
        clock: this.#d.clock,
        signal,
        what: `${hook === auth.create ? 'create' : 'refresh'} hook of "${auth.name}"`,
        sessionId: record.id,
      },
    ).catch(async (err: unknown) => {
      const proxy = await this.#d
        .codec()
        .then((codec) => codec.proxy(record))
        .catch(() => undefined);
      throw scrubSecrets(err, [credentials, proxy?.password]);
    });
  }

  /**
   * `requestInput` of a login: pauses the hook's timeout, shows the request on the pending record, emits
   * `input:requested`, waits (bounded by `inputTimeout`) for the handler's answer, emits `input:answered`.
   * The answer itself never reaches the record, an event or an error.
   */
  async #requestInput(
    record: SessionRecord,
    auth: CredentialsAuthDefinition,
    request: unknown,
    extras: LoginExtras,
    hook: { signal: AbortSignal; timer: HookTimer; settling: Set<Promise<unknown>> },
  ): Promise<string> {
    const asked = parseInputRequest(request);
    const onInput = extras.onInput;
    if (!onInput) {
      throw new AuthSessionError(
        'INPUT_REQUIRED',
        `The login of "${record.auth}" asked for input (${asked.kind}) and nobody can answer here; ` +
          'use manager.startCreate()/startUpdate() with resume(), or pass onInput. ' +
          'A refresh in the background cannot ask a person: use totp() for time-based codes',
        { sessionId: record.id },
      );
    }
    const { signal, timer, settling } = hook;
    if (signal.aborted) throw abortError(signal);
    const timeoutMs = resolveInputTimeout(auth as { inputTimeout?: unknown }, extras);
    const pending: PendingInputRequest = { ...asked, id: randomUUID() };
    const operationId = extras.operationId;
    const track = <T>(p: Promise<T>): Promise<T> => {
      settling.add(p);
      p.then(
        () => settling.delete(p),
        () => settling.delete(p),
      );
      return p;
    };
    const resumeTimer = timer.pause();
    const waiting = new AbortController();
    const onAbort = () => waiting.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const inputTimer = this.#d.clock.setTimeout(
      () =>
        waiting.abort(
          new AuthSessionError(
            'INPUT_TIMEOUT',
            `Nobody answered the "${asked.kind}" request of session "${record.id}" within ${timeoutMs} ms`,
            { sessionId: record.id },
          ),
        ),
      timeoutMs,
    );
    let shown: SessionRecord | undefined;
    try {
      if (record.state === 'pending') {
        shown = (
          await track(
            this.commit(record.id, showInput(loginIdOf(record), shownRequest(pending), operationId)),
          )
        ).record;
      }
      this.#d.events.emit('input:requested', {
        session: toInfo(shown ?? record),
        request: pending,
        ...(operationId === undefined ? {} : { operationId }),
      });
      const answer = await raceAbort(
        Promise.resolve().then(() => onInput(pending, waiting.signal)),
        waiting.signal,
      );
      assertValidAnswer(pending, answer, record.id);
      this.#d.events.emit('input:answered', {
        session: toInfo(record),
        requestId: pending.id,
        kind: pending.kind,
        ...(operationId === undefined ? {} : { operationId }),
      });
      return answer;
    } finally {
      this.#d.clock.clearTimeout(inputTimer);
      signal.removeEventListener('abort', onAbort);
      // After an abort the caller cleans the record up itself; writing here could race with that.
      if (shown && !signal.aborted) {
        await track(this.commit(record.id, clearInput(loginIdOf(record), pending.id))).catch((err: unknown) =>
          this.#d.events.emit('warning', { session: toInfo(record), error: summariseError(err) }),
        );
      }
      resumeTimer();
    }
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
      // The warm context holds exactly this state: runs that read it may keep using the context.
      if (sealedState && lease instanceof WarmLease) lease.adopt(sealedState.box, record.revision + 1);
      const { record: saved, written } = await this.commit(
        record.id,
        afterRun(record, {
          ...(checkedAt === undefined ? {} : { checkedAt }),
          ...(sealedState === undefined ? {} : { sealedState }),
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

/** The record each `SESSION_EXPIRED` error made by `expire` stands for (for the `run:end` event). */
const expiredRecords = new WeakMap<AuthSessionError, SessionRecord>();

/** Thrown by `#runContext` when a refresh of the session started while the run waited for a context. */
const YIELD_TO_REFRESH: unique symbol = Symbol('yield-to-refresh');

/** Closes a context whose login no longer holds: a warm one is retired so no later run gets it. */
async function dropContext(lease: ContextLease): Promise<void> {
  if (lease instanceof WarmLease) lease.discard();
  await lease.close();
}

/**
 * What callers of a refresh or an expiry get when their write did not apply because the session changed
 * under them: the latest record when it is active (another worker renewed it), else the error its state
 * calls for (`SESSION_EXPIRED`, `INVALID_STATE` while a new login is under way, `SESSION_NOT_FOUND`).
 */
/** The login under way on a pending record (every login writes one; see `beginLogin`). */
function loginIdOf(record: SessionRecord): string {
  if (record.loginId === undefined) {
    throw new AuthSessionError('INVALID_STATE', `Session "${record.id}" has no login under way`, {
      sessionId: record.id,
    });
  }
  return record.loginId;
}

function adoptLatest(id: string, latest: SessionRecord | undefined): SessionRecord {
  if (!latest) {
    throw new AuthSessionError('SESSION_NOT_FOUND', `Session "${id}" was deleted meanwhile`, {
      sessionId: id,
    });
  }
  assertRunnable(latest);
  return latest;
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

function sessionExpired(record: SessionRecord, cause?: unknown): AuthSessionError {
  const how =
    record.type === 'recorder'
      ? 'a person must record the login again (manager.record)'
      : 'update its credentials (manager.update) to log in again';
  const what = record.state === 'failed' ? 'was never logged in' : 'has expired';
  return new AuthSessionError('SESSION_EXPIRED', `Session "${record.id}" ${what}; ${how}`, {
    sessionId: record.id,
    status: 401,
    cause,
  });
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

/** Failures that mean "the login does not work" (expire), as opposed to infrastructure or abort. */
function expiresSession(err: AuthSessionError): boolean {
  return (
    err.code === 'CREATE_FAILED' ||
    err.code === 'CHECK_FAILED' ||
    err.code === 'HOOK_TIMEOUT' ||
    err.code === 'INVALID_CREDENTIALS' ||
    err.code === 'INPUT_REQUIRED'
  );
}

/** Validates decrypted credentials against the auth's schema again (the schema may have changed). */
export function parseStoredCredentials(auth: CredentialsAuthDefinition, value: unknown, id: string): unknown {
  const parsed = auth.credentials.safeParse(value);
  if (!parsed.success) {
    throw new AuthSessionError(
      'INVALID_CREDENTIALS',
      `The stored credentials of session "${id}" no longer match the schema of "${auth.name}" (${issuePaths(parsed.error)}); update them`,
      { sessionId: id },
    );
  }
  return parsed.data;
}

/** A signal aborted when any of the given ones is. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 1) return present[0]!;
  return AbortSignal.any(present);
}
