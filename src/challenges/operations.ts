import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { abortError, raceAbort } from '../browser/slots.js';
import type { Clock } from '../clock.js';
import { type AuthDefinition, validateAuthOptions } from '../define.js';
import { AuthSessionError, type AuthSessionErrorCode } from '../errors.js';
import type { SessionCodec } from '../lifecycle/codec.js';
import type { InputHandler, LoginExtras } from '../lifecycle/engine.js';
import {
  assertInputTimeout,
  assertValidAnswer,
  type PendingInputRequest,
  resolveInputTimeout,
} from '../lifecycle/input.js';
import type { CreateSessionOptions, UpdateSessionOptions } from '../manager.js';
import { type EventBus, summariseError } from '../monitor/events.js';
import { delay } from '../server-calls.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import { assertSessionId, parseCredentials } from '../session-options.js';
import type { SessionStore } from '../store/session-store.js';
import {
  ANSWER_FIELD,
  isFinalStatus,
  isOperationId,
  notifyOperation,
  OPERATION_TTL_MS,
  type OperationRecord,
  type OperationStatus,
  OperationStore,
  onOperationNotice,
} from './operation-store.js';

/** How often a process looks in the store for news of an operation run elsewhere: 500 ms. */
export const DEFAULT_POLL_INTERVAL_MS = 500;

/** How long `result` waits by default before giving up (the operation goes on): 30 minutes. */
export const DEFAULT_RESULT_TIMEOUT_MS = 30 * 60_000;

/** How long `cancel` waits by default for the login to stop and clean up: 30 seconds. */
export const DEFAULT_CANCEL_TIMEOUT_MS = 30_000;

/** How long `operation(id, { wait: true })` waits by default: 60 seconds. */
export const DEFAULT_OPERATION_WAIT_MS = 60_000;

/**
 * A login started with `startCreate` / `startUpdate`, as any process sees it. Never an answer or a secret.
 *
 * @example
 * ```ts
 * const op = await manager.startCreate('crm', { credentials });
 * // { id: '…', kind: 'create', status: 'running', sessionId: '…', auth: 'crm', … }
 * ```
 */
