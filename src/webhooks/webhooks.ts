import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../clock.js';
import { type AuthSessionEvents, type EventBus, summariseError } from '../monitor/events.js';
import type { MacKeyring } from '../session/authenticity.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { StoreAdapter } from '../store/contract.js';
import { retryDelay } from './backoff.js';
import type { ResolvedEndpoint } from './options.js';
import { ForeignEntry, Outbox, type OutboxEntry, type StoredEntry } from './outbox.js';
import { toPayload, WEBHOOK_SOURCES, type WebhookSource } from './payload.js';
import { postSigned } from './post.js';

/** How often every process with webhooks scans the outbox for entries due (its own retries, and others'). */
export const OUTBOX_SCAN_EVERY_MS = 30_000;
/** A claim lasts the endpoint's `timeoutMs` plus this: time for the store writes around the POST. */
export const CLAIM_MARGIN_MS = 30_000;
/** Entries attempted at once by one process. */
const CONCURRENCY = 4;
/** Entries taken from one scan (the next scan takes the rest). */
const MAX_PER_SCAN = 100;

/** What {@link Webhooks} needs from the manager. */
export interface WebhooksDeps {
  readonly endpoints: readonly ResolvedEndpoint[];
  /** The manager's store contract (the outbox lives beside the session records). */
  readonly store: StoreAdapter;
  /** Milliseconds one store call may take. */
  readonly storeTimeoutMs: number;
  readonly clock: Clock;
  readonly events: EventBus;
  /** Aborted when the manager closes: in-flight POSTs stop, nothing new is attempted. */
  readonly closed: AbortSignal;
  /** The manager's keyring (outbox entries are tagged with it). */
  readonly keyring: () => Promise<MacKeyring>;
  /** Scan period. @default {@link OUTBOX_SCAN_EVERY_MS} */
  readonly scanEveryMs?: number;
  /** Jitter source of the retry delays. @default Math.random */
  readonly random?: () => number;
}

/**
 * Webhook delivery through a durable outbox: every manager event that maps to a webhook type is written to
 * the store (once per endpoint that wants it) before the call that caused it returns (see
 * {@link Webhooks.settled}); then it is POSTed at once, and again with growing delays while it fails, by
 * this process or any other with webhooks configured (each scans the outbox on start and every
 * {@link OUTBOX_SCAN_EVERY_MS}). At least once: a receiver dedupes on `webhook-id`.
 */
export class Webhooks {
  readonly #d: WebhooksDeps;
  readonly #outbox: Outbox;
  readonly #endpoints: ReadonlyMap<string, ResolvedEndpoint>;
  /** This deliverer's name in claims. */
  readonly #by = randomUUID();
  readonly #writes = new Set<Promise<void>>();
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #timers = new Set<TimerHandle>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #warnedForeign = new Set<string>();
  #scanTimer: TimerHandle | undefined;
  /** The scan under way, if any (awaited by {@link Webhooks.close}). */
  #scanning: Promise<void> | undefined;
  #scanFailing = false;
  #stopped = false;

