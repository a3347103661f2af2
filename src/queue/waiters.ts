/** Promises that resolve once a condition on a queue holds (`onIdle()`, `onEmpty()`, `onSizeLessThan()`). */
export class Waiters {
  readonly #waiters = new Set<{ readonly test: () => boolean; readonly resolve: () => void }>();

  /** Resolves once `test()` holds: at once when it does already, else at a later {@link Waiters.notify}. */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ test, resolve }));
  }

  /** Resolves the waiters whose condition holds now. */
  notify(): void {
    for (const waiter of this.#waiters) {
      if (waiter.test()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}
