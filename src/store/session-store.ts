import type Keyv from 'keyv';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError, issuePaths } from '../errors.js';
import { rememberRecent } from '../recent.js';
import { parseJsonSafely, type SessionRecord, sessionRecordSchema } from '../session/record.js';

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /**
   * Milliseconds one storage call may take before it counts as failed (`STORAGE_UNAVAILABLE`).
   * @default 10000
   */
  readonly timeoutMs?: number;
  /** Time source for the timeout. @default systemClock */
  readonly clock?: Clock;
}

/** A conditional write: it happens only if the stored record still has these values. */
export interface WriteCondition {
  /** The stored record's revision must equal this (fencing: -1 means "must not exist"). */
  readonly revision?: number;
  /** The stored record's generation must equal this. */
  readonly generation?: number;
}

const SESSION_PREFIX = 'session/';
/** Records kept decoded (see `SessionStore#decoded`). */
const DECODED_CACHE_SIZE = 1000;

/** Conditional writes retried this many times when unrelated writes keep landing in between. */
const MAX_SWAP_ATTEMPTS = 8;

/**
 * The key under which a Keyv instance may carry an atomic {@link CompareAndSet} (a global symbol, so copies
 * of the library loaded twice agree). `createRedisStore` and `createPostgresStore` set it.
 *
 * @example
 * ```ts
 * Object.defineProperty(keyv, COMPARE_AND_SET, { value: compareAndSet });
 * ```
 */
export const COMPARE_AND_SET: unique symbol = Symbol.for('auth-sessions.compare-and-set');

/**
 * Atomically replaces the value of a Keyv key (as passed to `keyv.set`, before namespacing and serialising)
 * with `next`, only if the stored value is still `expected` (`undefined`: only if there is none). Resolves
 * true when it wrote, false when the stored value differed; rejects when the store failed.
 *
 * @example
 * ```ts
 * const swap: CompareAndSet = async (key, expected, next) => atomicallyReplace(key, expected, next);
 * ```
 */
export type CompareAndSet = (key: string, expected: string | undefined, next: string) => Promise<boolean>;

/**
 * What an atomic swap compares and writes: the stored entry for `next` (as Keyv would store it), and the form
 * `expected` takes inside a stored entry's `value` field (Keyv's serialiser escapes some strings), or
 * undefined when no record is expected. Shared by the SQLite, Redis and PostgreSQL swaps.
 */
export async function swapFields(
  keyv: Keyv,
  expected: string | undefined,
  next: string,
): Promise<{ entry: string; expectedField: string | undefined }> {
  const serialize = (keyv as unknown as KeyvInternals).serialize ?? JSON.stringify;
  const entry = await serialize({ value: next });
  if (expected === undefined) return { entry, expectedField: undefined };
  const expectedField = (JSON.parse(await serialize({ value: expected })) as { value: string }).value;
  return { entry, expectedField };
}

function compareAndSetOf(keyv: Keyv): CompareAndSet | undefined {
  const fn = (keyv as unknown as { [COMPARE_AND_SET]?: unknown })[COMPARE_AND_SET];
  return typeof fn === 'function' ? (fn as CompareAndSet) : undefined;
}

/** The record with a revision above the stored one (revisions only grow, so `revision` conditions stay sound). */
function aboveRevision(record: SessionRecord, current: SessionRecord | undefined): SessionRecord {
  return current && current.revision >= record.revision
    ? { ...record, revision: current.revision + 1 }
    : record;
}

/** Whether a record satisfies a write condition (see {@link assertCondition}). */
function meetsCondition(current: SessionRecord, condition: WriteCondition): boolean {
  return (
    (condition.revision === undefined || current.revision === condition.revision) &&
    (condition.generation === undefined || current.generation === condition.generation)
  );
}

/** Throws `STALE_WRITE` when the stored record does not satisfy a write condition. */
function assertCondition(id: string, current: SessionRecord | undefined, condition: WriteCondition): void {
  const revision = current ? current.revision : -1;
  if (condition.revision !== undefined && revision !== condition.revision) {
    throw new AuthSessionError('STALE_WRITE', `Session "${id}" changed meanwhile`, { sessionId: id });
  }
  if (condition.generation !== undefined && current?.generation !== condition.generation) {
    throw new AuthSessionError('STALE_WRITE', `Session "${id}" was renewed meanwhile`, { sessionId: id });
  }
}

