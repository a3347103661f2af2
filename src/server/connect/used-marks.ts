import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AuthSessionError } from '../../errors.js';
import type { SessionStore } from '../../store/session-store.js';

/**
 * Where used marks live among the store's meta values: `connect-used/<nonce>` (so `meta/connect-used/<nonce>`
 * for the adapter).
 */
export const USED_MARK_PREFIX = 'connect-used/';

const markSchema = z
  .object({
    v: z.literal(1),
    /** The console instance that runs the visit (a random id per `createConnect`, not a secret). */
    by: z.string().min(1).max(64),
    /** SHA-256 (base64url) of the visit cookie: tells the browser that used the link, never lets one act as it. */
    visit: z.string().min(1).max(64),
    /** When the link was used (clock milliseconds). */
    at: z.number(),
    /** When the mark may go: the link's expiry plus the longest visit (also the mark's TTL in the store). */
    until: z.number(),
  })
  .strict();

/** A link's used mark: who used it, from which process. */
export type UsedMark = z.infer<typeof markSchema>;

/** What a lookup found: no mark, a mark, or a value that is not one (the link counts as used). */
export type MarkLookup = UsedMark | 'foreign' | undefined;

/**
 * The digest of a visit cookie as the mark keeps it: the store holds no cookie a reader could replay.
 *
 * @example
 * ```ts
 * sameSecret(visitDigest(getCookie(c, 'connect_visit')), mark.visit);
 * ```
 */
export function visitDigest(cookie: string): string {
  return createHash('sha256').update(cookie).digest('base64url');
}

/**
 * Single use of connect links across every process sharing the manager's store: a link is used by whoever
 * creates its mark first (the store's compare-and-set from "absent", through `SessionStore.claimMeta`), so
 * two browsers racing on two processes get exactly one success. The mark names the browser (a digest of its
 * visit cookie) and the process running the visit, and goes from the store with its TTL once the link has
 * expired and its longest visit is over (an expired link is refused by its expiry alone).
 *
 * @example
 * ```ts
 * const marks = new UsedMarks(store);
 * if (!(await marks.claim(nonce, mark))) return forbidden('used');
 * ```
 */
export class UsedMarks {
  readonly #store: Pick<SessionStore, 'getMeta' | 'claimMeta'>;

  constructor(store: Pick<SessionStore, 'getMeta' | 'claimMeta'>) {
    this.#store = store;
  }

  /**
   * Creates the mark of `nonce` if there is none; true when this call made it (the link is this caller's),
   * false when a mark was there (used already, here or elsewhere). Kept until `mark.until` (`now` tells how
   * long that is from now). Store failures throw `STORAGE_UNAVAILABLE`: the link is then not used.
   */
  claim(nonce: string, mark: UsedMark, now: number): Promise<boolean> {
    return this.#store.claimMeta(USED_MARK_PREFIX + nonce, mark, Math.max(1, mark.until - now));
  }

  /** The mark of `nonce`; anything stored there that is not a mark is `'foreign'` (the link counts as used). */
  async read(nonce: string): Promise<MarkLookup> {
    let value: unknown;
    try {
      value = await this.#store.getMeta(USED_MARK_PREFIX + nonce);
    } catch (err) {
      if (err instanceof AuthSessionError && err.code === 'CORRUPT_RECORD') return 'foreign';
      throw err;
    }
    if (value === undefined) return undefined;
    const parsed = markSchema.safeParse(value);
    return parsed.success ? parsed.data : 'foreign';
  }
}
