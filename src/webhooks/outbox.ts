import { z } from 'zod';
import { AuthSessionError } from '../errors.js';
import type { MacKeyring } from '../session/authenticity.js';
import type { StoreAdapter } from '../store/contract.js';

/** Where outbox entries live in the store: `webhook/<endpoint id>/<webhook id>`. */
export const OUTBOX_PREFIX = 'webhook/';

const macSchema = z.object({ kid: z.string(), tag: z.string() }).strict();

const entrySchema = z
  .object({
    v: z.literal(1),
    /** The `webhook-id`: one per event, the same on every attempt and every endpoint. */
    id: z.string().min(1).max(100),
    /** The endpoint's id (a hash of its URL). */
    endpoint: z.string().min(1).max(100),
    type: z.string(),
    sessionId: z.string(),
    /** The exact request body: signed and sent as it is on every attempt. */
    body: z.string(),
    createdAt: z.number(),
    /** After this time the entry is dropped instead of tried again. */
    deadline: z.number(),
    /** The keyring's tag over the fields above: an entry forged in the store is never signed and sent. */
    mac: macSchema,
    attempts: z.number().int().nonnegative(),
    nextAt: z.number(),
    /** A process delivering it now, until `until` (a claim that lapses frees the entry). */
    claim: z.object({ by: z.string(), until: z.number() }).strict().optional(),
    /** Why the last attempt failed (status or network condition, never a response body). */
    lastError: z.string().max(300).optional(),
  })
  .strict();

/** One event waiting for delivery to one endpoint. */
export type OutboxEntry = z.infer<typeof entrySchema>;

/** An entry as read, with the exact stored text (the expected value of the next compare-and-set). */
export interface StoredEntry {
  readonly key: string;
  readonly raw: string;
  readonly entry: OutboxEntry;
}

/** What {@link Outbox} needs. */
export interface OutboxDeps {
  readonly store: StoreAdapter;
  /** Milliseconds (real time) one store call may take before it counts as failed. */
  readonly timeoutMs: number;
  /** The manager's keyring: entries are tagged on write and checked on read. */
  readonly keyring: () => Promise<MacKeyring>;
}

/** An entry that is not authentic (or not an entry at all): dropped, never delivered. */
export class ForeignEntry extends Error {}

/**
 * The durable outbox of webhook events, in the manager's store under {@link OUTBOX_PREFIX}. Every change of
 * an entry is a compare-and-set on the text last read, so two processes never both claim it; a claim
 * carries its own end, so the entries of a process that died are taken over once it passed.
 */
export class Outbox {
  readonly #d: OutboxDeps;

  constructor(deps: OutboxDeps) {
    this.#d = deps;
  }

  /** The key of an entry. */
  static keyOf(endpoint: string, id: string): string {
    return `${OUTBOX_PREFIX}${endpoint}/${id}`;
  }

  /** Stores a new entry (tagged with the key); resolves once it is in the store, with what was stored. */
  async add(entry: Omit<OutboxEntry, 'mac' | 'v'>): Promise<StoredEntry> {
    const keyring = await this.#d.keyring();
    const full: OutboxEntry = { v: 1, ...entry, mac: keyring.mac(macText(entry)) };
    const key = Outbox.keyOf(entry.endpoint, entry.id);
    const raw = JSON.stringify(full);
    await this.#call('write', () => this.#d.store.write(key, raw));
    return { key, raw, entry: full };
  }

  /** The entry under `key`, or undefined when there is none; throws {@link ForeignEntry} for a bad one. */
  async read(key: string): Promise<StoredEntry | undefined> {
    const raw = await this.#call('read', () => this.#d.store.read(key));
    if (raw === undefined) return undefined;
    return { key, raw, entry: await this.decode(raw) };
  }

  /** Parses and authenticates one stored entry. */
  async decode(raw: string): Promise<OutboxEntry> {
    let parsed: OutboxEntry;
    try {
      parsed = entrySchema.parse(JSON.parse(raw));
    } catch {
      throw new ForeignEntry('not a webhook outbox entry');
    }
    const keyring = await this.#d.keyring();
    if (keyring.verifyMac(macText(parsed), parsed.mac) !== 'ok') {
      throw new ForeignEntry('an outbox entry not tagged with this key');
    }
    return parsed;
  }

  /** Every stored entry key and text (decode them with {@link Outbox.decode}). */
  async *scan(): AsyncGenerator<readonly [string, string]> {
    const iterator = this.#d.store.scan(OUTBOX_PREFIX)[Symbol.asyncIterator]();
    try {
      while (true) {
        const step = await this.#call('list', () => iterator.next());
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await iterator.return?.()?.catch(() => {});
    }
  }

  /**
   * Replaces the entry with `next` (undefined: removes it) only if its text is still `from.raw`. Returns the
   * new stored form, or undefined when another process changed the entry first.
   */
  async swap(from: StoredEntry, next: OutboxEntry | undefined): Promise<StoredEntry | undefined | 'removed'> {
    const raw = next === undefined ? undefined : JSON.stringify(next);
    const ok = await this.#call('write', () => this.#d.store.compareAndSet(from.key, from.raw, raw));
    if (!ok) return undefined;
    return next === undefined || raw === undefined ? 'removed' : { key: from.key, raw, entry: next };
  }

  /** Removes an entry whatever it holds (it was delivered). */
  async remove(key: string): Promise<void> {
    await this.#call('delete', () => this.#d.store.delete(key));
  }

  /**
   * One store call, bounded in real time (it waits for real I/O, whatever clock schedules the deliveries):
   * a failure or a time-out is `STORAGE_UNAVAILABLE`.
   */
  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { timeoutMs } = this.#d;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AuthSessionError(
              'STORAGE_UNAVAILABLE',
              `The store did not answer a webhook outbox ${what} within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      if (err instanceof AuthSessionError) throw err;
      throw new AuthSessionError('STORAGE_UNAVAILABLE', `The store failed during a webhook outbox ${what}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The fields an entry's tag covers: what is sent, to whom, and until when (not the delivery bookkeeping). */
function macText(entry: Omit<OutboxEntry, 'mac' | 'v'> | OutboxEntry): string {
  return JSON.stringify([
    'webhook/1',
    entry.id,
    entry.endpoint,
    entry.type,
    entry.sessionId,
    entry.createdAt,
    entry.deadline,
    entry.body,
  ]);
}
