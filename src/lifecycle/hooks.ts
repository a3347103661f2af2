import pRetry from 'p-retry';
import { abortError } from '../browser/slots.js';
import type { Clock, TimerHandle } from '../clock.js';
import { MAX_DURATION_MS } from '../duration.js';
import { AuthSessionError, type AuthSessionErrorCode } from '../errors.js';

/**
 * The reason a hook's signal gives once the hook has returned (work it left running should stop). One shared
 * instance: an error's stack costs more than most checks on a warm context, and nothing here needs its own.
 */
const HOOK_ENDED = Object.freeze(new AuthSessionError('ABORTED', 'The hook has ended'));

/** Options of {@link runBounded}. */
export interface BoundedOptions {
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** The caller's signal: aborting it aborts the hook. */
  readonly signal?: AbortSignal | undefined;
  /** Name in the timeout message, e.g. `check hook of "crm"`. */
  readonly what: string;
  readonly sessionId?: string | undefined;
}

/**
 * Lets a hook stop its own timeout clock while it waits for something that is not its work (an answer to
 * `requestInput`): the time paused never counts against the hook's timeout.
 */
export interface HookTimer {
  /** Stops the timeout clock until the returned function is called (idempotent; pauses nest). */
  pause(): () => void;
}

/**
 * Runs `fn` with its own AbortSignal, bounded by `timeoutMs` of the injected clock. On timeout the signal
 * is aborted with `HOOK_TIMEOUT` and the call rejects at once, even if `fn` ignores its signal. `fn` also
 * gets a {@link HookTimer} to pause the timeout while it waits for input.
 */
export async function runBounded<T>(
  fn: (signal: AbortSignal, timer: HookTimer) => Promise<T> | T,
  options: BoundedOptions,
): Promise<T> {
  const { clock, timeoutMs, signal: parent } = options;
  if (parent?.aborted) throw abortError(parent);
  const controller = new AbortController();
  let rejectRace: (err: unknown) => void = () => {};
  const race = new Promise<never>((_, reject) => {
    rejectRace = reject;
  });
  const abort = (err: unknown) => {
    if (!controller.signal.aborted) controller.abort(err);
    rejectRace(err);
  };
  const onParentAbort = () => abort(abortError(parent));
  parent?.addEventListener('abort', onParentAbort, { once: true });
  const onTimeout = () =>
    abort(
      new AuthSessionError('HOOK_TIMEOUT', `The ${options.what} did not finish within ${timeoutMs} ms`, {
        sessionId: options.sessionId,
      }),
    );
  let deadline = clock.now() + timeoutMs;
  let timer: TimerHandle | undefined = clock.setTimeout(onTimeout, timeoutMs);
  let pauses = 0;
  let remaining = timeoutMs;
  let finished = false;
  const hookTimer: HookTimer = {
    pause() {
      if (pauses++ === 0 && timer !== undefined) {
        clock.clearTimeout(timer);
        timer = undefined;
        remaining = Math.max(0, deadline - clock.now());
      }
      let resumed = false;
      return () => {
        if (resumed) return;
        resumed = true;
        if (--pauses > 0 || finished || controller.signal.aborted) return;
        deadline = clock.now() + remaining;
        timer = clock.setTimeout(onTimeout, remaining);
      };
    },
  };
  try {
    return await Promise.race([Promise.resolve().then(() => fn(controller.signal, hookTimer)), race]);
  } finally {
    finished = true;
    if (timer !== undefined) clock.clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
    if (!controller.signal.aborted) controller.abort(HOOK_ENDED);
  }
}

/** Options of {@link withAttempts}. */
export interface AttemptOptions {
  readonly attempts: number;
  readonly retryDelay: number;
  readonly signal?: AbortSignal | undefined;
  /** The session the attempts are for: carried by the error a failure is wrapped in. */
  readonly sessionId?: string | undefined;
}

/**
 * Runs `fn` up to `attempts` times with exponential backoff (p-retry). Every failure is normalised to an
 * AuthSessionError first (`wrapCode` for anything else) so a non-Error throw is a failed attempt too.
 */
export async function withAttempts<T>(
  fn: (attempt: number) => Promise<T>,
  wrapCode: AuthSessionErrorCode,
  wrapMessage: string,
  options: AttemptOptions,
): Promise<T> {
  try {
    return await retry(fn, wrapCode, wrapMessage, options);
  } catch (err) {
    // Aborted while waiting between attempts, p-retry rejects with the signal's bare reason: that is an
    // abort (ABORTED), never a failed check or login.
    if (options.signal?.aborted && !(err instanceof AuthSessionError)) throw abortError(options.signal);
    throw err;
  }
}

function retry<T>(
  fn: (attempt: number) => Promise<T>,
  wrapCode: AuthSessionErrorCode,
  wrapMessage: string,
  options: AttemptOptions,
): Promise<T> {
  return pRetry(
    async (attempt) => {
      try {
        return await fn(attempt);
      } catch (err) {
        throw normalise(err, wrapCode, wrapMessage, options.sessionId);
      }
    },
    {
      retries: options.attempts - 1,
      minTimeout: options.retryDelay,
      maxTimeout: Math.min(MAX_DURATION_MS, Math.max(options.retryDelay, options.retryDelay * 8)),
      factor: 2,
      randomize: false,
      signal: options.signal,
      unref: false,
      shouldRetry: ({ error }) => !(error instanceof AuthSessionError && isAlwaysFinal(error)),
    },
  );
}

function isAlwaysFinal(err: AuthSessionError): boolean {
  return (
    err.code === 'ABORTED' ||
    err.code === 'CLOSED' ||
    err.code === 'TARGET_UNREACHABLE' ||
    err.code === 'PROXY_ERROR' ||
    err.code === 'STORAGE_UNAVAILABLE' ||
    err.code === 'BROWSER_UNAVAILABLE' ||
    err.code === 'INPUT_TIMEOUT' ||
    err.code === 'INPUT_REQUIRED' ||
    err.code === 'INVALID_HOOK_RESULT'
  );
}

/** Keeps AuthSessionErrors as they are; wraps anything else (including non-Errors) without its message text. */
export function normalise(
  err: unknown,
  code: AuthSessionErrorCode,
  message: string,
  sessionId?: string,
): AuthSessionError {
  if (err instanceof AuthSessionError) return err;
  return new AuthSessionError(code, message, {
    cause: err,
    ...(sessionId === undefined ? {} : { sessionId }),
  });
}
