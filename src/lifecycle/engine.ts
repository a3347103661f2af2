import type { BrowserContext, Page } from 'playwright-core';
import { toInfrastructureError } from '../browser/network-errors.js';
import type { BrowserProvider, ContextLease, DeviceProfile } from '../browser/provider.js';
import { abortError } from '../browser/slots.js';
import { type BrowserState, stateFingerprint } from '../browser/state.js';
import type { Clock } from '../clock.js';
import {
  type AuthDefinition,
  type AuthOptions,
  type CreateContext,
  type CredentialsAuthDefinition,
  type InputRequest,
  resolveAuthOptions,
} from '../define.js';
import { AuthSessionError, AuthSessionInvalidError } from '../errors.js';
import type { AuthSessionLock } from '../lock/lock.js';
import { type EventBus, summariseError } from '../monitor/events.js';
import { resolveProxy } from '../proxy.js';
import { type AuthSessionInfo, toInfo } from '../session-info.js';
import type { SessionRecord } from '../store/record.js';
import type { SessionStore } from '../store/session-store.js';
import type { SessionCodec } from './codec.js';
import { normalise, runBounded, withAttempts } from './hooks.js';
import { assertTransition, type SessionState } from './states.js';

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
}

/** A record with changes applied: revision bumped, `updatedAt` stamped, the transition checked. */
export function nextRecord(
  record: SessionRecord,
  changes: Partial<SessionRecord>,
  now: number,
): SessionRecord {
  const to: SessionState = changes.state ?? record.state;
  assertTransition(record.state, to, record.id);
  const next: SessionRecord = {
    ...record,
    ...changes,
    revision: record.revision + 1,
    updatedAt: new Date(now).toISOString(),
  };
  for (const key of Object.keys(next) as (keyof SessionRecord)[]) {
    if (next[key] === undefined) delete next[key];
  }
  return next;
}

/**
 * The lifecycle: check → refresh → expire around every task, single-flight refresh under the lock, state
 * capture after each run, and the login procedure shared by create, refresh, update and record.
 */
export class Lifecycle {
  readonly #d: LifecycleDeps;
  readonly #refreshing = new Map<string, Promise<SessionRecord>>();