export interface AuthOperation {
  /** Random id of the operation: pass it to `operation`, `resume`, `result`, `cancel`. */
  readonly id: string;
  /** What the operation does. */
  readonly kind: 'create' | 'update';
  /**
   * `running` (logging in), `waiting_for_input` (see `request`; answer with `resume`), or final:
   * `succeeded`, `failed` (see `error`), `canceled`.
   */
  readonly status: OperationStatus;
  /** The session being created or updated. */
  readonly sessionId: string;
  /** Name of the session's auth. */
  readonly auth: string;
  /** What the login waits for, while `status` is `waiting_for_input`. */
  readonly request?: {
    readonly id: string;
    readonly kind: string;
    readonly message: string;
    readonly choices?: readonly string[];
  };
  /** The session as stored now (pending with its `input` while waiting, active once succeeded). */
  readonly session?: AuthSessionInfo;
  /** Why the operation failed or was canceled. */
  readonly error?: { readonly code: AuthSessionErrorCode; readonly message: string };
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Options the two `start…` calls share. */
export interface OperationStartOptions {
  /**
   * Milliseconds each `requestInput` of the login waits for `resume` before `INPUT_TIMEOUT`.
   * @default the auth's `inputTimeout`, else 300000 (5 minutes)
   */
  readonly inputTimeout?: number;
  /**
   * Milliseconds between two looks in the store for an answer or a cancel sent by another process (within
   * this process they arrive at once).
   * @default 500
   */
  readonly pollInterval?: number;
}

/** What `startCreate` takes: the options of `create`, without `onInput` and `signal` (use `resume`/`cancel`). */
export interface StartCreateOptions<C = unknown>
  extends Omit<CreateSessionOptions<C>, 'onInput' | 'signal' | 'inputTimeout'>,
    OperationStartOptions {}

/** What `startUpdate` takes: the options of `update`, without `onInput` and `signal` (use `resume`/`cancel`). */
export interface StartUpdateOptions<C = unknown>
  extends Omit<UpdateSessionOptions<C>, 'onInput' | 'signal' | 'inputTimeout'>,
    OperationStartOptions {}

/** Options of waits on an operation (`result`, `cancel`, `operation` with `wait`). */
export interface OperationWaitOptions {
  /** Stops waiting (the operation itself goes on; use `cancel` to stop it). */
  readonly signal?: AbortSignal;
  /** Milliseconds to wait at most. Defaults: `result` 30 minutes, `cancel` 30 s, `operation` 60 s. */
  readonly timeoutMs?: number;
  /**
   * Milliseconds between two reads of the store while waiting on an operation run by another process.
   * @default 500
   */
  readonly pollInterval?: number;
}

/** Options of `operation`. */
export interface OperationViewOptions extends OperationWaitOptions {
  /**
   * While the operation is `running`, wait until it asks for input or ends (bounded by `timeoutMs`, default
   * 60 s), then return it; it may still be `running` when the time is up.
   * @default false
   */
  readonly wait?: boolean;
}

/** Options of `resume`. */
export interface ResumeOptions {
  /**
   * The id of the request being answered (from `operation(id).request.id`): the answer is refused with
   * `INVALID_STATE` when the login has moved on to another request meanwhile.
   */
  readonly requestId?: string;
}

/** What the operations need from the manager. */
export interface OperationsDeps {
  readonly store: SessionStore;
  readonly clock: Clock;
  readonly events: EventBus;
  /** Aborted when the manager closes. */
  readonly closed: AbortSignal;
  readonly codec: () => Promise<SessionCodec>;
  readonly auth: (name: string) => AuthDefinition;
  readonly newId: () => string;
  /** The manager's one-call `create`. */
  readonly create: (auth: string, options: CreateSessionOptions & LoginExtras) => Promise<AuthSessionInfo>;
  /** The manager's one-call `update`. */
  readonly update: (id: string, options: UpdateSessionOptions & LoginExtras) => Promise<AuthSessionInfo>;
}

/**
 * The start → resume → result operations of the manager (docs/challenges.md). A login runs in the
 * background of the process that started it; its status, its pending request, the answer and a cancel
 * travel through the store, so any process sharing the store (and the key) can follow, answer or stop it.
 *
 * @example
 * ```ts
 * const op = await manager.startCreate('crm', { credentials });
 * const waiting = await manager.operation(op.id, { wait: true }); // status 'waiting_for_input'
 * await manager.resume(op.id, codeFromTheUser);
 * const session = await manager.result(op.id);
 * ```
 */
export class ChallengeOperations {
  readonly #d: OperationsDeps;
  readonly #ops: OperationStore;
  readonly #runs = new Map<string, OperationRun>();
  /** Session ids with an operation starting or running in this process. */
  readonly #busy = new Set<string>();

  constructor(deps: OperationsDeps) {
    this.#d = deps;
    this.#ops = new OperationStore(deps.store);
  }

