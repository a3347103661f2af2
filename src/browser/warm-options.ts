import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';

/**
 * Options of the warm-context pool (the manager's `warmContexts` option).
 *
 * A warm context is a browser context kept open, logged in, for one active session between runs. A run
 * borrows it and gets a page in it (by default the page an earlier run left, cleaned), so it skips the cost
 * of a fresh context (about 0.5 s on 2 cores), of restoring the state and of starting a renderer. Concurrent
 * runs of one session share the context, one page each. On by default; `warmContexts: false` gives every run
 * a fresh context.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, warmContexts: { max: 4, idleMs: 60_000, pagesPerContext: 4 } });
 * ```
 */
export interface WarmContextOptions {
  /**
   * Warm contexts kept open at most (one per session, least recently used closed first). Keep it below the
   * browser provider's `maxContexts` so logins and other sessions still find a slot; an idle warm context is
   * closed anyway as soon as anyone waits for a slot.
   * @default 4
   */
  readonly max?: number;
  /**
   * Milliseconds a warm context stays open without a run before it is closed.
   * @default 30000
   */
  readonly idleMs?: number;
  /**
   * Runs of one session that share its warm context at once (one page each); further runs of that session
   * wait for a page, abortably.
   * @default 4
   */
  readonly pagesPerContext?: number;
  /**
   * Keep a run's page open for the next run of the session instead of closing it (at most `pagesPerContext`
   * per context). Opening a page is most of what a warm run costs (a renderer to start), so this is the
   * largest saving after the context itself. The page is cleaned first: listeners and routes the task added
   * are removed, pages it opened are closed, its downloads cancelled, and it is navigated to `about:blank`
   * (navigate first, as tasks usually do). A page on which the task changed something that cannot be undone
   * cheaply (`addInitScript`, `exposeFunction`, extra headers, viewport, emulation…) is closed instead, and a
   * context the task changed that way (`context.addInitScript`, `context.route`, permissions, geolocation,
   * offline, …) is replaced by a fresh one for the next run.
   * @default true
   */
  readonly reusePages?: boolean;
}

/** What the manager's `warmContexts` option accepts: `true` for the defaults, a number for `max`, or options. */
export type WarmContextsInput = boolean | number | WarmContextOptions;

/** Defaults of {@link WarmContextOptions}. */
export const DEFAULT_WARM_CONTEXTS: Required<WarmContextOptions> = {
  max: 4,
  idleMs: 30_000,
  pagesPerContext: 4,
  reusePages: true,
};

/**
 * Validates the `warmContexts` option. `undefined` and `true` take the defaults (the pool is on by default);
 * `false` and `0` turn it off (undefined result).
 *
 * @throws AuthSessionError `INVALID_OPTIONS` naming the bad field.
 * @example
 * ```ts
 * resolveWarmContexts(2); // { max: 2, idleMs: 30000, pagesPerContext: 4, reusePages: true }
 * ```
 */
export function resolveWarmContexts(
  input: WarmContextsInput | undefined,
): Required<WarmContextOptions> | undefined {
  if (input === false || input === 0) return undefined;
  const given: WarmContextOptions =
    input === undefined || input === true
      ? {}
      : typeof input === 'number'
        ? { max: input }
        : (input as WarmContextOptions);
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw invalid('"warmContexts" must be true, a number of contexts or { max, idleMs, pagesPerContext }');
  }
  const resolved = { ...DEFAULT_WARM_CONTEXTS, ...stripUndefined(given) };
  for (const key of ['max', 'pagesPerContext'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw invalid(`"warmContexts.${key}" must be a positive integer, got ${String(resolved[key])}`);
    }
  }
  durationOption(resolved.idleMs, '"warmContexts.idleMs"');
  if (typeof resolved.reusePages !== 'boolean') {
    throw invalid(`"warmContexts.reusePages" must be a boolean, got ${String(resolved.reusePages)}`);
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function invalid(message: string): AuthSessionError {
  return new AuthSessionError('INVALID_OPTIONS', message);
}
