import { AuthSessionError } from '../errors.js';

/**
 * Bounds a browser operation: rejects with `BROWSER_UNAVAILABLE` naming `message` when it takes longer than
 * `ms`. The timer never keeps the process alive and is cleared as soon as the operation settles.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AuthSessionError('BROWSER_UNAVAILABLE', `${message} (${ms} ms)`)),
      ms,
    );
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
