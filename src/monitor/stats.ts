import type { SessionState } from '../session/states.js';
import { type DurationSummary, DurationWindow } from './duration-window.js';

/**
 * Counts and durations of one kind of operation since the manager started (in this process).
 *
 * @example
 * ```ts
 * const { checks } = await manager.stats();
 * const failureRate = checks.failed / Math.max(1, checks.total);
 * ```
 */
export interface OperationStats {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
  /** Percentiles over the most recent 1,024 durations. */
  readonly durationMs: DurationSummary;
}

/**
 * Refreshes, split by what brought them.
 *
 * @example
 * ```ts
 * const { refreshes } = await manager.stats();
 * console.log(`${refreshes.proactive} ahead of a lapse, ${refreshes.reactive} after a failed check`);
 * ```
 */
export interface RefreshStats extends OperationStats {
  /** Successful refreshes made ahead of the login's lapse (health checks' `refreshAhead`). */
  readonly proactive: number;
  /** Successful refreshes made after a check found the login gone. */
  readonly reactive: number;
}

/**
 * The sessions in the store, counted by state and by auth (a streaming pass over the store).
 *
 * @example
 * ```ts
 * const { sessions } = await manager.stats();
 * console.log(sessions?.byState.expired, 'expired sessions');
 * ```
 */
export interface SessionCounts {
  readonly total: number;
  readonly byState: Readonly<Record<SessionState, number>>;
  readonly byAuth: Readonly<Record<string, number>>;
  /** Records skipped because they could not be read (damaged or of an unknown shape). */
  readonly unreadable: number;
}

/**
 * What `manager.stats()` returns: sessions in the store by state (shared by every process using the store),
 * then what this manager did since it started (in this process).
 *
 * @example
 * ```ts
 * const s = await manager.stats();
 * console.log(s.sessions?.byState, s.runs.durationMs.p95, s.refreshes.total, s.failures);
 * ```
 */
export interface AuthSessionStats {
  /** When the counters started (the manager's creation), ISO 8601. */
  readonly since: string;
  /**
   * Sessions in the store, by state. Absent when the store cannot list its keys or when
   * `stats({ sessions: false })` was asked.
   */
  readonly sessions?: SessionCounts;
  /** Tasks run with `run()` (and `validate()`). */
  readonly runs: OperationStats;
  /** Runs of the `check` hook before tasks. */
  readonly checks: OperationStats;
  /**
   * Logins again with the stored credentials: after a failed check (`reactive`) or ahead of a lapse by the
   * health checks (`proactive`). `failed` counts the refreshes that failed and expired their session.
   */
  readonly refreshes: RefreshStats;
  /** Health checks (`manager.startHealthChecks`) in this process: rounds ended, sessions validated. */
  readonly health: { readonly rounds: number; readonly checked: number };
  /** Creations of sessions (`create`), successful or failed. */
  readonly creates: OperationStats;
  /** Sessions updated (labels, proxy, new credentials, a new recording…). */
  readonly updates: number;
  /** Sessions deleted. */
  readonly deletes: number;
  /** Sessions that went `expired`. */
  readonly expirations: number;
  /** Problems that did not fail a call (e.g. saving the state after a successful task). */
  readonly warnings: number;
  /** Failed operations of every kind: runs, checks, refreshes and creates. */
  readonly failures: number;
  /** Runs started and not ended yet. */
  readonly runsInFlight: number;
}

/**
 * Options of `manager.stats(options)`.
 *
 * @example
 * ```ts
 * const quick = await manager.stats({ sessions: false }); // no pass over the store
 * ```
 */
export interface StatsOptions {
  /** Count the sessions in the store by state (one streaming pass over the store). @default true */
  readonly sessions?: boolean;
}

class OperationCounter {
  total = 0;
  ok = 0;
  failed = 0;
  readonly durations = new DurationWindow(1024);

  record(ok: boolean, durationMs: number | undefined): void {
    this.total++;
    if (ok) this.ok++;
    else this.failed++;
    if (durationMs !== undefined) this.durations.record(durationMs);
  }

  snapshot(): OperationStats {
    return { total: this.total, ok: this.ok, failed: this.failed, durationMs: this.durations.summary() };
  }
}

/**
 * Counters and duration windows fed by the event bus. Every method is O(1) and allocation free, so it can
 * run on every event of every run.
 *
 * @example
 * ```ts
 * const stats = new StatsCollector(new Date().toISOString());
 * stats.run(true, 120);
 * stats.snapshot().runs; // { total: 1, ok: 1, failed: 0, durationMs: { samples: 1, p50: 120, … } }
 * ```
 */
export class StatsCollector {
  readonly #since: string;
  readonly #runs = new OperationCounter();
  readonly #checks = new OperationCounter();
  readonly #refreshes = new OperationCounter();
  readonly #creates = new OperationCounter();
  #updates = 0;
  #deletes = 0;
  #expirations = 0;
  #warnings = 0;
  #inFlight = 0;
  #proactive = 0;
  #healthRounds = 0;
  #healthChecked = 0;

  constructor(since: string) {
    this.#since = since;
  }

  runStarted(): void {
    this.#inFlight++;
  }

  run(ok: boolean, durationMs: number): void {
    if (this.#inFlight > 0) this.#inFlight--;
    this.#runs.record(ok, durationMs);
  }

  check(ok: boolean, durationMs: number): void {
    this.#checks.record(ok, durationMs);
  }

  refresh(ok: boolean, durationMs: number | undefined, ahead = false): void {
    this.#refreshes.record(ok, durationMs);
    if (ok && ahead) this.#proactive++;
  }

  healthRound(checked: number): void {
    this.#healthRounds++;
    this.#healthChecked += checked;
  }

  create(ok: boolean, durationMs: number): void {
    this.#creates.record(ok, durationMs);
  }

  update(): void {
    this.#updates++;
  }

  delete(): void {
    this.#deletes++;
  }

  expire(): void {
    this.#expirations++;
  }

  warning(): void {
    this.#warnings++;
  }

  /** The counters now, with the session counts when given. */
  snapshot(sessions?: SessionCounts): AuthSessionStats {
    const runs = this.#runs.snapshot();
    const checks = this.#checks.snapshot();
    const refreshes = this.#refreshes.snapshot();
    const creates = this.#creates.snapshot();
    return {
      since: this.#since,
      ...(sessions ? { sessions } : {}),
      runs,
      checks,
      refreshes: { ...refreshes, proactive: this.#proactive, reactive: refreshes.ok - this.#proactive },
      health: { rounds: this.#healthRounds, checked: this.#healthChecked },
      creates,
      updates: this.#updates,
      deletes: this.#deletes,
      expirations: this.#expirations,
      warnings: this.#warnings,
      failures: runs.failed + checks.failed + refreshes.failed + creates.failed,
      runsInFlight: this.#inFlight,
    };
  }
}
