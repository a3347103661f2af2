import { validateAuthOptions } from '../define.js';
import { AuthSessionError } from '../errors.js';
import { assertInputTimeout } from '../lifecycle/input.js';
import type { CreateSessionOptions, UpdateSessionOptions } from '../manager.js';

/** How often a process looks in the store for news of an operation run elsewhere: 500 ms. */
export const DEFAULT_POLL_INTERVAL_MS = 500;

/** How long `result` waits by default before giving up (the operation goes on): 30 minutes. */
export const DEFAULT_RESULT_TIMEOUT_MS = 30 * 60_000;

/** How long `cancel` waits by default for the login to stop and clean up: 30 seconds. */
export const DEFAULT_CANCEL_TIMEOUT_MS = 30_000;

/** How long `operation(id, { wait: true })` waits by default: 60 seconds. */
export const DEFAULT_OPERATION_WAIT_MS = 60_000;

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

/** Checks the options of `startCreate` / `startUpdate` (`where`); returns the operation's own. */
export function checkStartOptions(
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

/** Checks the options of a wait on an operation (`where`: `result`, `cancel`, `operation`). */
export function checkWaitOptions(options: OperationWaitOptions, where: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError('INVALID_OPTIONS', `${where}(id, options): options must be an object`);
  }
  if (options.timeoutMs !== undefined) assertInputTimeout(options.timeoutMs, `${where}: "timeoutMs"`);
  if (options.pollInterval !== undefined)
    assertInputTimeout(options.pollInterval, `${where}: "pollInterval"`);
}
