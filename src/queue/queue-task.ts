import { AuthSessionError } from '../errors.js';
import type { RunOptions, RunTask } from '../lifecycle/engine.js';

/**
 * One unfinished task of a session queue, as `queue.tasks()` lists it.
 *
 * @example
 * ```ts
 * for (const t of queue.tasks()) console.log(t.id, t.state, t.addedAt, t.runs);
 * ```
 */
export interface SessionTaskInfo {
  readonly id: string;
  /** `running` while `manager.run` works on it; `waiting` otherwise (also after it came back from an expiry). */
  readonly state: 'waiting' | 'running';
  /** When it was added (ISO 8601). */
  readonly addedAt: string;
  /**
   * How many times the task function was called. A task that came back because its session expired has
   * `runs: 0` when it never started (the check failed first), `1` when it started and found itself logged
   * out (see `AuthSessionInvalidError`).
   */
  readonly runs: number;
}

/** An unfinished task of a queue, as the queue keeps it. */
export interface Entry {
  readonly id: string;
  readonly seq: number;
  readonly task: RunTask<unknown>;
  readonly runOptions: RunOptions;
  readonly addedAt: number;
  state: 'waiting' | 'running';
  runs: number;
  /** Aborts the attempt in progress. */
  attempt: AbortController | undefined;
  settled: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  detach: () => void;
}

/** What `queue.tasks()` shows of a task. */
export function taskInfo(entry: Entry): SessionTaskInfo {
  return {
    id: entry.id,
    state: entry.state,
    addedAt: new Date(entry.addedAt).toISOString(),
    runs: entry.runs,
  };
}

/**
 * Why the id of a task being added is refused (`INVALID_OPTIONS`): not a string of 1–200 characters, or
 * `taken` by an unfinished task of the queue; undefined when it is fine.
 */
export function taskIdError(id: unknown, taken: boolean, sessionId: string): AuthSessionError | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    return new AuthSessionError('INVALID_OPTIONS', 'queue.add: "id" must be a string of 1–200 characters');
  }
  if (taken) {
    return new AuthSessionError(
      'INVALID_OPTIONS',
      `queue.add: a task with id "${id}" is in the queue already`,
      {
        sessionId,
      },
    );
  }
  return undefined;
}
