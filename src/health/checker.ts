import { Slots } from '../browser/slots.js';
import type { Clock } from '../clock.js';
import { type AuthDefinition, resolveAuthOptions } from '../define.js';
import { AuthSessionError } from '../errors.js';
import { anySignal, type Lifecycle } from '../lifecycle/engine.js';
import type { AuthSessionLock } from '../lock/lock.js';
import { type EventBus, summariseError } from '../monitor/events.js';
import type { HistoryEntry } from '../monitor/history.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import type { IndexTerm } from '../store/contract.js';
import type { SessionStore } from '../store/session-store.js';
import type { ObservedLifetimes } from './lifetimes.js';
import type { ResolvedHealthOptions } from './options.js';
import { claimRound } from './round-claim.js';
import { roundAt, roundOffset, wait } from './schedule.js';

/**
 * Health checks running in the background (`manager.startHealthChecks`). Also stopped by `manager.close()`.
 *
 * @example
 * ```ts
 * const health = manager.startHealthChecks({ every: 5 * 60_000, refreshAhead: 10 * 60_000, concurrency: 2 });
 * // …
 * await health.stop();
 * ```
 */
export interface HealthChecks {
  /** Stops the checks: no new validation starts, the ones under way are aborted; resolves once all ended. */
  stop(): Promise<void>;
}

/** What the health checks work with (wired by the manager). */
export interface HealthDeps {
  readonly lifecycle: Lifecycle;
  readonly store: SessionStore;
  readonly lock: AuthSessionLock;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly auth: (name: string) => AuthDefinition;
  /** The session's history, oldest first (for the lifetime observed when the state tells none). */
  readonly history: (id: string) => Promise<HistoryEntry[]>;
  readonly lifetimes: ObservedLifetimes;
  /** Aborted when the manager closes. */
  readonly closed: AbortSignal;
}

interface RoundCounts {
  checked: number;
  refreshed: number;
  expired: number;
  skipped: number;
}

/** Meta key of the lapse last announced for a recorder session (so it is announced once, by one process). */
function expiringKey(id: string): string {
  return `health/expiring/${id}`;
}

/**
 * The health checks of one `startHealthChecks` call: rounds aligned on the clock, each session validated at
 * its own offset in the round by the one process that claims it (see `claimRound`), refreshed ahead of its
 * lapse when it is a credentials session, announced (`expiring`) when it is a recorder one.
 */
