/**
 * Percentiles of a set of durations, in milliseconds. `p50` and `p95` are absent while nothing was measured.
 *
 * @example
 * ```ts
 * const { runs } = await manager.stats();
 * console.log(`runs: p50 ${runs.durationMs.p50} ms, p95 ${runs.durationMs.p95} ms over ${runs.durationMs.samples}`);
 * ```
 */
export interface DurationSummary {
  /** How many durations the percentiles are computed over (the most recent ones, at most the window size). */
  readonly samples: number;
  /** Median (nearest rank). */
  readonly p50?: number;
  /** 95th percentile (nearest rank). */
  readonly p95?: number;
  /** Longest duration in the window. */
  readonly max?: number;
}

/**
 * The most recent durations of one kind of operation, in a fixed-size ring: recording is O(1) and allocation
 * free, so it can sit on the hot path of every run; percentiles are computed only when asked.
 *
 * @example
 * ```ts
 * const window = new DurationWindow(1024);
 * window.record(12.5);
 * window.summary(); // { samples: 1, p50: 12.5, p95: 12.5, max: 12.5 }
 * ```
 */
export class DurationWindow {
  readonly #values: Float64Array;
  #next = 0;
  #filled = 0;

  /** @param size how many of the most recent durations are kept (default 1024). */
  constructor(size = 1024) {
    this.#values = new Float64Array(Math.max(1, Math.floor(size)));
  }

  /** Records one duration; negative or non-finite values are ignored. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#filled < this.#values.length) this.#filled++;
  }

  /** p50, p95 and max over the window (nearest-rank percentiles). */
  summary(): DurationSummary {
    if (this.#filled === 0) return { samples: 0 };
    const sorted = this.#values.slice(0, this.#filled).sort();
    return {
      samples: this.#filled,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      max: sorted[sorted.length - 1]!,
    };
  }
}

/** Nearest-rank percentile of sorted values (`q` in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}
