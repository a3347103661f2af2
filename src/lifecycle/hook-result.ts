import { AuthSessionError } from '../errors.js';

/**
 * What a hook returned, for a message: its type, and the value only when it is short and cannot be a secret
 * (a number, a bigint); strings are never quoted.
 */
export function describeResult(value: unknown): string {
  if (value === undefined) return 'undefined (a missing `return`?)';
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'bigint') return `a ${typeof value} (${String(value)})`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object')
    return `an object (${Object.getPrototypeOf(value)?.constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

/**
 * `INVALID_HOOK_RESULT` for a `check` hook that returned something other than a boolean: a programming error
 * (e.g. `return locator.count()`), which says nothing about the login, so it neither refreshes nor expires
 * the session.
 *
 * @example
 * ```ts
 * if (typeof verdict !== 'boolean') throw invalidCheckResult('crm', verdict, record.id);
 * ```
 */
export function invalidCheckResult(authName: string, value: unknown, sessionId: string): AuthSessionError {
  return new AuthSessionError(
    'INVALID_HOOK_RESULT',
    `The check hook of "${authName}" returned ${describeResult(value)}; it must return true (logged in) or ` +
      'false (logged out). The session was left as it was.',
    { sessionId },
  );
}