  /** Starts creating a session in the background; resolves once the operation is stored. */
  async startCreate(authName: string, options: StartCreateOptions): Promise<AuthOperation> {
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'startCreate(auth, options): options must be an object with "credentials"',
      );
    }
    const auth = this.#d.auth(authName);
    if (auth.type !== 'credentials') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `Auth "${authName}" is recorder-based: create its sessions with record()`,
      );
    }
    const start = checkStartOptions(options, 'startCreate');
    await parseCredentials(auth, options.credentials);
    const sessionId = options.id ?? this.#d.newId();
    assertSessionId(sessionId);
    const { inputTimeout: _i, pollInterval: _p, ...createOptions } = options;
    return this.#reserved(sessionId, async () => {
      const existing = await this.#d.store.read(sessionId);
      if (existing && existing.state !== 'failed') {
        throw new AuthSessionError(
          'SESSION_EXISTS',
          `A session with id "${sessionId}" exists already; use startUpdate() to change it`,
          { sessionId },
        );
      }
      return this.#launch('create', sessionId, auth, start, (extras) =>
        this.#d.create(auth.name, { ...createOptions, id: sessionId, ...extras }),
      );
    });
  }

  /** Starts updating a session in the background (a login when new credentials are given). */
  async startUpdate(sessionId: string, options: StartUpdateOptions): Promise<AuthOperation> {
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError('INVALID_OPTIONS', 'startUpdate(id, options): options must be an object');
    }
    const start = checkStartOptions(options, 'startUpdate');
    const { inputTimeout: _i, pollInterval: _p, ...updateOptions } = options;
    return this.#reserved(sessionId, () => this.#startUpdate(sessionId, options, updateOptions, start));
  }

  async #startUpdate(
    sessionId: string,
    options: StartUpdateOptions,
    updateOptions: Omit<StartUpdateOptions, 'inputTimeout' | 'pollInterval'>,
    start: { inputTimeout: number | undefined; pollInterval: number },
  ): Promise<AuthOperation> {
    const current = await this.#d.store.require(sessionId);
    const auth = this.#d.auth(current.auth);
    if (current.state === 'pending') {
      throw new AuthSessionError(
        'INVALID_STATE',
        `Session "${sessionId}" is being created or updated already${current.operationId ? ` (operation "${current.operationId}")` : ''}`,
        { sessionId },
      );
    }
    if (options.credentials !== undefined && auth.type === 'credentials') {
      await parseCredentials(auth, options.credentials, sessionId);
    }
    return this.#launch('update', sessionId, auth, start, (extras) =>
      this.#d.update(sessionId, { ...updateOptions, ...extras }),
    );
  }

  /** The operation now (or, with `wait`, once it asks for input or ends); undefined when unknown. */
  async operation(id: string, options: OperationViewOptions = {}): Promise<AuthOperation | undefined> {
    checkWaitOptions(options, 'operation');
    if (!options.wait) return this.#view(id);
    return this.#waitFor(
      id,
      options,
      DEFAULT_OPERATION_WAIT_MS,
      (view) => view?.status !== 'running',
      'view',
    );
  }

  /** Answers the pending request of an operation (from any process sharing the store and the key). */
  async resume(id: string, input: string, options: ResumeOptions = {}): Promise<void> {
    if (typeof input !== 'string') {
      throw new AuthSessionError('INVALID_OPTIONS', 'resume(operationId, input): input must be a string');
    }
    const record = await this.#require(id);
    const request = record.request;
    if (record.status !== 'waiting_for_input' || !request) {
      throw new AuthSessionError(
        'INVALID_STATE',
        `Operation "${id}" is not waiting for input (status: ${record.status})`,
        { sessionId: record.sessionId },
      );
    }
    if (options.requestId !== undefined && options.requestId !== request.id) {
      throw new AuthSessionError(
        'INVALID_STATE',
        `Operation "${id}" no longer waits for request "${options.requestId}"; it now asks "${request.kind}" (request "${request.id}")`,
        { sessionId: record.sessionId },
      );
    }
    assertValidAnswer(request, input, record.sessionId);
    const codec = await this.#d.codec();
    const box = codec.keyring.seal(id, ANSWER_FIELD, { value: input });
    // Kept no longer than the login can still use it.
    const left = (record.requestExpiresAt ?? this.#d.clock.now()) - this.#d.clock.now();
    const ttlMs = Math.min(Math.max(left, 0), OPERATION_TTL_MS) + 30_000;
    await this.#ops.writeAnswer(id, { v: 1, requestId: request.id, box }, ttlMs);
    notifyOperation(this.#ops.keyv, id);
  }

  /** Waits for the operation to end: the session when it succeeded, else throws its failure. */
  async result(id: string, options: OperationWaitOptions = {}): Promise<AuthSessionInfo> {
    checkWaitOptions(options, 'result');
    const run = this.#runs.get(id);
    if (run) {
      return this.#bounded(options, DEFAULT_RESULT_TIMEOUT_MS, id, (signal) =>
        raceAbort(run.promise, signal),
      );
    }
    const record = await this.#waitFor(
      id,
      options,
      DEFAULT_RESULT_TIMEOUT_MS,
      (r) => r === undefined || isFinalStatus(r.status),
      'record',
    );
    if (!record) throw notFound(id);
    if (!isFinalStatus(record.status)) throw gaveUp(id, options.timeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS);
    if (record.status === 'succeeded') {
      const session = await this.#d.store.read(record.sessionId);
      if (!session) {
        throw new AuthSessionError(
          'SESSION_NOT_FOUND',
          `Operation "${id}" succeeded, but its session "${record.sessionId}" no longer exists`,
          { sessionId: record.sessionId },
        );
      }
      return toInfo(session);
    }
    if (record.status === 'canceled') throw canceledError(id, record.sessionId);
    throw new AuthSessionError(
      (record.error?.code ?? 'CREATE_FAILED') as AuthSessionErrorCode,
      record.error?.message ?? `Operation "${id}" failed`,
      { sessionId: record.sessionId },
    );
  }

  /**
   * Stops an operation (from any process): the login is aborted, its browser context closed, a new session
   * deleted and an updated one restored. Resolves with the operation once it has stopped (or when the wait
   * is over: then it may still be stopping).
   */
  async cancel(id: string, options: OperationWaitOptions = {}): Promise<AuthOperation> {
    checkWaitOptions(options, 'cancel');
    const record = await this.#require(id);
    if (!isFinalStatus(record.status)) {
      await this.#ops.requestCancel(id, this.#iso());
      const run = this.#runs.get(id);
      if (run) run.cancel();
      else notifyOperation(this.#ops.keyv, id);
      if (run) {
        await this.#bounded(options, DEFAULT_CANCEL_TIMEOUT_MS, id, (signal) =>
          raceAbort(
            run.promise.then(
              () => undefined,
              () => undefined,
            ),
            signal,
          ),
        ).catch(() => {});
      } else {
        await this.#waitFor(
          id,
          options,
          DEFAULT_CANCEL_TIMEOUT_MS,
          (r) => r === undefined || isFinalStatus(r.status),
          'record',
        ).catch(() => {});
      }
    }
    return (await this.#view(id)) ?? viewOf(record, undefined);
  }

  /** Operations running in this process. */
  get running(): number {
    return this.#runs.size;
  }

  // ——— internals ———

  async #launch(
    kind: 'create' | 'update',
    sessionId: string,
    auth: AuthDefinition,
    start: { inputTimeout: number | undefined; pollInterval: number },
    login: (extras: LoginExtras) => Promise<AuthSessionInfo>,
  ): Promise<AuthOperation> {
    const id = randomUUID();
    const now = this.#iso();
    const record: OperationRecord = {
      v: 1,
      id,
      kind,
      sessionId,
      auth: auth.name,
      status: 'running',
      createdAt: now,
      updatedAt: now,
    };
    await this.#ops.write(record);
    const run = new OperationRun(this.#d, this.#ops, record, {
      pollInterval: start.pollInterval,
      inputTimeout: resolveInputTimeout(auth as { inputTimeout?: unknown }, start),
    });
    this.#runs.set(id, run);
    run.start(
      (onInput, signal) =>
        login({
          onInput,
          signal,
          operationId: id,
          ...(start.inputTimeout === undefined ? {} : { inputTimeout: start.inputTimeout }),
        }),
      () => {
        this.#runs.delete(id);
        this.#busy.delete(sessionId);
      },
    );
    return viewOf(record, undefined);
  }

  /**
   * One operation per session at a time in this process (across processes the pending record refuses the
   * rest): the session id is taken from the first check until its operation ends.
   */
  async #reserved(sessionId: string, start: () => Promise<AuthOperation>): Promise<AuthOperation> {
    if (this.#busy.has(sessionId)) {
      throw new AuthSessionError(
        'SESSION_EXISTS',
        `Session "${sessionId}" is being created or updated already by an operation of this process`,
        { sessionId },
      );
    }
    this.#busy.add(sessionId);
    try {
      return await start();
    } catch (err) {
      this.#busy.delete(sessionId);
      throw err;
    }
  }

  async #view(id: string): Promise<AuthOperation | undefined> {
    const record = await this.#ops.read(id);
    if (!record) return undefined;
    let shown = record;
    if (record.status === 'waiting_for_input' && record.request) {
      // Answered but not yet taken by the login: from the outside it is running again.
      const answer = await this.#ops.readAnswer(id);
      if (answer?.requestId === record.request.id) {
        const { request: _r, requestExpiresAt: _e, ...rest } = record;
        shown = { ...rest, status: 'running' };
      }
    }
    const session = await this.#d.store.read(record.sessionId).catch((err: unknown) => {
      if (err instanceof AuthSessionError && err.code === 'CORRUPT_RECORD') return undefined;
      throw err;
    });
    return viewOf(shown, session ? toInfo(session) : undefined);
  }

  async #require(id: string): Promise<OperationRecord> {
    if (!isOperationId(id)) throw notFound(id);
    const record = await this.#ops.read(id);
    if (!record) throw notFound(id);
    return record;
  }

  /** Polls the store (woken at once by news from this process) until `done` holds or the wait is over. */
  async #waitFor<K extends 'view' | 'record'>(
    id: string,
    options: OperationWaitOptions,
    defaultTimeout: number,
    done: (value: (K extends 'view' ? AuthOperation : OperationRecord) | undefined) => boolean,
    what: K,
  ): Promise<(K extends 'view' ? AuthOperation : OperationRecord) | undefined> {
    type V = (K extends 'view' ? AuthOperation : OperationRecord) | undefined;
    const read = async (): Promise<V> =>
      (what === 'view' ? await this.#view(id) : await this.#ops.read(id)) as V;
    const interval = options.pollInterval ?? DEFAULT_POLL_INTERVAL_MS;
    const timeoutMs = options.timeoutMs ?? defaultTimeout;
    const deadline = this.#d.clock.now() + timeoutMs;
    let kicked = false;
    let wake: (() => void) | undefined;
    // Listening before the first read: news arriving while it runs is not lost.
    const stop = onOperationNotice(this.#ops.keyv, id, () => {
      kicked = true;
      wake?.();
    });
    const release = keepAlive();
    try {
      let value = await read();
      if (done(value)) return value;
      for (;;) {
        const left = deadline - this.#d.clock.now();
        if (left <= 0) return value;
        if (!kicked) {
          await this.#nap(Math.min(interval, left), options.signal, (w) => {
            wake = w;
          });
          wake = undefined;
        }
        kicked = false;
        value = await read();
        if (done(value)) return value;
      }
    } finally {
      release();
      stop();
    }
  }

  /** Sleeps on the manager clock; `register` receives a function that ends the nap early. */
  #nap(ms: number, signal: AbortSignal | undefined, register: (wake: () => void) => void): Promise<void> {
    const nap = new AbortController();
    register(() => nap.abort());
    const signals = [nap.signal, this.#d.closed, ...(signal ? [signal] : [])];
    return delay(ms, this.#d.clock, AbortSignal.any(signals)).catch(() => {
      if (signal?.aborted) throw abortError(signal);
      if (this.#d.closed.aborted) throw abortError(this.#d.closed);
      // Otherwise woken early: there is news to read.
    });
  }

  /** Runs `fn` with a signal aborted by the caller, the manager closing or the wait's timeout. */
  async #bounded<T>(
    options: OperationWaitOptions,
    defaultTimeout: number,
    id: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? defaultTimeout;
    const controller = new AbortController();
    const timer = this.#d.clock.setTimeout(() => controller.abort(gaveUp(id, timeoutMs)), timeoutMs);
    const signals = [controller.signal, this.#d.closed, ...(options.signal ? [options.signal] : [])];
    const release = keepAlive();
    try {
      return await fn(AbortSignal.any(signals));
    } finally {
      release();
      this.#d.clock.clearTimeout(timer);
    }
  }

  #iso(): string {
    return new Date(this.#d.clock.now()).toISOString();
  }
}

