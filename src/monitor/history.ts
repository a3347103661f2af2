import { z } from 'zod';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { isSessionId } from '../session-options.js';
import type { SessionStore } from '../store/session-store.js';

/**
 * What a history entry is about: `create`, `check`, `refresh`, `run`, `expire`, `update`, `warning`, and the
 * kinds feature modules add (`record`, `import`, `input`…).
 */
export type HistoryKind =
  | 'create'
  | 'check'
  | 'refresh'
  | 'run'
  | 'expire'
  | 'update'
  | 'record'
  | 'import'
  | 'input'
  | 'warning'
  | 'refresh-ahead'
  | 'expiring'
  | (string & {});

/**
 * One step in the life of a session, as `manager.history(id)` returns it. Never a secret: error codes and
 * the library's own messages only.
 *
 * @example
 * ```ts
 * for (const e of await manager.history(id)) console.log(e.at, e.kind, e.outcome, e.durationMs, e.error?.code);
 * ```
 */
export interface HistoryEntry {
  /** When the step ended (ISO 8601). */
  readonly at: string;
  readonly kind: HistoryKind;
  readonly outcome: 'ok' | 'failed';
  /** How long the step took, when it has a duration. */
  readonly durationMs?: number;
  /** Why it failed: a stable code and the library's message (never a secret). */
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * Options of `manager.history(id, options)`.
 *
 * @example
 * ```ts
 * const last5 = await manager.history(id, { limit: 5 });
 * ```
 */
export interface HistoryOptions {
  /** At most this many entries (the most recent ones). @default every entry kept (`historySize`) */
  readonly limit?: number;
}

const MAX_MESSAGE = 300;
const FLUSH_DELAY_MS = 200;
const FLUSH_CONCURRENCY = 4;

const entrySchema = z
  .object({
    at: z.string(),
    kind: z.string(),
    outcome: z.enum(['ok', 'failed']),
    durationMs: z.number().nonnegative().optional(),
    error: z.object({ code: z.string(), message: z.string() }).strict().optional(),
  })
  .strict();

const storedSchema = z.object({ v: z.literal(1), entries: z.array(entrySchema) }).strict();

/** Where the history of one session is kept: a meta value of the session store. */
export function historyKey(id: string): string {
  return `history/${id}`;
}

/** What {@link SessionHistory} needs. */
export interface SessionHistoryDeps {
  /** The session store; history lives in its meta namespace (`meta/history/<id>`). */
  readonly store: Pick<SessionStore, 'getMeta' | 'setMeta' | 'deleteMeta'>;
  /** Entries kept per session. */
  readonly size: number;
  /** Called once per failed flush (the store was down): history is best effort and never fails a call. */
  readonly onError: (err: unknown) => void;
  /** Milliseconds entries wait before being written, so bursts coalesce into one write per session. */
  readonly flushDelayMs?: number;
  /** Time source of the write-behind timer. @default systemClock */
  readonly clock?: Clock;
  /**
   * When the stored session with this id was created (undefined: there is none). Buffered entries of a
   * session deleted meanwhile (a run that ended after `delete`) are dropped instead of written, and entries
   * older than the session (an id used again) never join its history.
   */
  readonly sessionSince?: (id: string) => Promise<string | undefined>;
}

/**
 * A bounded per-session history, persisted in the session store so another process (the CLI, a worker)
 * reads it too.
 *
 * Adding an entry is synchronous and cheap: it goes into a per-session buffer, and a timer (unref'd, 200 ms)
 * writes the buffers in the background, one read-merge-write per session however many entries it got, so
 * `run()` never waits for history. Several processes writing the same session merge by time; two writes at
 * the same instant can lose one side's newest entries (Keyv has no compare-and-set): history is an operator's
 * view, not an audit log.
 *
 * @example
 * ```ts
 * const history = new SessionHistory({ store, size: 50, onError: () => {} });
 * history.add('s1', { at: new Date().toISOString(), kind: 'run', outcome: 'ok', durationMs: 120 });
 * await history.read('s1'); // [{ kind: 'run', … }]
 * ```
 */
export class SessionHistory {
  readonly #d: SessionHistoryDeps;
  #pending = new Map<string, HistoryEntry[]>();
  #deletes = new Set<string>();
  #timer: TimerHandle | undefined;
  #tail: Promise<void> = Promise.resolve();

  constructor(deps: SessionHistoryDeps) {
    this.#d = deps;
  }

