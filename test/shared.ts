/**
 * Helpers every kind of test uses (unit, end-to-end, integration): what a promise rejects with, and a
 * promise resolved from outside.
 */
import { expect } from 'vitest';
import { AuthSessionError } from '../src/errors.js';

/** The error code a promise rejects with (`undefined` when it resolves). */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err instanceof AuthSessionError ? err.code : `not an AuthSessionError: ${String(err)}`;
  }
}

/** The AuthSessionError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<AuthSessionError> {
  const err = await promise.then(
    () => new Error('expected a rejection, the promise resolved'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthSessionError);
  return err as AuthSessionError;
}

/** {@link rejection}, with its code checked. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<AuthSessionError> {
  const err = await rejection(promise);
  expect(err.code).toBe(code);
  return err;
}

export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

/** A promise and the function that resolves it. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