/**
 * One operation running in this process: the login, its input handler (which publishes the request and
 * waits for the answer to appear in the store) and a poll loop that watches for answers and cancels.
 */
class OperationRun {
  readonly #d: OperationsDeps;
  readonly #ops: OperationStore;
  readonly #pollInterval: number;
  readonly #inputTimeout: number;
  readonly #controller = new AbortController();
  #record: OperationRecord;
  #writes: Promise<void> = Promise.resolve();
  #waiter:
    | { request: PendingInputRequest; resolve: (v: string) => void; reject: (e: unknown) => void }
    | undefined;
  #done = false;
  #canceled = false;
  #kicked = false;
  #wake: (() => void) | undefined;
  #warned = false;
  promise: Promise<AuthSessionInfo> = Promise.reject(new Error('not started'));

  constructor(
    deps: OperationsDeps,
    ops: OperationStore,
    record: OperationRecord,
    options: { pollInterval: number; inputTimeout: number },
  ) {
    this.#d = deps;
    this.#ops = ops;
    this.#record = record;
    this.#pollInterval = options.pollInterval;
    this.#inputTimeout = options.inputTimeout;
    this.promise.catch(() => {});
  }

  get #keyv(): Keyv {
    return this.#ops.keyv;
  }

  start(
    login: (onInput: InputHandler, signal: AbortSignal) => Promise<AuthSessionInfo>,
    onEnd: () => void,
  ): void {
    const id = this.#record.id;
    const stopNotices = onOperationNotice(this.#keyv, id, () => this.#kick());
    // A login in flight is work in progress, like a request: the process stays up until it ends.
    const release = keepAlive();
    const loop = this.#poll();
    this.promise = (async () => {
      try {
        const session = await login(this.#onInput, this.#controller.signal);
        await this.#finish({ status: 'succeeded' });
        return session;
      } catch (err) {
        if (this.#canceled && err instanceof AuthSessionError && err.code === 'ABORTED') {
          await this.#finish({ status: 'canceled', error: { code: err.code, message: err.message } });
          throw err;
        }
        const summary = summariseError(err);
        await this.#finish({
          status: 'failed',
          error: {
            code: summary.code === 'TASK_ERROR' ? 'CREATE_FAILED' : summary.code,
            message: summary.code === 'TASK_ERROR' ? 'The login failed' : summary.message,
          },
        });
        throw err;
      } finally {
        this.#done = true;
        this.#kick();
        stopNotices();
        await loop;
        release();
        onEnd();
        notifyOperation(this.#keyv, id);
      }
    })();
    this.promise.catch(() => {});
  }

  /** Aborts the login (its clean-up deletes or restores the session and closes the context). */
  cancel(): void {
    if (this.#done || this.#canceled) return;
    this.#canceled = true;
    this.#controller.abort(
      new AuthSessionError('ABORTED', `Operation "${this.#record.id}" was canceled`, {
        sessionId: this.#record.sessionId,
      }),
    );
  }

  /** The input handler given to the login: publishes the request, then waits for its answer in the store. */
  readonly #onInput: InputHandler = async (request, signal) => {
    const now = this.#d.clock.now();
    await this.#write({
      status: 'waiting_for_input',
      request: {
        id: request.id,
        kind: request.kind,
        message: request.message,
        ...(request.choices === undefined ? {} : { choices: [...request.choices] }),
      },
      requestExpiresAt: now + this.#inputTimeout,
    });
    notifyOperation(this.#keyv, this.#record.id);
    try {
      return await new Promise<string>((resolve, reject) => {
        if (signal.aborted) return reject(abortError(signal));
        const onAbort = () => reject(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiter = {
          request,
          resolve: (v) => {
            signal.removeEventListener('abort', onAbort);
            resolve(v);
          },
          reject: (e) => {
            signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        };
        this.#kick();
      });
    } finally {
      this.#waiter = undefined;
      // Not answered (timeout, cancel): the operation no longer waits for this request.
      await this.#writes;
      if (this.#record.request?.id === request.id) {
        await this.#write({ status: 'running', request: undefined, requestExpiresAt: undefined });
      }
      notifyOperation(this.#keyv, this.#record.id);
    }
  };

  /** Watches the store for a cancel and, while a request waits, for its answer. */
  async #poll(): Promise<void> {
    const id = this.#record.id;
    while (!this.#done) {
      await this.#sleep();
      if (this.#done) return;
      try {
        if (await this.#ops.isCancelRequested(id)) {
          this.cancel();
          continue;
        }
        const waiter = this.#waiter;
        if (!waiter) continue;
        const answer = await this.#ops.readAnswer(id);
        if (!answer || this.#waiter !== waiter) continue;
        if (answer.requestId !== waiter.request.id) {
          await this.#ops.deleteAnswer(id);
          continue;
        }
        let text: unknown;
        try {
          text = ((await this.#d.codec()).keyring.open(id, ANSWER_FIELD, answer.box) as { value?: unknown })
            ?.value;
        } catch (err) {
          await this.#ops.deleteAnswer(id);
          waiter.reject(err);
          continue;
        }
        this.#waiter = undefined;
        // Shown as running before the answer leaves the store, so no reader sees the request unanswered
        // again; taken once, the answer leaves the store before the login uses it.
        await this.#write({ status: 'running', request: undefined, requestExpiresAt: undefined });
        await this.#ops.deleteAnswer(id).catch((err: unknown) => this.#warn(err));
        if (typeof text === 'string') waiter.resolve(text);
        else waiter.reject(new AuthSessionError('INVALID_OPTIONS', 'An input answer must be a string'));
      } catch (err) {
        // A store hiccup: keep polling (the input timeout bounds the wait).
        this.#warn(err);
      }
    }
  }

  /** Reports a store failure of the poll once per operation. */
  #warn(err: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#d.events.emit('warning', { error: summariseError(err) });
  }

  #sleep(): Promise<void> {
    if (this.#kicked || this.#done) {
      this.#kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const end = () => {
        this.#d.clock.clearTimeout(timer);
        this.#wake = undefined;
        this.#kicked = false;
        resolve();
      };
      const timer = this.#d.clock.setTimeout(end, this.#pollInterval);
      this.#wake = end;
    });
  }

  #kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** Writes the operation, in order; once final it never changes again. */
  #write(changes: Partial<OperationRecord>): Promise<void> {
    const next = this.#writes.then(async () => {
      if (isFinalStatus(this.#record.status)) return;
      const updated: OperationRecord = { ...this.#record, ...changes, updatedAt: this.#iso() };
      for (const key of Object.keys(updated) as (keyof OperationRecord)[]) {
        if (updated[key] === undefined) delete updated[key];
      }
      this.#record = updated;
      await this.#ops.write(updated);
    });
    this.#writes = next.catch((err: unknown) => {
      this.#d.events.emit('warning', { error: summariseError(err) });
    });
    return this.#writes;
  }

  async #finish(changes: Pick<OperationRecord, 'status' | 'error'>): Promise<void> {
    await this.#write({ ...changes, request: undefined, requestExpiresAt: undefined });
    const id = this.#record.id;
    await Promise.allSettled([this.#ops.deleteAnswer(id), this.#ops.deleteCancel(id)]);
  }

  #iso(): string {
    return new Date(this.#d.clock.now()).toISOString();
  }
}

