import { AuthSessionError } from './errors.js';

/** Labels per session, at most. */
export const MAX_LABELS = 64;
/** Characters of a label name, at most. */
export const MAX_LABEL_KEY_LENGTH = 128;
/** Characters of a label value, at most. */
export const MAX_LABEL_VALUE_LENGTH = 1024;

/** Property names that reach or replace an object's prototype when assigned: refused in every input. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** True for `__proto__`, `constructor` and `prototype`. */
export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/**
 * A value for an error message that never echoes much of what the caller gave: strings are quoted and cut to
 * `max` characters (with the full length said), control characters shown as `\u….`; anything else is named by
 * its type.
 *
 * @example
 * ```ts
 * quoteShort('x'.repeat(10_000)); // "xxxxxxxxxxxxxxxxxxxxxxxx…" (10000 characters)
 * ```
 */
export function quoteShort(value: unknown, max = 24): string {
  if (typeof value !== 'string') {
    if (value === null) return 'null';
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
  }
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  const safe = JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return value.length > max ? `${safe} (${value.length} characters)` : safe;
}

/**
 * Throws `INVALID_OPTIONS` when `value` (an object or array, followed down to `maxDepth` levels) has an own
 * property named `__proto__`, `constructor` or `prototype`: such a name is never data the library needs, and
 * copying it with ordinary assignment would reach a prototype.
 *
 * @example
 * ```ts
 * assertOrdinaryKeys(JSON.parse(text), 'importState: the state');
 * ```
 */
export function assertOrdinaryKeys(value: unknown, where: string, maxDepth = 64): void {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (typeof v !== 'object' || v === null || seen.has(v) || depth > maxDepth) continue;
    seen.add(v);
    for (const key of Object.keys(v)) {
      if (isForbiddenKey(key)) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `${where} has a property named "${key}", which is refused`,
        );
      }
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1 });
    }
  }
}
