import { EventEmitter } from 'node:events';
import { AuthSessionError, type AuthSessionErrorCode } from '../errors.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { SessionState } from '../session/states.js';

/** An error as events and history show it: code and message only (messages never carry secrets). */
export interface ErrorSummary {
  readonly code: AuthSessionErrorCode | 'TASK_ERROR';
  readonly message: string;
}

/** Summarises any error for events. A task's own error is shown by its class name only: it is user data. */
export function summariseError(err: unknown): ErrorSummary {
  if (err instanceof AuthSessionError) return { code: err.code, message: err.message };
  const name = err instanceof Error ? err.name : typeof err;
  return { code: 'TASK_ERROR', message: `The task threw ${name}` };
}

/** What made or changed a session, in `created` and `updated` events. */
export type SessionChangeVia = 'create' | 'update' | 'record' | 'import';

/** Payloads of every event of `AuthSessionManager`, by name. */
export interface AuthSessionEvents {
  /** A session was created and is active. */
  created: {
    readonly session: AuthSessionInfo;
    readonly durationMs: number;
    /** How: `create`, `record` or `import` (history shows it; absent → `create`, or `record` for recorder auths). */
    readonly via?: SessionChangeVia;
  };
  /** A session's creation failed. */
  failed: { readonly session: AuthSessionInfo; readonly error: ErrorSummary; readonly durationMs: number };
  /** A check ran (`ok` tells the outcome). */
  checked: {
    readonly session: AuthSessionInfo;
    readonly ok: boolean;
    readonly durationMs: number;
    readonly error?: ErrorSummary;
  };
  /**
   * A session was logged in again with its stored credentials: after a failed check, or ahead of its lapse
   * (`ahead: true`, health checks).
   */
  refreshed: { readonly session: AuthSessionInfo; readonly durationMs: number; readonly ahead?: boolean };
  /** A session expired: its login no longer holds and could not be renewed. */
  expired: { readonly session: AuthSessionInfo; readonly reason: ErrorSummary };
  /** A session was updated (credentials, labels, proxy, device, new recording or imported state). */
  updated: {
    readonly session: AuthSessionInfo;
    /** How long a new login took, when the update logged in again. */
    readonly durationMs?: number;
    /** How: `update`, `record` (a new recording) or `import` (absent → `update`). */
    readonly via?: SessionChangeVia;
  };
  /** A session was deleted. */
  deleted: { readonly session: AuthSessionInfo };
  /** A session changed state. */
  transition: { readonly session: AuthSessionInfo; readonly from: SessionState; readonly to: SessionState };
  /** A task is about to run. */
  'run:start': { readonly session: AuthSessionInfo; readonly runId: string };
  /** A task ended. */
  'run:end': {
    readonly session: AuthSessionInfo;
    readonly runId: string;
    readonly ok: boolean;
    readonly durationMs: number;
    readonly error?: ErrorSummary;
  };
  /**
   * A login asks for input (a one-time code, a choice…): answer it with `manager.resume(operationId, …)`
   * or through the call's `onInput`. Kind and message only, never an answer.
   */
  'input:requested': {
    readonly session: AuthSessionInfo;
    readonly request: {
      readonly id: string;
      readonly kind: string;
      readonly message: string;
      readonly choices?: readonly string[];
    };
    readonly operationId?: string;
  };
  /** The input a login asked for was given (the answer itself never appears in an event). */
  'input:answered': {
    readonly session: AuthSessionInfo;
    readonly requestId: string;
    readonly kind: string;
    readonly operationId?: string;
  };
  /**
   * A session's queue (`manager.queue`) paused: its session expired (`reason: 'expired'`, work waits for
   * the session to be active again) or `queue.pause()` was called (`'manual'`). `waiting` counts the tasks not
   * finished yet (waiting, plus running ones), e.g. "12 tasks wait for you to log in again".
   */
  'queue:paused': {
    readonly sessionId: string;
    /** The session, when the pause came with it (on expiry). */
    readonly session?: AuthSessionInfo;
    readonly waiting: number;
    readonly reason: 'expired' | 'manual';
  };
  /** A paused session queue goes on: its session is active again (`'active'`) or `queue.start()` was called. */
  'queue:resumed': {
    readonly sessionId: string;
    readonly session?: AuthSessionInfo;
    readonly waiting: number;
    readonly reason: 'active' | 'manual';
  };
  /**
   * A recorder session's login lapses within the health checks' `refreshAhead` (once per lapse): a person
   * must record it again before `expiresAt` (ISO 8601).
   */
  expiring: { readonly session: AuthSessionInfo; readonly expiresAt: string };
  /** A round of health checks ended in this process (`manager.startHealthChecks`). */
  'health:round': {
    /** Sessions validated (their check ran) by this process in this round. */
    readonly checked: number;
    /** Sessions logged in again: ahead of their lapse, or after a failed check. */
    readonly refreshed: number;
    /** Sessions that went `expired`. */
    readonly expired: number;
    /** Sessions left alone: taken by another process this round, checked recently, or unreachable. */
    readonly skipped: number;
    readonly durationMs: number;
  };
  /** Something went wrong that did not fail the call (e.g. saving the state after a successful task). */
  warning: { readonly session?: AuthSessionInfo; readonly error: ErrorSummary };
}

/** Name of an event of {@link AuthSessionEvents}. */
export type AuthSessionEventName = keyof AuthSessionEvents;

/** A listener of event `E`. */
export type AuthSessionListener<E extends AuthSessionEventName> = (payload: AuthSessionEvents[E]) => void;

/**
 * The manager's typed event bus. A listener that throws never breaks the lifecycle: the error is
 * swallowed after being reported on `process.emitWarning`.
 */
export class EventBus {
  readonly #emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): void {
    this.#emitter.on(event, listener as (payload: unknown) => void);
  }

  off<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): void {
    this.#emitter.off(event, listener as (payload: unknown) => void);
  }

  once<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): void {
    this.#emitter.once(event, listener as (payload: unknown) => void);
  }

  emit<E extends AuthSessionEventName>(event: E, payload: AuthSessionEvents[E]): void {
    for (const listener of this.#emitter.listeners(event)) {
      try {
        (listener as (p: unknown) => void)(payload);
      } catch (err) {
        process.emitWarning(
          `An auth-sessions "${event}" listener threw: ${err instanceof Error ? err.name : typeof err}`,
        );
      }
    }
  }

  listenerCount(event: AuthSessionEventName): number {
    return this.#emitter.listenerCount(event);
  }

  removeAll(): void {
    this.#emitter.removeAllListeners();
  }
}
