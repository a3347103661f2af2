/**
 * The part of a test runner the conformance suites use: vitest's and Jest's `describe`, `it` and `expect`
 * fit as they are (`import { describe, it, expect } from 'vitest'`).
 *
 * @example
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * const runner: ConformanceRunner = { describe, it, expect };
 * ```
 */
export interface ConformanceRunner {
  /** Groups cases. */
  readonly describe: (name: string, fn: () => void) => void;
  /** Registers one case; `timeout` in milliseconds. */
  readonly it: (name: string, fn: () => Promise<void>, timeout?: number) => void;
  /** Assertions: only `toBe` and `toEqual` are used. */
  readonly expect: (actual: unknown) => {
    toBe(expected: unknown): void;
    toEqual(expected: unknown): void;
  };
}

/**
 * Time the suites can move, when the implementation under test takes a clock (such as `FakeClock` from
 * `auth-sessions/testing`). Without one, cases that need time to pass wait for real (shortly).
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * storeConformance({ describe, it, expect, clock, makeStore: () => ({ store: memoryAdapter(clock) }) });
 * ```
 */
export interface ConformanceClock {
  /** Moves time forward by `ms`, running what falls due. */
  advance(ms: number): unknown;
}

/** Lets pending callbacks and promise reactions run (no time passes). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits until `check` holds, polling, for at most `timeoutMs` of real time; false if it never did. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** The `code` of what a promise rejected with (undefined when it resolved). */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : `thrown: ${String(err)}`;
  }
}

/** A key no earlier case used (suites share one backend across cases). */
export function uniqueKey(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2, 10)}`;
}
