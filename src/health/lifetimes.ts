import type { HistoryEntry } from '../monitor/history.js';

/** Kinds of history entries that mark a new login of a session. */
const LOGINS = new Set(['create', 'refresh', 'refresh-ahead', 'record', 'import', 'update']);
/** Samples kept per auth. */
const MAX_SAMPLES = 32;

/**
 * The lifetime of an auth's logins as observed in the history of its sessions: the time from a login to the
 * first check that found it gone. A sample is an upper bound (the lapse happened before the check noticed),
 * and a forced logout gives a short one, so the estimate is the median of the recent samples. Used only when
 * a session's state tells nothing (no `expiresAt` hook, no JWT, no `authCookies`).
 */
export class ObservedLifetimes {
  readonly #samples = new Map<string, number[]>();
  /** Per session, the generation whose history was read last (history is read again after a new login). */
  readonly #read = new Map<string, { generation: number; loginAt: number | undefined; until: number }>();

  /** The median observed lifetime of the auth's logins, or undefined before any was observed. */
  lifetime(auth: string): number | undefined {
    const samples = this.#samples.get(auth);
    if (!samples || samples.length === 0) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  }

  /** Whether the history of this session's current login is already known (no need to read it again). */
  known(id: string, generation: number): { loginAt: number | undefined } | undefined {
    const seen = this.#read.get(id);
    return seen && seen.generation === generation ? seen : undefined;
  }

  /**
   * Learns from one session's history (oldest first): lifetime samples for its auth, and when its current
   * login happened (the last login entry), which it returns.
   */
  learn(auth: string, id: string, generation: number, history: readonly HistoryEntry[]): number | undefined {
    let loginAt: number | undefined;
    let samples = this.#samples.get(auth);
    // Entries learned from on an earlier read of this session's history give no sample twice.
    const learnedUntil = this.#read.get(id)?.until ?? Number.NEGATIVE_INFINITY;
    let until = learnedUntil;
    for (const entry of history) {
      const at = Date.parse(entry.at);
      if (!Number.isFinite(at)) continue;
      if (at > until) until = at;
      if (LOGINS.has(entry.kind) && entry.outcome === 'ok') {
        loginAt = at;
      } else if (
        entry.kind === 'check' &&
        entry.outcome === 'failed' &&
        entry.error?.code === 'CHECK_FAILED' &&
        loginAt !== undefined
      ) {
        if (at <= learnedUntil) {
          loginAt = undefined;
          continue;
        }
        samples ??= [];
        samples.push(at - loginAt);
        if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
        this.#samples.set(auth, samples);
        // One sample per login: the next failed check of the same login says nothing new.
        loginAt = undefined;
      }
    }
    this.#read.set(id, { generation, loginAt, until });
    if (this.#read.size > 100_000) this.#read.delete(this.#read.keys().next().value as string);
    return loginAt;
  }

  forget(id: string): void {
    this.#read.delete(id);
  }
}