export class HealthChecker implements HealthChecks {
  readonly #d: HealthDeps;
  readonly #o: ResolvedHealthOptions;
  readonly #stopper = new AbortController();
  readonly #signal: AbortSignal;
  readonly #term: IndexTerm;
  /** Sessions being visited now, with the counts of their round (for `refreshed` events of reactive refreshes). */
  readonly #visiting = new Map<string, RoundCounts>();
  readonly #onRefreshed = (e: { session: AuthSessionInfo; ahead?: boolean }) => {
    if (e.ahead !== true) {
      const counts = this.#visiting.get(e.session.id);
      if (counts) counts.refreshed++;
    }
  };
  #running: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(deps: HealthDeps, options: ResolvedHealthOptions) {
    this.#d = deps;
    this.#o = options;
    this.#signal = anySignal(options.signal, deps.closed, this.#stopper.signal);
    const [label] = Object.entries(options.labels);
    this.#term = label
      ? { field: 'label', name: label[0], value: label[1] }
      : { field: 'state', value: 'active' };
  }

  /** Starts the rounds (once). */
  start(): this {
    if (this.#running) return this;
    this.#d.events.on('refreshed', this.#onRefreshed);
    this.#running = this.#loop().finally(() => this.#d.events.off('refreshed', this.#onRefreshed));
    // Failures are reported as warnings inside; this catch keeps an unexpected one from being unhandled.
    this.#running.catch(() => {});
    return this;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopper.abort(new AuthSessionError('ABORTED', 'The health checks were stopped'));
      await this.#running?.catch(() => {});
    })();
    return this.#stopping;
  }

  /** When this process will next look at the session, or undefined when it will not (stopped, filtered out). */
  nextCheckAt(session: AuthSessionInfo): string | undefined {
    if (this.#signal.aborted || session.state !== 'active' || !this.#matches(session)) return undefined;
    const { every, jitter } = this.#o;
    const now = this.#d.clock.now();
    let due = roundAt(now, every) * every + roundOffset(session.id, every, jitter);
    if (due <= now) due += every;
    return new Date(due).toISOString();
  }

  #matches(session: { auth: string; labels: Readonly<Record<string, string>> }): boolean {
    if (this.#o.auth !== undefined && session.auth !== this.#o.auth) return false;
    for (const [k, v] of Object.entries(this.#o.labels)) if (session.labels[k] !== v) return false;
    return true;
  }

  async #loop(): Promise<void> {
    const { every } = this.#o;
    const clock = this.#d.clock;
    let round = roundAt(clock.now(), every);
    while (!this.#signal.aborted) {
      try {
        await this.#round(round);
      } catch (err) {
        if (this.#signal.aborted) return;
        // A round that could not list the sessions (store down): said once, the next round tries again.
        this.#d.events.emit('warning', { error: summariseError(err) });
      }
      // A round that overran its period skips the rounds it ran into.
      const next = Math.max(round + 1, roundAt(clock.now(), every));
      try {
        await wait(next * every - clock.now(), clock, this.#signal);
      } catch {
        return;
      }
      round = next;
    }
  }

  async #round(round: number): Promise<void> {
    const { every, jitter, concurrency } = this.#o;
    const { clock, events } = this.#d;
    const started = clock.now();
    const start = round * every;
    const due: { record: SessionRecord; at: number }[] = [];
    const served = new Map<string, boolean>();
    for await (const record of this.#d.store.records(undefined, this.#term)) {
      if (record.state !== 'active' || !this.#matches(record)) continue;
      // Sessions of auths this manager does not serve (another application sharing the store) are not ours.
      let known = served.get(record.auth);
      if (known === undefined) {
        known = this.#serves(record.auth);
        served.set(record.auth, known);
      }
      if (!known) continue;
      due.push({ record, at: start + roundOffset(record.id, every, jitter) });
    }
    due.sort((a, b) => a.at - b.at);
    const counts: RoundCounts = { checked: 0, refreshed: 0, expired: 0, skipped: 0 };
    const slots = new Slots(concurrency);
    const visits = new Set<Promise<void>>();
    try {
      for (const item of due) {
        await wait(item.at - clock.now(), clock, this.#signal);
        const release = await slots.acquire(this.#signal);
        const visit = this.#visit(item.record, round, counts).finally(release);
        visits.add(visit);
        void visit.finally(() => visits.delete(visit));
      }
    } finally {
      await Promise.allSettled([...visits]);
    }
    events.emit('health:round', { ...counts, durationMs: clock.now() - started });
  }

  #serves(auth: string): boolean {
    try {
      this.#d.auth(auth);
      return true;
    } catch {
      return false;
    }
  }

  async #visit(record: SessionRecord, round: number, counts: RoundCounts): Promise<void> {
    const { lifecycle, clock, events } = this.#d;
    const signal = this.#signal;
    try {
      const won = await claimRound(
        { lock: this.#d.lock, store: this.#d.store },
        record.id,
        round,
        this.#o.every,
        signal,
      );
      if (!won) {
        counts.skipped++;
        return;
      }
      const auth = this.#d.auth(record.auth);
      const expiresAt = await this.#expiry(record);
      const now = clock.now();
      const { refreshAhead } = this.#o;
      if (expiresAt !== undefined && refreshAhead > 0 && expiresAt - now <= refreshAhead) {
        if (record.type === 'credentials' && expiresAt > now) {
          const renewed = await lifecycle.recover(record, auth, resolveAuthOptions(auth), signal, {
            due: (current) =>
              current.expiresAt === undefined || Date.parse(current.expiresAt) - clock.now() <= refreshAhead,
          });
          if (renewed.generation !== record.generation) counts.refreshed++;
          else counts.skipped++;
          return;
        }
        if (record.type === 'recorder' && expiresAt > now) await this.#announce(record, expiresAt);
      }
      const { lastCheckedAt } = record;
      if (lastCheckedAt !== undefined && now - Date.parse(lastCheckedAt) < this.#o.every / 2) {
        // A run checked it moments ago: as good as a check of ours.
        counts.skipped++;
        return;
      }
      this.#visiting.set(record.id, counts);
      try {
        await lifecycle.run(record.id, () => undefined, { forceCheck: true, signal }, true);
        counts.checked++;
      } finally {
        this.#visiting.delete(record.id);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof AuthSessionError && err.code === 'SESSION_EXPIRED') {
        counts.checked++;
        counts.expired++;
        return;
      }
      counts.skipped++;
      // Unreachable site, proxy down, a refresh ahead that failed…: the session stays as it was, the next
      // round tries again; the warning (and its history entry) says why.
      if (!(err instanceof AuthSessionError && err.code === 'SESSION_NOT_FOUND')) {
        events.emit('warning', { session: toInfo(record), error: summariseError(err) });
      }
    }
  }

  /**
   * When the session's login lapses (ms): stored with its state, else its login time plus the lifetime
   * observed for the auth's past logins (from history).
   */
  async #expiry(record: SessionRecord): Promise<number | undefined> {
    if (record.expiresAt !== undefined) return Date.parse(record.expiresAt);
    const lifetimes = this.#d.lifetimes;
    let loginAt = lifetimes.known(record.id, record.generation)?.loginAt;
    if (lifetimes.known(record.id, record.generation) === undefined) {
      const history = await this.#d.history(record.id);
      loginAt = lifetimes.learn(record.auth, record.id, record.generation, history);
    }
    const lifetime = lifetimes.lifetime(record.auth);
    return loginAt === undefined || lifetime === undefined ? undefined : loginAt + lifetime;
  }

  /** Announces a recorder session's coming lapse once (per lapse, across the processes sharing the store). */
  async #announce(record: SessionRecord, expiresAt: number): Promise<void> {
    const at = new Date(expiresAt).toISOString();
    const store = this.#d.store;
    const seen = (await store.getMeta(expiringKey(record.id)).catch(() => undefined)) as
      | { expiresAt?: unknown }
      | undefined;
    if (seen?.expiresAt === at) return;
    const keepMs = Math.min(Math.max(expiresAt - this.#d.clock.now(), 0) + 2 * this.#o.every, 2 ** 31 - 1);
    await store.setMeta(expiringKey(record.id), { v: 1, expiresAt: at }, keepMs);
    this.#d.events.emit('expiring', { session: toInfo(record), expiresAt: at });
  }
}
