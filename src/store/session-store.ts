import type Keyv from 'keyv';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError, isAuthSessionError } from '../errors.js';
import { type RecentLimits, rememberRecent } from '../recent.js';
import type { RecordAuthenticator } from '../session/authenticity.js';
import { parseJsonSafely, type SessionRecord } from '../session/record.js';
import { type ChangeResult, stamped } from './change-result.js';
import type { IndexTerm, StoreAdapter } from './contract.js';
import { corrupt, decodeRecord } from './decode-record.js';
import { checkKeyOnFirstRecord } from './key-check.js';
import { storeAdapterFor } from './registry.js';
import { timedCall } from './timed-call.js';
import { aboveRevision, assertCondition, meetsCondition, type WriteCondition } from './write-condition.js';

export type { ChangeResult, WriteCondition };
export { decodeRecord };

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /**
   * Milliseconds one storage call may take before it counts as failed (`STORAGE_UNAVAILABLE`).
   * @default 10000
   */
  readonly timeoutMs?: number;
  /** Time source for the timeout. @default systemClock */
  readonly clock?: Clock;
  /** Approximate bytes the cache of decoded records may hold. @default 32 MiB */
  readonly cacheBytes?: number;
  /**
   * Signs every record written and checks every record read (see `RecordAuthenticator`); resolved on the
   * first call. Without it records are not authenticated (tests of the storage layer alone).
   */
  readonly authenticator?: () => Promise<RecordAuthenticator>;
}

const SESSION_PREFIX = 'session/';
/** Records kept decoded (see `SessionStore#decoded`). */
const DECODED_CACHE_SIZE = 1000;

/** Conditional writes retried this many times when unrelated writes keep landing in between. */
const MAX_SWAP_ATTEMPTS = 8;

/**
 * Session records over any Keyv store, through the store's {@link StoreAdapter} (see `storeAdapterFor`):
 * every failure or timeout of a call is `STORAGE_UNAVAILABLE` (never "not found"), every record read is
 * validated, and nothing is written over a record that could not be read. The Keyv instance is used as it
 * is: no option set on it, no listener added.
 */
export class SessionStore {
  readonly #keyv: Keyv;
  readonly #store: StoreAdapter;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  /**
   * The last record decoded per id with the exact text it came from: a record read again unchanged (every
   * run reads its record, and a conditional write reads it once more) is not parsed and validated again.
   * Bounded; callers get their own copy.
   */
  readonly #decoded = new Map<string, { readonly raw: string; readonly record: SessionRecord }>();
  /** The last change of each session under way in this process (see {@link SessionStore.change}). */
  readonly #changing = new Map<string, Promise<void>>();
  readonly #authenticatorSource: (() => Promise<RecordAuthenticator>) | undefined;
  #authenticator: RecordAuthenticator | undefined;
  #authenticating: Promise<void> | undefined;
  /** Count and byte bounds of {@link SessionStore.#decoded}: a record is counted as twice its text. */
  readonly #decodedLimits: RecentLimits<{ readonly raw: string }>;