  /** Adds an entry to a session's history (written in the background). */
  add(id: string, entry: HistoryEntry): void {
    if (this.#d.size === 0) return;
    let list = this.#pending.get(id);
    if (!list) {
      list = [];
      this.#pending.set(id, list);
    }
    list.push(capEntry(entry));
    if (list.length > this.#d.size) list.splice(0, list.length - this.#d.size);
    this.#schedule();
  }

  /** Drops a deleted session's history (buffered and stored). */
  forget(id: string): void {
    this.#pending.delete(id);
    this.#deletes.add(id);
    this.#schedule();
  }

  /** The session's history, oldest first: the stored entries merged with those not written yet. */
  async read(id: string, options: HistoryOptions = {}): Promise<HistoryEntry[]> {
    if (this.#d.size === 0 || !isSessionId(id)) return [];
    // Queued behind writes: entries being written are in neither the buffer nor the store until it ends.
    const task = this.#tail.then(async () => {
      const stored = this.#deletes.has(id) ? [] : await this.#readStored(id);
      return merge(stored, this.#pending.get(id) ?? [], this.#d.size);
    });
    this.#tail = task.then(
      () => {},
      () => {},
    );
    const merged = await task;
    const limit = options.limit;
    if (limit !== undefined && Number.isInteger(limit) && limit >= 0) {
      return limit === 0 ? [] : merged.slice(-limit);
    }
    return merged;
  }

  /** Writes every buffered entry now; resolves when they are stored (failures are reported, not thrown). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      (this.#d.clock ?? systemClock).clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const run = this.#tail.then(() => this.#flushNow());
    this.#tail = run.catch(() => {});
    return this.#tail;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    // systemClock's timers are unref'd: pending history never keeps a process alive (close() flushes it).
    this.#timer = (this.#d.clock ?? systemClock).setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#d.flushDelayMs ?? FLUSH_DELAY_MS);
  }

  async #flushNow(): Promise<void> {
    const deletes = this.#deletes;
    const pending = this.#pending;
    if (deletes.size === 0 && pending.size === 0) return;
    this.#deletes = new Set();
    this.#pending = new Map();
    let failure: unknown;
    for (const id of deletes) {
      try {
        await this.#d.store.deleteMeta(historyKey(id));
      } catch (err) {
        failure ??= err;
      }
    }
    const work = [...pending];
    const worker = async () => {
      for (let item = work.shift(); item; item = work.shift()) {
        const [id, added] = item;
        try {
          let entries = added;
          let stored: HistoryEntry[];
          if (this.#d.sessionSince) {
            const since = await this.#d.sessionSince(id);
            if (since === undefined) {
              await this.#d.store.deleteMeta(historyKey(id));
              continue;
            }
            entries = entries.filter((e) => e.at >= since);
            stored = (await this.#readStored(id)).filter((e) => e.at >= since);
          } else {
            stored = await this.#readStored(id);
          }
          const merged = merge(stored, entries, this.#d.size);
          await this.#d.store.setMeta(historyKey(id), { v: 1, entries: merged });
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FLUSH_CONCURRENCY, work.length) }, worker));
    if (failure !== undefined) this.#d.onError(failure);
  }

  async #readStored(id: string): Promise<HistoryEntry[]> {
    let raw: unknown;
    try {
      raw = await this.#d.store.getMeta(historyKey(id));
    } catch (err) {
      // A damaged history is replaced, never allowed to block the session; a store failure propagates.
      if (isCorrupt(err)) return [];
      throw err;
    }
    if (raw === undefined) return [];
    const parsed = storedSchema.safeParse(raw);
    return parsed.success ? (parsed.data.entries as HistoryEntry[]) : [];
  }
}

function isCorrupt(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'CORRUPT_RECORD';
}

/** Both lists by time (stable: same-instant entries keep their order), the newest `size` kept. */
function merge(
  stored: readonly HistoryEntry[],
  added: readonly HistoryEntry[],
  size: number,
): HistoryEntry[] {
  const all = [...stored, ...added];
  all.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return all.length > size ? all.slice(all.length - size) : all;
}

function capEntry(entry: HistoryEntry): HistoryEntry {
  if (!entry.error || entry.error.message.length <= MAX_MESSAGE) return entry;
  return {
    ...entry,
    error: { code: entry.error.code, message: `${entry.error.message.slice(0, MAX_MESSAGE)}…` },
  };
}
