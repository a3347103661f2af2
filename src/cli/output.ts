/** A writable stream as the CLI uses it (process.stdout / process.stderr, or a test double). */
export interface OutStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** ANSI styles the CLI uses. */
export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

const ANSI: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};

/**
 * Whether to colour a stream: `--color`/`--no-color` first, then `NO_COLOR` (set and not empty: no colours),
 * then `FORCE_COLOR` (set and not `0`: colours), then whether the stream is a terminal (and `TERM` is not `dumb`).
 */
export function useColor(
  stream: OutStream,
  env: Readonly<Record<string, string | undefined>>,
  flags: { color?: boolean; noColor?: boolean },
): boolean {
  if (flags.noColor) return false;
  if (flags.color) return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** A painter that colours text, or returns it as is when colours are off. */
export type Paint = (style: Style, text: string) => string;

/** Makes a {@link Paint}. */
export function painter(enabled: boolean): Paint {
  return (style, text) => (enabled ? `\u001b[${ANSI[style][0]}m${text}\u001b[${ANSI[style][1]}m` : text);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI_PATTERN = /\u001b\[[0-9;]*m/g;

/** Visible width of a string (ANSI escapes ignored). */
function width(text: string): number {
  return text.replace(ANSI_PATTERN, '').length;
}

/** Rows as an aligned table with a header; cells may be coloured. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  paint: Paint,
): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell))))
      .join('  ')
      .trimEnd();
  return [paint('bold', line(headers)), ...rows.map(line)].join('\n');
}

/** `3d`, `5h`, `12m`, `40s` for a duration in milliseconds. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `5m ago`, or `never` when there is no time. */
export function formatAgo(iso: string | undefined, now: number): string {
  if (iso === undefined) return 'never';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${formatAge(now - t)} ago`;
}

/** `850ms`, `1.2s`, `2m05s`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `2025-01-31 14:05:09Z` from an ISO timestamp. */
export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** The colour of a session state. */
export function stateStyle(state: string): Style {
  if (state === 'active') return 'green';
  if (state === 'pending') return 'yellow';
  return 'red';
}

/**
 * Progress of long work on stderr, only when stderr is a terminal (nothing is written otherwise, so logs and
 * pipes stay clean): a spinner with a count or the elapsed time, redrawn at most every 100 ms, erased at the end.
 */
export class Progress {
  readonly #stream: OutStream;
  readonly #enabled: boolean;
  readonly #label: string;
  readonly #started = Date.now();
  #count: number | undefined;
  #frame = 0;
  #lastDraw = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drawn = false;

  constructor(stream: OutStream, label: string, options: { enabled?: boolean; spin?: boolean } = {}) {
    this.#stream = stream;
    this.#label = label;
    this.#enabled = options.enabled ?? stream.isTTY === true;
    if (this.#enabled && options.spin) {
      this.#timer = setInterval(() => this.#draw(), 100);
      this.#timer.unref?.();
      this.#draw();
    }
  }

  /** Sets the count shown (redraws, throttled). */
  update(count: number): void {
    this.#count = count;
    if (this.#enabled && Date.now() - this.#lastDraw >= 100) this.#draw();
  }

  /** Erases the progress line and stops. */
  done(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#stream.write('\r\u001b[2K');
    this.#drawn = false;
  }

  #draw(): void {
    const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
    const spinner = frames[this.#frame++ % frames.length];
    const detail =
      this.#count === undefined
        ? `${Math.floor((Date.now() - this.#started) / 1000)}s`
        : this.#count.toLocaleString('en-US');
    this.#stream.write(`\r\u001b[2K${spinner} ${this.#label} ${detail}`);
    this.#lastDraw = Date.now();
    this.#drawn = true;
  }
}
