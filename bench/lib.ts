/**
 * Measurement helpers of the benchmarks: pairs taken in alternation so the noise of a shared machine hits
 * both sides alike, medians, quantiles and the median of the pair-by-pair ratios. Timing only: nothing here
 * asserts, and no test depends on these figures.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Quantile of a sample (linear interpolation); NaN for an empty one. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Median of a sample. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** One side of a pair: does the work once (or a batch) and may return its own duration in ms. */
export type Side = () => Promise<unknown>;

/** Result of {@link alternate}. */
export interface PairsResult {
  /** Durations of side A, in ms (per unit of work). */
  readonly a: number[];
  /** Durations of side B, in ms (per unit of work). */
  readonly b: number[];
  /** B / A, pair by pair. */
  readonly ratios: number[];
}

/**
 * Runs `pairs` pairs of A and B after `warmup` discarded pairs. The order inside a pair alternates
 * (A B, B A, A B…) so neither side always runs on a cache the other one warmed. `per` divides each duration
 * (a batch of `per` operations gives the time of one).
 */
export async function alternate(options: {
  readonly pairs: number;
  readonly warmup: number;
  readonly a: Side;
  readonly b: Side;
  readonly per?: number;
  readonly onPair?: (i: number) => void;
  /**
   * Awaited (untimed) before every sample of `side`, e.g. {@link primed}: what one sample leaves behind then
   * lands in neither side's time.
   */
  readonly settle?: (side: Side) => Promise<unknown>;
}): Promise<PairsResult> {
  const per = options.per ?? 1;
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  const time = async (side: Side): Promise<number> => {
    await options.settle?.(side);
    const started = performance.now();
    const own = await side();
    return (typeof own === 'number' ? own : performance.now() - started) / per;
  };
  for (let i = -options.warmup; i < options.pairs; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await time(options.a);
      tb = await time(options.b);
    } else {
      tb = await time(options.b);
      ta = await time(options.a);
    }
    if (i < 0) continue;
    a.push(ta);
    b.push(tb);
    ratios.push(tb / ta);
    options.onPair?.(i);
  }
  return { a, b, ratios };
}

/**
 * Runs `rounds` rounds of a block of `per` A's and a block of `per` B's (the order of the blocks alternates
 * by round), so each side runs back to back, as in a worker's loop, and meets its own leftovers (background
 * clean-up of the previous call) rather than the other side's. The first call of each block is discarded.
 * Returns the median duration of each block and the ratio B/A round by round.
 */
export async function blocks(options: {
  readonly rounds: number;
  readonly per: number;
  readonly a: Side;
  readonly b: Side;
}): Promise<PairsResult> {
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  const block = async (side: Side): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < options.per; i++) {
      const started = performance.now();
      await side();
      if (i > 0) times.push(performance.now() - started);
    }
    return median(times);
  };
  for (let round = 0; round < options.rounds; round++) {
    let ta: number;
    let tb: number;
    if (round % 2 === 0) {
      ta = await block(options.a);
      tb = await block(options.b);
    } else {
      tb = await block(options.b);
      ta = await block(options.a);
    }
    a.push(ta);
    b.push(tb);
    ratios.push(tb / ta);
  }
  return { a, b, ratios };
}

/**
 * A {@link alternate} `settle` that runs the side once untimed, then pauses `ms` milliseconds: the timed
 * sample then follows its own side (in Chromium, a navigation in another browser context than the one
 * navigated last costs ~90 ms more on a 2-core machine, whichever side it is; measured with raw Playwright),
 * and the background work of the untimed call (a page's reset, a delayed write) has ended.
 */
export function primed(ms: number): (side: Side) => Promise<void> {
  return async (side) => {
    await side();
    await new Promise((resolve) => setTimeout(resolve, ms));
  };
}

/** A `gc()` that works without `--expose-gc` on the command line. */
export function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Formats milliseconds with a sensible unit. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${value.toFixed(0)} ms`;
  if (value >= 1) return `${value.toFixed(2)} ms`;
  return `${(value * 1000).toFixed(0)} µs`;
}

/** Formats a ratio. */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

/** Formats bytes as MiB. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** One line of the result table. */
export interface Figure {
  /** Benchmark number and name, e.g. `1. run() vs hand-written Playwright`. */
  readonly item: string;
  /** What was measured. */
  readonly figure: string;
  /** The measured value, formatted. */
  readonly value: string;
  /** The target, formatted ('' when informational). */
  readonly target: string;
  /** Whether the target holds (undefined when informational). */
  readonly holds?: boolean | undefined;
}

/** Everything one benchmark reports. */
export interface BenchReport {
  readonly id: number;
  readonly title: string;
  /** How it was measured, for BENCHMARKS.md (Markdown). */
  readonly method: string;
  readonly figures: readonly Figure[];
  readonly seconds: number;
}

/** Prints a plain-text table. */
export function printTable(rows: readonly Figure[]): void {
  const head = ['figure', 'value', 'target', 'holds'];
  const body = rows.map((r) => [`${r.item}: ${r.figure}`, r.value, r.target, holdsText(r.holds)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}

export function holdsText(holds: boolean | undefined): string {
  return holds === undefined ? '' : holds ? 'yes' : 'NO';
}

/** Logs progress on stderr so stdout keeps the table. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