/**
 * Session records over any Keyv store. Keyv hides store failures by default (a failed `get` looks like a
 * missing key); this class turns every failure, timeout or emitted error during a call into
 * `STORAGE_UNAVAILABLE`, validates every record it reads, and never writes over a record it could not read.
 */
export class SessionStore {
  readonly #keyv: Keyv;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  /** Errors the store emitted, counted so a call that overlaps one fails closed. */
  #errorEpoch = 0;
  #lastError: unknown;
  /**
   * The last record decoded per id with the exact text it came from: a record read again unchanged (every
   * run reads its record, and a conditional write reads it once more) is not parsed and validated again.
   * Bounded; callers get their own copy.
   */
  readonly #decoded = new Map<string, { readonly raw: string; readonly record: SessionRecord }>();
  /** `@keyv/sqlite` underneath: listed with keyset pages, written with an atomic compare-and-set. */
  readonly #sqlite: ReturnType<typeof sqliteAdapterOf>;
  #sqliteSwap: Promise<CompareAndSet | undefined> | undefined;
  readonly #onError = (err: unknown) => {
    this.#errorEpoch++;
    this.#lastError = err;
  };

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
    // Make Keyv throw instead of answering "undefined", and listen so an emitted error never crashes the process.
    keyv.throwOnErrors = true;
    keyv.on('error', this.#onError);
    this.#sqlite = sqliteAdapterOf(keyv);
  }

  /** The Keyv instance underneath. */
  get keyv(): Keyv {
    return this.#keyv;
  }

  /** Reads a session record; `undefined` only when the store answered that there is none. */
  async read(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.#call('read', () => this.#keyv.get<string>(SESSION_PREFIX + id));
    if (raw === undefined || raw === null) return undefined;
    return this.#decode(raw, id);
  }

  /** {@link decodeRecord} through the cache of unchanged records; the caller gets its own copy. */
  #decode(raw: unknown, id: string): SessionRecord {
    if (typeof raw !== 'string') return decodeRecord(raw, id);
    return structuredClone(this.#decodeShared(raw, id));
  }

  /** The cached decoded record itself: for reads that only look (write conditions), never handed out. */
  #decodeShared(raw: string, id: string): SessionRecord {
    const hit = this.#decoded.get(id);
    if (hit !== undefined && hit.raw === raw) return hit.record;
    const record = decodeRecord(raw, id);
    rememberRecent(this.#decoded, id, { raw, record }, DECODED_CACHE_SIZE);
    return record;
  }

  /** The stored record, decoded but not copied (see {@link SessionStore.#decodeShared}). */
  async #peek(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.#call('read', () => this.#keyv.get<string>(SESSION_PREFIX + id));
    if (raw === undefined || raw === null) return undefined;
    return typeof raw === 'string' ? this.#decodeShared(raw, id) : decodeRecord(raw, id);
  }

  /** The store's atomic compare-and-set: its own ({@link COMPARE_AND_SET}) or, for SQLite, one made here. */
  async #compareAndSet(): Promise<CompareAndSet | undefined> {
    const own = compareAndSetOf(this.#keyv);
    if (own || !this.#sqlite) return own;
    const adapter = this.#sqlite;
    this.#sqliteSwap ??= (async () => {
      // `RETURNING` (which tells whether the conditional statement wrote) needs SQLite 3.35.
      const rows = (await adapter.query('SELECT sqlite_version() AS v')) as { v?: unknown }[];
      const [major = 0, minor = 0] = String(rows[0]?.v ?? '0')
        .split('.')
        .map(Number);
      return major > 3 || (major === 3 && minor >= 35) ? sqliteCompareAndSet(this.#keyv, adapter) : undefined;
    })().catch((err: unknown) => {
      this.#sqliteSwap = undefined;
      throw storageError('write', err);
    });
    return this.#sqliteSwap;
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
   * `STALE_WRITE` when it no longer matches. Keyv has no compare-and-set: when the store carries one
   * ({@link COMPARE_AND_SET}, set by `createRedisStore` and `createPostgresStore`) the write only lands if the
   * stored record is still the one the condition was checked against, so two fenced writers can never both
   * win; otherwise the check and the write are two calls (the lock narrows that window to stale holders).
   * A conditional write never reuses a stored revision number (a write fenced only by `generation` may find
   * that another write took the revision it computed): the record written, and returned, is bumped above it.
   */
  async write(record: SessionRecord, condition?: WriteCondition): Promise<SessionRecord> {
    const key = SESSION_PREFIX + record.id;
    const swap = condition ? await this.#compareAndSet() : undefined;
    if (condition && swap) {
      // The record this process read last is usually still the stored one (a run reads it, then saves): one
      // swap then both checks and writes, without reading it again.
      const seen = this.#decoded.get(record.id);
      if (seen !== undefined && meetsCondition(seen.record, condition)) {
        const next = aboveRevision(record, seen.record);
        const value = JSON.stringify(next);
        if (await this.#call('write', () => swap(key, seen.raw, value))) return this.#written(next, value);
      }
      // Another write between our read and our swap (a run saving its cookies) makes the swap miss: read
      // again and re-check the condition, a bounded number of times.
      for (let attempt = 1; ; attempt++) {
        const raw = await this.#call('read', () => this.#keyv.get<string>(key));
        const current =
          raw === undefined || raw === null
            ? undefined
            : typeof raw === 'string'
              ? this.#decodeShared(raw, record.id)
              : decodeRecord(raw, record.id);
        assertCondition(record.id, current, condition);
        const next = aboveRevision(record, current);
        const value = JSON.stringify(next);
        const expected = current === undefined ? undefined : (raw as string);
        if (await this.#call('write', () => swap(key, expected, value))) return this.#written(next, value);
        if (attempt >= MAX_SWAP_ATTEMPTS) {
          throw new AuthSessionError('STALE_WRITE', `Session "${record.id}" kept changing meanwhile`, {
            sessionId: record.id,
          });
        }
      }
    }
    let next = record;
    if (condition) {
      const current = await this.#peek(record.id);
      assertCondition(record.id, current, condition);
      next = aboveRevision(record, current);
    }
    const value = JSON.stringify(next);
    const ok = await this.#call('write', () => this.#keyv.set(key, value));
    if (ok === false) {
      throw new AuthSessionError('STORAGE_UNAVAILABLE', `The store refused to save session "${record.id}"`, {
        sessionId: record.id,
      });
    }
    return this.#written(next, value);
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
  async change(
    id: string,
    apply: (latest: SessionRecord | undefined) => SessionRecord | undefined,
    now: () => number = () => this.#clock.now(),
  ): Promise<ChangeResult> {
    const key = SESSION_PREFIX + id;
    for (let attempt = 1; ; attempt++) {
      const raw = await this.#call('read', () => this.#keyv.get<string>(key));
      const current =
        raw === undefined || raw === null
          ? undefined
          : typeof raw === 'string'
            ? this.#decode(raw, id)
            : decodeRecord(raw, id);
      const proposed = apply(current);
      if (proposed === undefined || proposed === current) return { record: current, written: false };
      if (proposed.id !== id) throw new Error(`change(${id}) returned a record of another session`);
      const next = stamped(proposed, current, now());
      const value = JSON.stringify(next);
      const expected = current === undefined ? undefined : (raw as string);
      if (await this.#swap(key, expected, value))
        return { record: this.#written(next, value), written: true };
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
    const key = SESSION_PREFIX + id;
    for (let attempt = 1; ; attempt++) {
      const raw = await this.#call('read', () => this.#keyv.get<string>(key));
      if (raw === undefined || raw === null) return false;
      const current = typeof raw === 'string' ? this.#decode(raw, id) : decodeRecord(raw, id);
      if (!expected(current)) return false;
      if (await this.#swap(key, raw as string, undefined)) {
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
   * (`undefined`: only if there is none). Atomic where the store offers a compare-and-set; otherwise a read
   * and a write serialised per key within this process.
   */
  async #swap(key: string, expected: string | undefined, next: string | undefined): Promise<boolean> {
    const swap = next === undefined ? undefined : await this.#compareAndSet();
    if (swap && next !== undefined) return this.#call('write', () => swap(key, expected, next));
    return serialised(this.#keyv, key, async () => {
      const raw = await this.#call('read', () => this.#keyv.get<string>(key));
      const stored = raw === undefined || raw === null ? undefined : (raw as string);
      if (stored !== expected) return false;
      if (next === undefined) {
        await this.#call('delete', () => this.#keyv.delete(key));
        return true;
      }
      const ok = await this.#call('write', () => this.#keyv.set(key, next));
      if (ok === false) {
        throw new AuthSessionError('STORAGE_UNAVAILABLE', 'The store refused to save a session record');
      }
      return true;
    });
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
      DECODED_CACHE_SIZE,
    );
    return next;
  }

  /** Deletes a record; true when one existed. */
  async delete(id: string): Promise<boolean> {
    return (await this.#call('delete', () => this.#keyv.delete(SESSION_PREFIX + id))) === true;
  }

  /** True when the store can iterate (list). */
  get canList(): boolean {
    return typeof this.#keyv.iterator === 'function';
  }

  /** Streams every session record (invalid ones are reported through `onCorrupt` and skipped). */
  async *records(onCorrupt?: (id: string, err: AuthSessionError) => void): AsyncGenerator<SessionRecord> {
    if (!this.canList || !this.#keyv.iterator) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'This Keyv store cannot list its keys; use a store with an iterator (memory, SQLite, Redis, Postgres)',
      );
    }
    const epoch = this.#errorEpoch;
    let iterator: AsyncGenerator<[string, unknown]>;
    try {
      // SQLite: keyset pages over the session keys only (Keyv's own SQLite iterator rescans every page).
      iterator = this.#sqlite
        ? sqliteEntries(this.#keyv, this.#sqlite, SESSION_PREFIX)
        : (this.#keyv.iterator(undefined) as AsyncGenerator<[string, unknown]>);
    } catch (err) {
      throw storageError('list', err);
    }
    while (true) {
      let step: IteratorResult<[string, unknown]>;
      try {
        step = await iterator.next();
      } catch (err) {
        throw storageError('list', err);
      }
      if (this.#errorEpoch !== epoch) throw storageError('list', this.#lastError);
      if (step.done) return;
      const [key, raw] = step.value;
      if (typeof key !== 'string' || !key.startsWith(SESSION_PREFIX)) continue;
      const id = key.slice(SESSION_PREFIX.length);
      try {
        yield decodeRecord(raw, id);
      } catch (err) {
        if (err instanceof AuthSessionError && err.code === 'CORRUPT_RECORD') onCorrupt?.(id, err);
        else throw err;
      }
    }
  }

  /** Reads a small JSON value under the library's meta namespace. */
  async getMeta(key: string): Promise<unknown> {
    const raw = await this.#call('read', () => this.#keyv.get<string>(`meta/${key}`));
    if (raw === undefined || raw === null) return undefined;
    try {
      return typeof raw === 'string' ? parseJsonSafely(raw) : raw;
    } catch (err) {
      throw new AuthSessionError('CORRUPT_RECORD', `Stored metadata "${key}" is not valid JSON`, {
        cause: err,
      });
    }
  }

  /** Writes a small JSON value under the library's meta namespace. */
  async setMeta(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const ok = await this.#call('write', () => this.#keyv.set(`meta/${key}`, JSON.stringify(value), ttlMs));
    if (ok === false) throw new AuthSessionError('STORAGE_UNAVAILABLE', 'The store refused a write');
  }

  /** Deletes a meta value. */
  async deleteMeta(key: string): Promise<void> {
    await this.#call('delete', () => this.#keyv.delete(`meta/${key}`));
  }

  /** Stops listening to the Keyv instance (it stays open: it belongs to whoever made it). */
  detach(): void {
    this.#keyv.off('error', this.#onError);
  }

  /** Runs one store call with a timeout; any throw, timeout or error emitted meanwhile → STORAGE_UNAVAILABLE. */
  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const epoch = this.#errorEpoch;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(
        () =>
          reject(
            new AuthSessionError(
              'STORAGE_UNAVAILABLE',
              `The store did not answer a ${what} within ${this.#timeoutMs} ms`,
            ),
          ),
        this.#timeoutMs,
      );
    });
    // Unlike the clock's other timers, this one keeps the process alive: a call waiting for a hung store
    // must end in STORAGE_UNAVAILABLE, not in a silent exit with the caller's `finally` never run.
    (timer as { ref?: () => unknown } | undefined)?.ref?.();
    try {
      const result = await Promise.race([fn(), timeout]);
      if (this.#errorEpoch !== epoch) throw storageError(what, this.#lastError);
      return result;
    } catch (err) {
      if (err instanceof AuthSessionError) throw err;
      throw storageError(what, err);
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
  }
}

/** What {@link SessionStore.change} did. */
export interface ChangeResult {
  /** The record written, or the latest one read when nothing was written (undefined: there is none). */
  readonly record: SessionRecord | undefined;
  /** Whether the change wrote. */
  readonly written: boolean;
}

/** The record to write: revision one above the stored one (revisions only grow), `updatedAt` now. */
function stamped(next: SessionRecord, current: SessionRecord | undefined, now: number): SessionRecord {
  const out: SessionRecord = {
    ...next,
    revision: current === undefined ? Math.max(next.revision, 0) : current.revision + 1,
    updatedAt: new Date(now).toISOString(),
  };
  for (const key of Object.keys(out) as (keyof SessionRecord)[]) {
    if (out[key] === undefined) delete out[key];
  }
  return out;
}

/**
 * Check-then-write for stores without an atomic compare-and-set: one at a time per Keyv instance and key in
 * this process (other processes are not excluded: use an atomic store for several processes).
 */
const inFlight = new WeakMap<object, Map<string, Promise<unknown>>>();
async function serialised<T>(keyv: object, key: string, fn: () => Promise<T>): Promise<T> {
  let perKey = inFlight.get(keyv);
  if (!perKey) {
    perKey = new Map();
    inFlight.set(keyv, perKey);
  }
  const previous = perKey.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.then(
    () => {},
    () => {},
  );
  perKey.set(key, tail);
  try {
    return await run;
  } finally {
    if (perKey.get(key) === tail) perKey.delete(key);
  }
}

function storageError(what: string, cause: unknown): AuthSessionError {
  return new AuthSessionError(
    'STORAGE_UNAVAILABLE',
    `The session store failed during a ${what}; nothing was changed`,
    {
      cause,
    },
  );
}

/** Parses and validates one stored record; anything unexpected is `CORRUPT_RECORD`. */
export function decodeRecord(raw: unknown, id: string): SessionRecord {
  let value: unknown;
  try {
    value = typeof raw === 'string' ? parseJsonSafely(raw) : undefined;
  } catch (err) {
    throw corrupt(id, err);
  }
  const parsed = sessionRecordSchema.safeParse(value);
  if (!parsed.success) throw corrupt(id, new Error(issuePaths(parsed.error)));
  if (parsed.data.id !== id) throw corrupt(id, new Error('id mismatch'));
  return parsed.data;
}

function corrupt(id: string, cause: unknown): AuthSessionError {
  return new AuthSessionError(
    'CORRUPT_RECORD',
    `The stored record of session "${id}" is damaged or of an unknown shape`,
    {
      sessionId: id,
      cause,
    },
  );
}

// ——— SQLite (`@keyv/sqlite`) used directly: keyset listing and an atomic compare-and-set ———

/**
 * The part of `@keyv/sqlite`'s adapter the library uses directly: its table name and its `query` (sqlite3's
 * `all`, promisified).
 */
interface SqliteAdapter {
  readonly opts: { readonly dialect?: unknown; readonly table?: unknown; readonly iterationLimit?: unknown };
  readonly query: (sql: string, ...params: unknown[]) => Promise<unknown[]>;
}

/** Where a Keyv instance keeps a key, and how it (de)serialises values. */
interface KeyvInternals {
  readonly store?: unknown;
  readonly namespace?: string;
  readonly useKeyPrefix?: boolean;
  readonly serialize?: (data: unknown) => string | Promise<string>;
  readonly deserialize?: (data: string) => unknown;
}

/**
 * The `@keyv/sqlite` adapter under a Keyv instance, or undefined for any other store. Recognised by shape
 * (`opts.dialect === 'sqlite'`, a `query` function and a table name), so a copy of `@keyv/sqlite` loaded twice
 * is recognised too.
 *
 * @example
 * ```ts
 * sqliteAdapterOf(createSqliteStore('./sessions.sqlite')) !== undefined; // true
 * ```
 */
export function sqliteAdapterOf(keyv: Keyv): SqliteAdapter | undefined {
  const store = (keyv as unknown as KeyvInternals).store as Partial<SqliteAdapter> | undefined;
  if (typeof store !== 'object' || store === null) return undefined;
  if (typeof store.query !== 'function' || typeof store.opts !== 'object' || store.opts === null)
    return undefined;
  if (store.opts.dialect !== 'sqlite' || typeof store.opts.table !== 'string') return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(store.opts.table)) return undefined;
  return store as SqliteAdapter;
}

/** The key under which Keyv stores `key` (its namespace prefix applied as Keyv applies it). */
function storedKey(keyv: Keyv, key: string): string {
  const k = keyv as unknown as KeyvInternals;
  if (k.useKeyPrefix === false || !k.namespace) return key;
  return `${k.namespace}:${key}`;
}

/**
 * Streams the values of every key starting with `prefix` (before namespacing) from a SQLite Keyv store, in key
 * order, a page at a time: `WHERE key > last ORDER BY key LIMIT n` on the primary key, so each page costs one
 * index range scan and memory holds one page, however many rows there are. (`@keyv/sqlite`'s own iterator
 * pages with `LIMIT/OFFSET`, rescanning from the start for every page, and recurses once per page.)
 * Yields `[key without namespace, value]` as Keyv's iterator does; expired entries are skipped.
 *
 * @example
 * ```ts
 * for await (const [key, value] of sqliteEntries(keyv, adapter, 'session/')) console.log(key);
 * ```
 */
export async function* sqliteEntries(
  keyv: Keyv,
  adapter: SqliteAdapter,
  prefix: string,
  pageSize?: number,
): AsyncGenerator<[string, unknown]> {
  const table = adapter.opts.table as string;
  const limit = pageSize ?? (Number.parseInt(String(adapter.opts.iterationLimit), 10) || 500);
  const low = storedKey(keyv, prefix);
  // Every key with the prefix sorts below the prefix with its last character incremented.
  const high = low.slice(0, -1) + String.fromCharCode(low.charCodeAt(low.length - 1) + 1);
  const strip = low.length - prefix.length;
  const deserialize = (keyv as unknown as KeyvInternals).deserialize ?? JSON.parse;
  const sql = `SELECT key, value FROM ${table} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`;
  let last = low;
  for (;;) {
    const rows = (await adapter.query(sql, last, high, limit)) as { key: string; value: unknown }[];
    for (const row of rows) {
      const data =
        typeof row.value === 'string'
          ? (deserialize(row.value) as { value?: unknown; expires?: unknown })
          : undefined;
      if (data === undefined || data === null) continue;
      if (typeof data.expires === 'number' && Date.now() > data.expires) continue;
      yield [row.key.slice(strip), data.value];
    }
    if (rows.length < limit) return;
    last = rows[rows.length - 1]!.key;
  }
}

/**
 * An atomic compare-and-set for a SQLite Keyv store (the {@link CompareAndSet} contract): one `UPDATE … WHERE
 * value is still the expected one` (or `INSERT … ON CONFLICT DO NOTHING` when none is expected), so a
 * conditional write needs no separate read and two writers can never both win.
 *
 * @example
 * ```ts
 * const swap = sqliteCompareAndSet(keyv, adapter);
 * await swap('session/abc', previousJson, nextJson); // true when it wrote
 * ```
 */
export function sqliteCompareAndSet(keyv: Keyv, adapter: SqliteAdapter): CompareAndSet {
  const table = adapter.opts.table as string;
  const _k = keyv as unknown as KeyvInternals;
  return async (key, expected, next) => {
    const { entry, expectedField } = await swapFields(keyv, expected, next);
    const stored = storedKey(keyv, key);
    if (expectedField === undefined) {
      const rows = await adapter.query(
        `INSERT INTO ${table} (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING RETURNING key`,
        stored,
        entry,
      );
      return rows.length === 1;
    }
    const rows = await adapter.query(
      `UPDATE ${table} SET value = ? WHERE key = ? AND (CASE WHEN json_valid(value) THEN json_extract(value, '$.value') END) = ? RETURNING key`,
      entry,
      stored,
      expectedField,
    );
    return rows.length === 1;
  };
}
