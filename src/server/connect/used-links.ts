/** Something a visit runs (a login with credentials, a live recording) that must end with the visit. */
export interface VisitFlow {
  /** True once nothing runs any more (connected, failed for good, canceled). */
  readonly finished: boolean;
  /** Stops whatever still runs and releases what it holds. Idempotent. */
  dispose(): Promise<void>;
}

/** The person's use of one link: the browser that used it first, and the login it runs. */
export interface Visit<F extends VisitFlow = VisitFlow> {
  /** Random value of the HttpOnly cookie that binds the visit to the browser that used the link. */
  readonly cookie: string;
  /** When the link was used (clock milliseconds). */
  readonly startedAt: number;
  readonly flow: F;
}

interface Entry {
  readonly linkExpiresAt: number;
  readonly visit: Visit;
}

/**
 * The links used in this process, by nonce, each with its visit (the login it runs). A link is used by its
 * first state-changing request (a prefetcher that only GETs the link does not use it up); from then on only
 * the browser holding the visit's cookie gets past the link, everyone else gets 403.
 *
 * Which links are used is decided by their marks in the manager's store (`UsedMarks`), shared by every
 * process: an entry is made here only once this process created the mark. This list holds what cannot be
 * shared, the visits running here, and answers for them without a store read.
 *
 * @example
 * ```ts
 * if (await marks.claim(nonce, mark, now)) used.claim(nonce, expiresAt, () => ({ cookie, startedAt: now, flow }));
 * ```
 */
export class UsedLinks {
  readonly #entries = new Map<string, Entry>();
  readonly #maxVisitMs: number;

  constructor(maxVisitMs: number) {
    this.#maxVisitMs = maxVisitMs;
  }

  /**
   * Records the visit of a link this process just won (its store mark); `undefined` when one is recorded
   * already (check and record happen in one synchronous step).
   */
  claim(nonce: string, linkExpiresAt: number, visit: () => Visit): Visit | undefined {
    if (this.#entries.has(nonce)) return undefined;
    const made = visit();
    this.#entries.set(nonce, { linkExpiresAt, visit: made });
    return made;
  }

  /** Whether a visit of the link was recorded in this process. */
  has(nonce: string): boolean {
    return this.#entries.has(nonce);
  }

  /** The visit of a used link, while it may still be continued. */
  visit(nonce: string, now: number): Visit | undefined {
    const entry = this.#entries.get(nonce);
    if (!entry || now - entry.visit.startedAt > this.#maxVisitMs) return undefined;
    return entry.visit;
  }

  /**
   * Forgets links that can no longer verify (expired) whose visit is over (finished, or older than the
   * longest visit); their flows are disposed. An expired link is refused by its expiry, so forgetting it is
   * safe.
   */
  prune(now: number): Promise<void>[] {
    const disposing: Promise<void>[] = [];
    for (const [nonce, entry] of this.#entries) {
      const over = entry.visit.flow.finished || now - entry.visit.startedAt > this.#maxVisitMs;
      if (entry.linkExpiresAt <= now && over) {
        this.#entries.delete(nonce);
        disposing.push(entry.visit.flow.dispose());
      }
    }
    return disposing;
  }

  /** Disposes every visit's flow (the connect pages close). */
  async close(): Promise<void> {
    const flows = [...this.#entries.values()].map((e) => e.visit.flow.dispose());
    this.#entries.clear();
    await Promise.allSettled(flows);
  }
}
