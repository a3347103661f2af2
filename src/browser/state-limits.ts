import { AuthSessionError } from '../errors.js';
import { isForbiddenKey } from '../input-limits.js';

/**
 * Structural limits of a browser state given to `importState` (object or JSON text). Far above what a real
 * browser holds, low enough that a hostile or broken file cannot exhaust the stack or the heap.
 */
export const STATE_LIMITS = {
  /** Nesting of objects and arrays (an IndexedDB value is the deepest part of a real state). */
  maxDepth: 64,
  /** Approximate size: characters of JSON text, or characters of strings and keys of an object. */
  maxBytes: 32 * 1024 * 1024,
  /** Cookies, all domains together. */
  maxCookies: 10_000,
  /** Origins with localStorage or IndexedDB, and origins with sessionStorage. */
  maxOrigins: 2_000,
} as const;

function tooLarge(what: string): AuthSessionError {
  return new AuthSessionError('INVALID_OPTIONS', `The browser state is too large: ${what}`);
}

/**
 * Throws `INVALID_OPTIONS` when a browser state (JSON text, or the object form) goes beyond
 * {@link STATE_LIMITS}, or when the object form has a property named `__proto__`, `constructor` or
 * `prototype`. Iterative (a 10,000-deep value cannot overflow the stack; a cycle is too deep, and shared
 * objects count once per reference, so the walk itself is bounded by the size); the message names the limit,
 * never a value of the state, which is secret.
 *
 * @example
 * ```ts
 * assertStateLimits(input); // before parsing or validating it
 * ```
 */
export function assertStateLimits(input: unknown): void {
  const { maxDepth, maxBytes, maxCookies, maxOrigins } = STATE_LIMITS;
  if (typeof input === 'string') {
    if (input.length > maxBytes) throw tooLarge(`${input.length} characters (at most ${maxBytes})`);
    // Before JSON.parse, whose reviver recurses: the nesting of brackets outside strings.
    if (jsonDepth(input) > maxDepth) throw tooLarge(`nested deeper than ${maxDepth} levels`);
    return;
  }
  if (typeof input !== 'object' || input === null) return;
  const top = input as { cookies?: unknown; origins?: unknown; sessionStorage?: unknown };
  if (Array.isArray(top.cookies) && top.cookies.length > maxCookies) {
    throw tooLarge(`${top.cookies.length} cookies (at most ${maxCookies})`);
  }
  for (const key of ['origins', 'sessionStorage'] as const) {
    const list = top[key];
    if (Array.isArray(list) && list.length > maxOrigins) {
      throw tooLarge(`${list.length} entries in "${key}" (at most ${maxOrigins})`);
    }
  }
  let bytes = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value: input, depth: 0 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof value === 'string') bytes += value.length;
    else bytes += 8;
    if (bytes > maxBytes) throw tooLarge(`more than ${maxBytes} characters of data`);
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) throw tooLarge(`nested deeper than ${maxDepth} levels`);
    for (const key of Object.keys(value)) {
      if (isForbiddenKey(key)) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `The browser state has a property named "${key}", which is refused`,
        );
      }
      bytes += key.length;
      stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1 });
    }
  }
}

/** The deepest nesting of `[`/`{` in JSON text (strings skipped), in one pass. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