  constructor(keyv: Keyv, options: SessionStoreOptions = {}) {
    if (typeof keyv !== 'object' || keyv === null || typeof (keyv as Keyv).get !== 'function') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        '"store" must be a Keyv instance, e.g. new Keyv() or createRedisStore(url)',
      );
    }
    this.#keyv = keyv;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#decodedLimits = {
      max: DECODED_CACHE_SIZE,
      maxBytes: options.cacheBytes ?? 32 * 1024 * 1024,
      sizeOf: (entry) => entry.raw.length * 2,
    };
    this.#store = storeAdapterFor(keyv, { clock: this.#clock });
    this.#authenticatorSource = options.authenticator;
  }

  /**
   * Resolves the authenticator once (again after a failure). On first use, one stored record is checked
   * too: a store whose records were written with another key fails every call with `KEY_MISMATCH`, before
   * this manager writes anything the other workers cannot open.
   */
  #ready(): Promise<void> {
    if (this.#authenticatorSource === undefined || this.#authenticator !== undefined)
      return Promise.resolve();
    this.#authenticating ??= (async () => {
      const authenticator = await this.#authenticatorSource!();
      if (this.canList) {
        await checkKeyOnFirstRecord(this.#store, SESSION_PREFIX, authenticator, (what, fn) =>
          this.#call(what, fn),
        );
      }
      this.#authenticator = authenticator;
    })().finally(() => {
      this.#authenticating = undefined;
    });
    return this.#authenticating;
  }

  /** A decoded record, checked by the authenticator (when there is one). */
  #checked(record: SessionRecord): SessionRecord {
    this.#authenticator?.verify(record);
    return record;
  }

  /** The record to write, signed (when there is an authenticator). */
  #signed(record: SessionRecord): SessionRecord {
    return this.#authenticator ? this.#authenticator.sign(record) : record;
  }

  /** The Keyv instance underneath. */
  get keyv(): Keyv {
    return this.#keyv;
  }

  /** The storage contract underneath (atomic or the check-then-write fallback). */
  get adapter(): StoreAdapter {
    return this.#store;
  }

  /** The stored text under `key`; an entry that cannot be decoded is the record's `CORRUPT_RECORD`. */
  async #readKey(key: string): Promise<string | undefined> {
    try {
      return await this.#call('read', () => this.#store.read(key));
    } catch (err) {
      if (key.startsWith(SESSION_PREFIX) && isAuthSessionError(err, 'CORRUPT_RECORD')) {
        throw corrupt(key.slice(SESSION_PREFIX.length), err);
      }
      throw err;
    }
  }

  /** Reads a session record; `undefined` only when the store answered that there is none. */
  async read(id: string): Promise<SessionRecord | undefined> {
    await this.#ready();
    const raw = await this.#readKey(SESSION_PREFIX + id);
    if (raw === undefined || raw === null) return undefined;
    return this.#decode(raw, id);
  }

  /** {@link decodeRecord} through the cache of unchanged records; the caller gets its own copy. */
  #decode(raw: unknown, id: string): SessionRecord {
    if (typeof raw !== 'string') return this.#checked(decodeRecord(raw, id));
    return structuredClone(this.#decodeShared(raw, id));
  }

  /** The cached decoded record itself: for reads that only look (write conditions), never handed out. */
  #decodeShared(raw: string, id: string): SessionRecord {
    const hit = this.#decoded.get(id);
    if (hit !== undefined && hit.raw === raw) return hit.record;
    const record = this.#checked(decodeRecord(raw, id));
    rememberRecent(this.#decoded, id, { raw, record }, this.#decodedLimits);
    return record;
  }

  /** Reads a session record or throws `SESSION_NOT_FOUND`. */
  async require(id: string): Promise<SessionRecord> {
    const record = await this.read(id);
    if (!record)
      throw new AuthSessionError('SESSION_NOT_FOUND', `No session with id "${id}"`, { sessionId: id });
    return record;
  }

  /**
   * Writes a record. With a condition, the stored record is read first and the write is refused with
   * `STALE_WRITE` when it no longer matches; the write is a compare-and-set on the record the condition was
   * checked against, so two fenced writers can never both win (with an atomic adapter; the fallback
   * serialises them within this process only).
   * A conditional write never reuses a stored revision number (a write fenced only by `generation` may find
   * that another write took the revision it computed): the record written, and returned, is bumped above it.
   */
  async write(record: SessionRecord, condition?: WriteCondition): Promise<SessionRecord> {
    const key = SESSION_PREFIX + record.id;
    if (condition) {
      // The record this process read last is usually still the stored one (a run reads it, then saves): one
      // swap then both checks and writes, without reading it again.
      const seen = this.#decoded.get(record.id);
      if (seen !== undefined && meetsCondition(seen.record, condition)) {
        const next = aboveRevision(record, seen.record);
        const value = JSON.stringify(next);
        if (await this.#swap(key, seen.raw, value)) return this.#written(next, value);
      }
      // Another write between our read and our swap (a run saving its cookies) makes the swap miss: read
      // again and re-check the condition, a bounded number of times.
      for (let attempt = 1; ; attempt++) {
        const raw = await this.#readKey(key);
        const current = raw === undefined ? undefined : this.#decodeShared(raw, record.id);
        assertCondition(record.id, current, condition);
        const next = aboveRevision(record, current);
        const value = JSON.stringify(next);
        if (await this.#swap(key, raw, value)) return this.#written(next, value);
        if (attempt >= MAX_SWAP_ATTEMPTS) {
          throw new AuthSessionError('STALE_WRITE', `Session "${record.id}" kept changing meanwhile`, {
            sessionId: record.id,
          });
        }
      }
    }
    const value = JSON.stringify(record);
    await this.#call('write', () => this.#store.write(key, value));
    return this.#written(record, value);
  }

  /**
   * The write rule: one change applied to the **latest** record. Reads the stored record, hands it to
   * `apply` (which returns the record to write, `undefined` to write nothing, or throws to refuse), and
   * writes the result only if the stored record is still exactly the one `apply` saw (compare-and-set).
   * When another writer got in between, the record is read again and `apply` runs again on it, up to a
   * bounded number of times. `apply` must therefore be a pure function of the record it is given: it sets
   * only the fields its change owns and leaves every other field as it finds it.
   *
   * The revision is bumped and `updatedAt` stamped here. Returns what was written (or, when `apply` chose to
   * write nothing, the latest record as read) and whether a write happened.
   *
   * With a store that has no atomic compare-and-set (a plain Keyv over an unknown adapter) the check and the
   * write are two calls, serialised per record within this process; see docs/architecture.md.
   */
  change(
    id: string,
    apply: (latest: SessionRecord | undefined) => SessionRecord | undefined,
    now: () => number = () => this.#clock.now(),
  ): Promise<ChangeResult> {
    // Changes of one session from this process go one at a time: they would only make each other's
    // compare-and-set miss. Conflicts then come from other processes alone.
    const previous = this.#changing.get(id);
    const mine = (previous ?? Promise.resolve()).then(
      () => this.#change(id, apply, now),
      () => this.#change(id, apply, now),
    );
    const tail = mine.then(
      () => {},
      () => {},
    );
    this.#changing.set(id, tail);
    void tail.then(() => {
      if (this.#changing.get(id) === tail) this.#changing.delete(id);
    });
    return mine;
  }

  async #change(
    id: string,
    apply: (latest: SessionRecord | undefined) => SessionRecord | undefined,
    now: () => number,
  ): Promise<ChangeResult> {
    await this.#ready();
    const key = SESSION_PREFIX + id;
    // The record this process read last is usually still the stored one (a run reads it, then saves): one
    // compare-and-set against it then both checks and writes, without reading it again. Anything but a
    // successful write from that guess (it was stale, or the change refused or skipped it) reads for real.
    const seen = this.#decoded.get(id);
    if (seen !== undefined) {
      let proposed: SessionRecord | undefined;
      try {
        proposed = apply(structuredClone(seen.record));
      } catch {
        proposed = undefined;
      }
      if (proposed !== undefined && proposed.id === id) {
        const next = this.#signed(stamped(proposed, seen.record, now()));
        const value = JSON.stringify(next);
        if (await this.#swap(key, seen.raw, value))
          return { record: this.#written(next, value), written: true };
      }
    }
    for (let attempt = 1; ; attempt++) {
      const raw = await this.#readKey(key);
      const current = raw === undefined ? undefined : this.#decode(raw, id);
      const proposed = apply(current);
      if (proposed === undefined || proposed === current) return { record: current, written: false };
      if (proposed.id !== id) throw new Error(`change(${id}) returned a record of another session`);
      const next = this.#signed(stamped(proposed, current, now()));
      const value = JSON.stringify(next);
      if (await this.#swap(key, raw, value)) return { record: this.#written(next, value), written: true };
      if (attempt >= MAX_SWAP_ATTEMPTS) {
        throw new AuthSessionError(
          'STALE_WRITE',
          `Session "${id}" kept changing while it was being written`,
          {
            sessionId: id,
          },
        );
      }
    }
  }

  /**
   * Removes a record only if it is still exactly `expected` (an object as read by {@link change}'s `apply`):
   * a record written meanwhile stays. Returns whether it removed it.
   */
  async deleteIf(id: string, expected: (latest: SessionRecord) => boolean): Promise<boolean> {
    await this.#ready();
    const key = SESSION_PREFIX + id;
    for (let attempt = 1; ; attempt++) {
      const raw = await this.#readKey(key);
      if (raw === undefined) return false;
      const current = this.#decode(raw, id);
      if (!expected(current)) return false;
      if (await this.#swap(key, raw, undefined)) {
        this.#decoded.delete(id);
        return true;
      }
      if (attempt >= MAX_SWAP_ATTEMPTS) {
        throw new AuthSessionError(
          'STALE_WRITE',
          `Session "${id}" kept changing while it was being removed`,
          {
            sessionId: id,
          },
        );
      }
    }
  }

  /**
   * Replaces the stored value of `key` with `next` (`undefined`: removes it) only if it is still `expected`
   * (`undefined`: only if there is none): the adapter's compare-and-set (atomic, or the fallback's read and
   * write serialised per key within this process).
   */
  #swap(key: string, expected: string | undefined, next: string | undefined): Promise<boolean> {
    return this.#call('write', () => this.#store.compareAndSet(key, expected, next));
  }

  /**
   * Remembers a record this store just wrote as the decoded form of the exact text written: reading that
   * text back (the next run of the session) then needs no parse and validation. Text that differs in any
   * way (another writer, tampering) is decoded and validated as always.
   */
  #written(next: SessionRecord, value: string): SessionRecord {
    rememberRecent(
      this.#decoded,
      next.id,
      { raw: value, record: JSON.parse(value) as SessionRecord },
      this.#decodedLimits,
    );
    return next;
  }

  /** Deletes a record; true when one existed. */
  async delete(id: string): Promise<boolean> {
    const removed = await this.#call('delete', () => this.#store.delete(SESSION_PREFIX + id));
    this.#decoded.delete(id);
    return removed;
  }

  /** True when the store can iterate (list). */
  get canList(): boolean {
    return this.#store.canScan !== false;
  }

  /**
   * Whether the store holds any session record (read or not), without checking it: used before a key is
   * known (a store that cannot list answers false).
   */
  async hasRecords(): Promise<boolean> {
    if (!this.canList) return false;
    const iterator = this.#store.scan(SESSION_PREFIX)[Symbol.asyncIterator]();
    try {
      const first = await this.#call('list', () => iterator.next());
      return first.done !== true;
    } finally {
      await iterator.return?.()?.catch(() => {});
    }
  }

  /**
   * Streams every session record (invalid ones are reported through `onCorrupt` and skipped); with `after`,
   * only the records listed after the one with that id (those before it are skipped undecoded).
   */
  async *records(
    onCorrupt?: (id: string, err: AuthSessionError) => void,
    term?: IndexTerm,
    after?: string,
  ): AsyncGenerator<SessionRecord> {
    await this.#ready();
    if (!this.canList) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'This Keyv store cannot list its keys; use a store with an iterator (memory, SQLite, Redis, Postgres)',
      );
    }
    // Each page is one bounded call: a store that stops answering mid-listing is STORAGE_UNAVAILABLE.
    // With a term and an adapter that keeps an index, only the records carrying it are read (the caller
    // filters again: the index narrows, it does not decide).
    const entries =
      term !== undefined && this.#store.scanWhere
        ? this.#store.scanWhere(SESSION_PREFIX, term)
        : this.#store.scan(SESSION_PREFIX);
    const iterator = entries[Symbol.asyncIterator]();
    let skipping = after !== undefined;
    try {
      while (true) {
        const step = await this.#call('list', () => iterator.next());
        if (step.done) return;
        const [key, raw] = step.value;
        if (!key.startsWith(SESSION_PREFIX)) continue;
        const id = key.slice(SESSION_PREFIX.length);
        if (skipping) {
          skipping = id !== after;
          continue;
        }
        try {
          yield this.#checked(decodeRecord(raw, id));
        } catch (err) {
          if (err instanceof AuthSessionError && err.code === 'CORRUPT_RECORD') onCorrupt?.(id, err);
          else throw err;
        }
      }
    } finally {
      // A listing left early (or failed) stops the scan underneath.
      await iterator.return?.()?.catch(() => {});
    }
  }

  /** Reads a small JSON value under the library's meta namespace. */
  async getMeta(key: string): Promise<unknown> {
    const raw = await this.#readKey(`meta/${key}`);
    if (raw === undefined) return undefined;
    try {
      return parseJsonSafely(raw);
    } catch (err) {
      throw new AuthSessionError('CORRUPT_RECORD', `Stored metadata "${key}" is not valid JSON`, {
        cause: err,
      });
    }
  }

  /** Writes a small JSON value under the library's meta namespace. */
  async setMeta(key: string, value: unknown, ttlMs?: number): Promise<void> {
    await this.#call('write', () => this.#store.write(`meta/${key}`, JSON.stringify(value), ttlMs));
  }

  /**
   * Writes a small JSON value under the library's meta namespace only if there is none there (the adapter's
   * compare-and-set from "absent"): of several processes claiming one key, exactly one gets true (with an
   * atomic adapter; the fallback serialises within this process only). With `ttlMs`, the value is then
   * written once more with that TTL (compare-and-set takes none): the value is the same, and only the
   * claimant writes it, so nobody sees a difference; should that second write fail, the value stays
   * without TTL and the claim still holds.
   */
  async claimMeta(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const raw = JSON.stringify(value);
    if (!(await this.#swap(`meta/${key}`, undefined, raw))) return false;
    if (ttlMs !== undefined) {
      await this.#call('write', () => this.#store.write(`meta/${key}`, raw, ttlMs)).catch(() => {});
    }
    return true;
  }

  /** Deletes a meta value. */
  async deleteMeta(key: string): Promise<void> {
    await this.#call('delete', () => this.#store.delete(`meta/${key}`));
  }

  /** Nothing to release: the store never listens on the Keyv instance (it belongs to whoever made it). */
  detach(): void {}

  /** Runs one store call with a timeout; any throw or timeout → STORAGE_UNAVAILABLE (typed errors pass). */
  #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return timedCall(this.#clock, this.#timeoutMs, what, fn);
  }
}
