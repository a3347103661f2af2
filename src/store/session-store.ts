import type Keyv from 'keyv';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { parseJsonSafely, type SessionRecord, sessionRecordSchema } from './record.js';

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
  }

  /** The Keyv instance underneath. */
  get keyv(): Keyv {
    return this.#keyv;
  }

  /** Reads a session record; `undefined` only when the store answered that there is none. */
  async read(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.#call('read', () => this.#keyv.get<string>(SESSION_PREFIX + id));
    if (raw === undefined || raw === null) return undefined;
    return decodeRecord(raw, id);
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
   * `STALE_WRITE` when it changed (Keyv has no compare-and-set; with a lock held this fences stale holders).
   */
  async write(record: SessionRecord, condition?: WriteCondition): Promise<SessionRecord> {
    if (condition) {
      const current = await this.read(record.id);
      const revision = current ? current.revision : -1;
      if (condition.revision !== undefined && revision !== condition.revision) {
        throw new AuthSessionError('STALE_WRITE', `Session "${record.id}" changed meanwhile`, {
          sessionId: record.id,
        });
      }
      if (condition.generation !== undefined && current?.generation !== condition.generation) {
        throw new AuthSessionError('STALE_WRITE', `Session "${record.id}" was renewed meanwhile`, {
          sessionId: record.id,
        });
      }
    }
    const value = JSON.stringify(record);
    const ok = await this.#call('write', () => this.#keyv.set(SESSION_PREFIX + record.id, value));
    if (ok === false) {
      throw new AuthSessionError('STORAGE_UNAVAILABLE', `The store refused to save session "${record.id}"`, {
        sessionId: record.id,
      });
    }
    return record;
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
      iterator = this.#keyv.iterator(undefined) as AsyncGenerator<[string, unknown]>;
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
  if (!parsed.success)
    throw corrupt(id, new Error(parsed.error.issues.map((i) => i.path.join('.')).join(', ')));
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