  constructor(deps: WebhooksDeps) {
    this.#d = deps;
    this.#endpoints = new Map(deps.endpoints.map((e) => [e.id, e]));
    this.#outbox = new Outbox({
      store: deps.store,
      timeoutMs: deps.storeTimeoutMs,
      keyring: deps.keyring,
    });
    for (const source of Object.keys(WEBHOOK_SOURCES) as WebhookSource[]) {
      const listener = (payload: AuthSessionEvents[typeof source]) => this.#onEvent(source, payload);
      deps.events.on(source, listener);
      this.#unsubscribe.push(() => deps.events.off(source, listener));
    }
    // The first scan (entries left by a process that died) right after construction, off the caller's path.
    this.#scanning = Promise.resolve().then(() => this.#scan());
  }

  /**
   * Resolves once every outbox write started so far has ended (never rejects). Writes that start meanwhile
   * are not waited for: a call's own events are written (synchronously started) before it ends, so it need
   * not wait for the events of the calls that keep running beside it.
   */
  async settled(): Promise<void> {
    await Promise.all([...this.#writes]);
  }

  /**
   * Stops delivering: no new attempt or scan, in-flight POSTs are aborted (through the manager's close
   * signal) and their entries released for another process; events already emitted are still written.
   */
  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#scanTimer !== undefined) this.#d.clock.clearTimeout(this.#scanTimer);
    for (const timer of this.#timers) this.#d.clock.clearTimeout(timer);
    this.#timers.clear();
    while (this.#writes.size > 0) await this.settled();
    await this.#scanning;
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()]);
    for (const off of this.#unsubscribe) off();
  }

  #onEvent<E extends WebhookSource>(source: E, payload: AuthSessionEvents[E]): void {
    const now = this.#d.clock.now();
    const body = toPayload(source, payload, new Date(now).toISOString());
    const text = JSON.stringify(body);
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    for (const endpoint of this.#d.endpoints) {
      if (!endpoint.events.has(body.type)) continue;
      const write = this.#outbox
        .add({
          id,
          endpoint: endpoint.id,
          type: body.type,
          sessionId: payload.session.id,
          body: text,
          createdAt: now,
          deadline: now + endpoint.retryWindowMs,
          attempts: 0,
          nextAt: now,
        })
        .then(
          (stored) => {
            if (!this.#stopped && !this.#d.closed.aborted) void this.#attempt(stored.key, stored);
          },
          (err) => {
            const reason = summariseError(err);
            this.#d.events.emit('warning', {
              session: payload.session,
              error: {
                code: reason.code,
                message: `A ${body.type} webhook event for ${endpoint.label} could not be written to the outbox and is lost: ${reason.message}`,
              },
            });
          },
        );
      this.#writes.add(write);
      void write.finally(() => this.#writes.delete(write));
    }
  }

  /** One attempt at the entry under `key` (joined when one is under way in this process). */
  #attempt(key: string, known?: StoredEntry): Promise<void> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    if (this.#stopped || this.#d.closed.aborted) return Promise.resolve();
    const attempt = this.#attemptNow(key, known).catch((err) => this.#storeTrouble(err));
    this.#inFlight.set(key, attempt);
    void attempt.finally(() => {
      if (this.#inFlight.get(key) === attempt) this.#inFlight.delete(key);
    });
    return attempt;
  }

  async #attemptNow(key: string, known: StoredEntry | undefined): Promise<void> {
    let stored: StoredEntry | undefined;
    try {
      stored = known ?? (await this.#outbox.read(key));
    } catch (err) {
      if (err instanceof ForeignEntry) return this.#foreign(key);
      throw err;
    }
    if (stored === undefined) return;
    const { entry } = stored;
    const now = this.#d.clock.now();
    if (entry.claim !== undefined && entry.claim.until > now) return; // another process is on it
    const endpoint = this.#endpoints.get(entry.endpoint);
    if (now >= entry.deadline) {
      // Past its window (its process died, or no process here knows the endpoint any more): dropped.
      if ((await this.#outbox.swap(stored, undefined)) === 'removed') this.#dropped(entry, endpoint);
      return;
    }
    if (endpoint === undefined || entry.nextAt > now) return;
    const claimed = await this.#outbox.swap(stored, {
      ...entry,
      claim: { by: this.#by, until: now + endpoint.timeoutMs + CLAIM_MARGIN_MS },
    });
    if (claimed === undefined || claimed === 'removed') return; // another process took it first
    const outcome = await postSigned({
      url: endpoint.url,
      secret: endpoint.secret,
      id: entry.id,
      body: entry.body,
      timeoutMs: endpoint.timeoutMs,
      clock: this.#d.clock,
      signal: this.#d.closed,
    });
    if (outcome.ok) {
      await this.#outbox.remove(key);
      return;
    }
    const { claim: _claim, ...unclaimed } = entry;
    if (this.#d.closed.aborted) {
      // Closing: the entry stays, free for the next process (or this one's next start).
      await this.#outbox.swap(claimed, unclaimed).catch(() => {});
      return;
    }
    const attempts = entry.attempts + 1;
    const after = this.#d.clock.now();
    if (after >= entry.deadline) {
      const last = { ...entry, attempts, lastError: outcome.reason };
      if ((await this.#outbox.swap(claimed, undefined)) === 'removed') this.#dropped(last, endpoint);
      return;
    }
    // The last retry falls on the deadline itself: the window is used to its end.
    const nextAt = Math.min(after + retryDelay(attempts, this.#d.random), entry.deadline);
    const next: OutboxEntry = { ...unclaimed, attempts, nextAt, lastError: outcome.reason };
    if ((await this.#outbox.swap(claimed, next)) === undefined) return;
    this.#later(key, nextAt);
  }

  /**
   * Attempts `key` again at `at` (in this process; every other one finds it by scanning). The delay is taken
   * now, after the entry was written: time the write took does not push the retry back.
   */
  #later(key: string, at: number): void {
    if (this.#stopped) return;
    const timer = this.#d.clock.setTimeout(
      () => {
        this.#timers.delete(timer);
        void this.#attempt(key);
      },
      Math.max(0, at - this.#d.clock.now()),
    );
    this.#timers.add(timer);
  }

  /** One pass over the outbox: attempts every entry due, a few at a time; then schedules the next pass. */
  async #scan(): Promise<void> {
    if (this.#stopped || this.#d.closed.aborted) return;
    try {
      const due: StoredEntry[] = [];
      for await (const [key, raw] of this.#outbox.scan()) {
        if (this.#stopped || this.#d.closed.aborted) break;
        if (this.#inFlight.has(key)) continue;
        let entry: OutboxEntry;
        try {
          entry = await this.#outbox.decode(raw);
        } catch (err) {
          if (err instanceof ForeignEntry) {
            this.#foreign(key);
            continue;
          }
          throw err;
        }
        const now = this.#d.clock.now();
        if (entry.claim !== undefined && entry.claim.until > now) continue;
        const ours = this.#endpoints.has(entry.endpoint) && entry.nextAt <= now;
        if (ours || now >= entry.deadline) due.push({ key, raw, entry });
        if (due.length >= MAX_PER_SCAN) break;
      }
      const worker = async () => {
        for (let next = due.shift(); next !== undefined; next = due.shift()) {
          if (this.#stopped || this.#d.closed.aborted) return;
          await this.#attempt(next.key, next);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
      this.#scanFailing = false;
    } catch (err) {
      this.#storeTrouble(err);
    } finally {
      if (!this.#stopped && !this.#d.closed.aborted) {
        this.#scanTimer = this.#d.clock.setTimeout(() => {
          this.#scanTimer = undefined;
          this.#scanning = this.#scan();
        }, this.#d.scanEveryMs ?? OUTBOX_SCAN_EVERY_MS);
      }
    }
  }

  /** A store failure while delivering: one warning per streak (the entries stay and are tried again). */
  #storeTrouble(err: unknown): void {
    if (this.#scanFailing) return;
    this.#scanFailing = true;
    const reason = summariseError(err);
    this.#d.events.emit('warning', {
      error: { code: reason.code, message: `Webhook delivery paused: ${reason.message}` },
    });
  }

  /** An entry this manager's key does not vouch for: never sent, reported once. */
  #foreign(key: string): void {
    if (this.#warnedForeign.has(key) || this.#warnedForeign.size > 1000) return;
    this.#warnedForeign.add(key);
    this.#d.events.emit('warning', {
      error: {
        code: 'CORRUPT_RECORD',
        message: `The webhook outbox holds an entry this manager's key does not vouch for (${key}); it is not sent`,
      },
    });
  }

  /** Reports an entry dropped after its retry window: a `warning` event (and so a history entry). */
  #dropped(entry: OutboxEntry, endpoint: ResolvedEndpoint | undefined): void {
    const where = endpoint?.label ?? `endpoint ${entry.endpoint} (not configured in this process)`;
    const minutes = Math.round((entry.deadline - entry.createdAt) / 60_000);
    const last = entry.lastError === undefined ? '' : `; last: ${entry.lastError}`;
    const session = sessionOf(entry.body);
    this.#d.events.emit('warning', {
      ...(session === undefined ? {} : { session }),
      error: {
        code: 'WEBHOOK_UNDELIVERED',
        message:
          `The ${entry.type} webhook ${entry.id} to ${where} was not delivered within ${minutes} min ` +
          `(${entry.attempts} attempts${last}); it was dropped`,
      },
    });
  }
}

/** The session a stored body is about (the body was authenticated when its entry was read). */
function sessionOf(body: string): AuthSessionInfo | undefined {
  try {
    const session = (JSON.parse(body) as { data?: { session?: AuthSessionInfo } }).data?.session;
    return typeof session?.id === 'string' ? session : undefined;
  } catch {
    return undefined;
  }
}