function checkStartOptions(
  options: OperationStartOptions & Parameters<typeof validateAuthOptions>[0],
  where: string,
): { inputTimeout: number | undefined; pollInterval: number } {
  validateAuthOptions(options, where);
  if (options.inputTimeout !== undefined)
    assertInputTimeout(options.inputTimeout, `${where}: "inputTimeout"`);
  if (options.pollInterval !== undefined)
    assertInputTimeout(options.pollInterval, `${where}: "pollInterval"`);
  return {
    inputTimeout: options.inputTimeout,
    pollInterval: options.pollInterval ?? DEFAULT_POLL_INTERVAL_MS,
  };
}

function checkWaitOptions(options: OperationWaitOptions, where: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError('INVALID_OPTIONS', `${where}(id, options): options must be an object`);
  }
  if (options.timeoutMs !== undefined) assertInputTimeout(options.timeoutMs, `${where}: "timeoutMs"`);
  if (options.pollInterval !== undefined)
    assertInputTimeout(options.pollInterval, `${where}: "pollInterval"`);
}

function viewOf(record: OperationRecord, session: AuthSessionInfo | undefined): AuthOperation {
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    sessionId: record.sessionId,
    auth: record.auth,
    ...(record.request === undefined
      ? {}
      : {
          request: {
            id: record.request.id,
            kind: record.request.kind,
            message: record.request.message,
            ...(record.request.choices === undefined ? {} : { choices: [...record.request.choices] }),
          },
        }),
    ...(session === undefined ? {} : { session }),
    ...(record.error === undefined
      ? {}
      : { error: { code: record.error.code as AuthSessionErrorCode, message: record.error.message } }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/**
 * Holds the process open while something awaits an operation: the manager's clock unrefs its timers (an
 * idle manager never keeps a process alive), but a script awaiting `result()` must not exit half-way.
 */
function keepAlive(): () => void {
  const handle = setInterval(() => {}, 60 * 60_000);
  return () => clearInterval(handle);
}

function notFound(id: string): AuthSessionError {
  return new AuthSessionError(
    'OPERATION_NOT_FOUND',
    `No operation with id "${typeof id === 'string' ? id.slice(0, 128) : String(id)}" (finished operations are kept for a day)`,
  );
}

function canceledError(id: string, sessionId: string): AuthSessionError {
  return new AuthSessionError('ABORTED', `Operation "${id}" was canceled`, { sessionId });
}

function gaveUp(id: string, timeoutMs: number): AuthSessionError {
  return new AuthSessionError(
    'ABORTED',
    `Stopped waiting for operation "${id}" after ${timeoutMs} ms; the operation goes on (wait again, or cancel it)`,
  );
}