  constructor(deps: LifecycleDeps) {
    this.#d = deps;
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

  /** Writes a record and emits `transition` when its state changed. */
  async save(
    previous: SessionRecord | undefined,
    next: SessionRecord,
    condition?: { revision?: number; generation?: number },
  ) {
    await this.#d.store.write(next, condition);
    if (previous && previous.state !== next.state) {
      this.#d.events.emit('transition', { session: toInfo(next), from: previous.state, to: next.state });
    }
    return next;
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
        const codec = await this.#d.codec();
        const openedState = codec.state(record);
        const lease = await this.openContext(record, codec, openedState, signal);
        try {
          const page = await lease.newPage();
          let checkedAt: string | undefined;
          if (!skipCheck && (forceCheck || needsCheck(record, opts.checkInterval, this.now()))) {
            const ok = await this.check(record, auth, lease, page, opts, signal);
            if (!ok) {
              await lease.close();
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
              await lease.close();
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
        session: toInfo(record),
        runId,
        ok: false,
        durationMs: this.now() - started,
        error: summariseError(err),
      });
      throw err;
    }
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
    return this.#d.browser().newContext({
      state,
      proxy: proxy === undefined ? undefined : resolveProxy(proxy, record.id),
      device: record.device as DeviceProfile | undefined,
      signal,
      ...(extra.headless === undefined ? {} : { headless: extra.headless }),
    });
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
    try {
      await withAttempts(
        async () => {
          try {
            await this.#checkOnce(record, auth, lease, page, opts, signal);
          } catch (err) {
            throw toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined }) ?? err;
          }
        },
        'CHECK_FAILED',
        `The check of session "${record.id}" failed`,
        { attempts: opts.checkAttempts, retryDelay: opts.retryDelay, signal },
      );
      this.#d.events.emit('checked', { session: toInfo(record), ok: true, durationMs: this.now() - started });
      return true;
    } catch (err) {
      const e = normalise(err, 'CHECK_FAILED', `The check of session "${record.id}" failed`);
      this.#d.events.emit('checked', {
        session: toInfo(record),
        ok: false,
        durationMs: this.now() - started,
        error: summariseError(e),
      });
      if (e.code === 'CHECK_FAILED' || e.code === 'HOOK_TIMEOUT') return false;
      throw e;
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
        throw await this.expire(
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
        const next = nextRecord(
          current,
          {
            state: 'active',
            generation: current.generation + 1,
            lastCheckedAt: this.iso(),
            sealed: { ...current.sealed, state: codec.sealState(current.id, state) },
            failure: undefined,
          },
          this.now(),
        );
        await this.save(current, next, { generation: current.generation });
        this.#d.events.emit('refreshed', { session: toInfo(next), durationMs: this.now() - started });
        return next;
      } catch (err) {
        const e = normalise(err, 'CREATE_FAILED', `Logging in again to "${auth.name}" failed`);
        if (!expiresSession(e)) throw e;
        throw await this.expire(current, e);
      }
    } finally {
      await handle.release().catch(() => {});
    }
  }

  /** Marks a session expired (event included) and returns the `SESSION_EXPIRED` error to throw. */
  async expire(current: SessionRecord, reason: AuthSessionError): Promise<AuthSessionError> {
    const expired = nextRecord(
      current,
      { state: 'expired', expiredAt: this.iso(), failure: { code: reason.code, message: reason.message } },
      this.now(),
    );
    await this.save(current, expired, { generation: current.generation });
    this.#d.codec().then(
      (c) => c.forget(current.id),
      () => {},
    );
    this.#d.events.emit('expired', { session: toInfo(expired), reason: summariseError(reason) });
    return sessionExpired(expired, reason);
  }

  /**
   * Logs in: a fresh context (or one with the current state for a custom `refresh`), the `create` or
   * `refresh` hook, then `check`; up to `createAttempts`. Returns the captured state.
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
        try {
          const page = await lease.newPage();
          await this.#runCreateHook(record, auth, hook, credentials, lease, page, opts, signal, extras);
          await this.#checkOnce(record, auth, lease, page, opts, signal);
          return await lease.captureState();
        } catch (err) {
          const infra = toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined });
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
          await lease.close();
        }
      },
      'CREATE_FAILED',
      `Logging in to "${auth.name}" failed`,
      { attempts: opts.createAttempts, retryDelay: opts.retryDelay, signal },
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
  ): Promise<void> {
    await runBounded(
      async (hookSignal) => {
        const ctx: CreateContext<unknown> = {
          page,
          context: lease.context,
          signal: hookSignal,
          session: toInfo(record),
          credentials,
          totp: this.#d.totp(credentials, this.#d.clock, hookSignal),
          requestInput: (request) => this.#requestInput(record, request, extras, hookSignal),
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
    );
  }

  async #requestInput(
    record: SessionRecord,
    request: InputRequest,
    extras: LoginExtras,
    signal: AbortSignal,
  ) {
    if (!extras.onInput) {
      throw new AuthSessionError(
        'INPUT_REQUIRED',
        `The login of "${record.auth}" asked for input (${request.kind}); use manager.startCreate()/startUpdate() and resume(), or pass onInput`,
        { sessionId: record.id },
      );
    }
    const answer = await extras.onInput({ ...request, id: this.#d.newId() }, signal);
    if (typeof answer !== 'string') {
      throw new AuthSessionError('INVALID_OPTIONS', 'An input answer must be a string', {
        sessionId: record.id,
      });
    }
    return answer;
  }

  /** Saves the state after a successful task when it changed (sites roll cookies) or a check was recorded. */
  async #saveAfterRun(
    record: SessionRecord,
    lease: ContextLease,
    openedState: BrowserState | undefined,
    checkedAt: string | undefined,
    codec: SessionCodec,
  ): Promise<void> {
    try {
      const captured = await lease.captureState();
      const changed = stateFingerprint(captured) !== stateFingerprint(openedState);
      if (!changed && checkedAt === undefined) return;
      const next = nextRecord(
        record,
        {
          ...(checkedAt === undefined ? {} : { lastCheckedAt: checkedAt }),
          ...(changed ? { sealed: { ...record.sealed, state: codec.sealState(record.id, captured) } } : {}),
        },
        this.now(),
      );
      await this.#d.store.write(next, { revision: record.revision });
    } catch (err) {
      // A newer record (a refresh, another run) wins; any other failure must not fail a task that succeeded.
      if (err instanceof AuthSessionError && err.code === 'STALE_WRITE') return;
      this.#d.events.emit('warning', { session: toInfo(record), error: summariseError(err) });
    }
  }
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

/** Field paths of zod issues, never the values. */
export function issuePaths(error: { issues: readonly { path: readonly PropertyKey[] }[] }): string {
  const paths = error.issues.map((i) => (i.path.length ? i.path.map(String).join('.') : '(root)'));
  return [...new Set(paths)].join(', ');
}

/** A signal aborted when any of the given ones is. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 1) return present[0]!;
  return AbortSignal.any(present);
}

/** Rejects when the signal aborts, whatever the promise does. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
