import type Keyv from 'keyv';
import { abortError } from '../browser/slots.js';
import { AuthSessionError } from '../errors.js';
import type { InputHandler } from '../lifecycle/engine.js';
import type { PendingInputRequest } from '../lifecycle/input.js';
import { summariseError } from '../monitor/events.js';
import type { AuthSessionInfo } from '../session/info.js';
import { keepAlive } from './keep-alive.js';
import type { OperationsDeps } from './operation-deps.js';
import {
  ANSWER_FIELD,
  isFinalStatus,
  notifyOperation,
  type OperationRecord,
  type OperationStore,
  onOperationNotice,
} from './operation-store.js';

/**
 * One operation running in this process: the login, its input handler (which publishes the request and
 * waits for the answer to appear in the store) and a poll loop that watches for answers and cancels.
 */
export class OperationRun {
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
