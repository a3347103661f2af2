import { randomUUID } from 'node:crypto';
import { abortError, raceAbort } from '../browser/slots.js';
import type { AuthDefinition } from '../define.js';
import { AuthSessionError, type AuthSessionErrorCode } from '../errors.js';
import type { LoginExtras } from '../lifecycle/engine.js';
import { assertValidAnswer, resolveInputTimeout } from '../lifecycle/input.js';
import { delay } from '../server-calls.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import { assertSessionId, parseCredentials } from '../session-options.js';
import { keepAlive } from './keep-alive.js';
import type { OperationsDeps } from './operation-deps.js';
import { canceledError, gaveUp, notFound } from './operation-errors.js';
import {
  checkStartOptions,
  checkWaitOptions,
  DEFAULT_CANCEL_TIMEOUT_MS,
  DEFAULT_OPERATION_WAIT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_RESULT_TIMEOUT_MS,
  type OperationViewOptions,
  type OperationWaitOptions,
  type ResumeOptions,
  type StartCreateOptions,
  type StartUpdateOptions,
} from './operation-options.js';
import { OperationRun } from './operation-run.js';
import {
  ANSWER_FIELD,
  isFinalStatus,
  isOperationId,
  notifyOperation,
  OPERATION_TTL_MS,
  type OperationRecord,
  OperationStore,
  onOperationNotice,
} from './operation-store.js';
import { type AuthOperation, viewOf } from './operation-view.js';

export type { OperationsDeps } from './operation-deps.js';
export {
  DEFAULT_CANCEL_TIMEOUT_MS,
  DEFAULT_OPERATION_WAIT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_RESULT_TIMEOUT_MS,
  type OperationStartOptions,
  type OperationViewOptions,
  type OperationWaitOptions,
  type ResumeOptions,
  type StartCreateOptions,
  type StartUpdateOptions,
} from './operation-options.js';
export type { AuthOperation } from './operation-view.js';

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
