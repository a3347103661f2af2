import type { Clock } from '../clock.js';
import type { AuthSessionManager } from '../manager.js';

/** Counts per minute of what the console charts. */
export interface MinuteCounts {
  /** Start of the minute, in seconds since the epoch (what uPlot takes). */
  readonly t: number;
  runs: number;
  refreshes: number;
  failures: number;
}

/** How many minutes the charts keep. */
export const CHART_MINUTES = 60;

/**
 * Runs, refreshes and failures per minute, counted from the manager's events while the console is open
 * (the last {@link CHART_MINUTES} minutes; older minutes are dropped).
 */
export class ConsoleMetrics {
  readonly #minutes: MinuteCounts[] = [];
  readonly #clock: Clock;
  readonly #detach: () => void;

  constructor(manager: AuthSessionManager, clock: Clock) {
    this.#clock = clock;
    const onRunEnd = (e: { ok: boolean }) => {
      const m = this.#current();
      m.runs++;
      if (!e.ok) m.failures++;
    };
    const onRefreshed = () => {
      this.#current().refreshes++;
    };
    const onFailed = () => {
      this.#current().failures++;
    };
    const onChecked = (e: { ok: boolean }) => {
      if (!e.ok) this.#current().failures++;
    };
    manager.on('run:end', onRunEnd);
    manager.on('refreshed', onRefreshed);
    manager.on('failed', onFailed);
    manager.on('expired', onFailed);
    manager.on('checked', onChecked);
    this.#detach = () => {
      manager.off('run:end', onRunEnd);
      manager.off('refreshed', onRefreshed);
      manager.off('failed', onFailed);
      manager.off('expired', onFailed);
      manager.off('checked', onChecked);
    };
  }

  #current(): MinuteCounts {
    const t = Math.floor(this.#clock.now() / 60_000) * 60;
    const last = this.#minutes.at(-1);
    if (last !== undefined && last.t === t) return last;
    const entry: MinuteCounts = { t, runs: 0, refreshes: 0, failures: 0 };
    this.#minutes.push(entry);
    while (this.#minutes.length > CHART_MINUTES) this.#minutes.shift();
    return entry;
  }

  /** The last {@link CHART_MINUTES} minutes as columns, every minute present (zeros where nothing happened). */
  series(): { t: number[]; runs: number[]; refreshes: number[]; failures: number[] } {
    const end = Math.floor(this.#clock.now() / 60_000) * 60;
    const byT = new Map(this.#minutes.map((m) => [m.t, m]));
    const out = {
      t: [] as number[],
      runs: [] as number[],
      refreshes: [] as number[],
      failures: [] as number[],
    };
    for (let t = end - (CHART_MINUTES - 1) * 60; t <= end; t += 60) {
      const m = byT.get(t);
      out.t.push(t);
      out.runs.push(m?.runs ?? 0);
      out.refreshes.push(m?.refreshes ?? 0);
      out.failures.push(m?.failures ?? 0);
    }
    return out;
  }

  close(): void {
    this.#detach();
  }
}
