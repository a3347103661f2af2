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

/** Makes a {@link Paint}. The text is data more often than not: its control characters are escaped. */
export function painter(enabled: boolean): Paint {
  return (style, text) => {
    const safe = escapeControl(text);
    return enabled ? `\u001b[${ANSI[style][0]}m${safe}\u001b[${ANSI[style][1]}m` : safe;
  };
}

/** The SGR sequences {@link painter} writes, and nothing else, survive {@link safeText}. */
const OWN_SGR: ReadonlySet<string> = new Set(
  Object.values(ANSI).flatMap(([on, off]) => [`\u001b[${on}m`, `\u001b[${off}m`]),
);

/**
 * True for characters a terminal may act on instead of showing: C0 controls (tab and newline included),
 * DEL, C1 controls (0x9b is a one-byte CSI on some terminals), the line and paragraph separators, and the
 * bidirectional overrides and isolates (which can make shown text differ from what it is).
 */
function isControl(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

function escapeChar(code: number): string {
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Escapes every control character of a value that came from data (a label, an id, a failure text, an input
 * message): `\x1b]0;title\x07` is shown as those characters instead of retitling the operator's terminal.
 * Newlines and tabs are escaped too, so a value stays on its line or in its cell.
 *
 * @example
 * ```ts
 * escapeControl('a\u001b[2Jb'); // 'a\\x1b[2Jb'
 * ```
 */
export function escapeControl(text: string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isControl(code)) continue;
    out += text.slice(start, i) + escapeChar(code);
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/**
 * Text about to be written: every control character escaped as by {@link escapeControl}, except the colour
 * sequences the CLI's own {@link painter} writes and, unless `singleLine`, newlines. Applied to every line
 * and table cell the CLI prints, so data that reached a line unpainted is made safe too.
 *
 * @example
 * ```ts
 * stream.write(`${safeText(line)}\n`);
 * ```
 */
export function safeText(text: string, singleLine = false): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isControl(code) || (code === 0x0a && !singleLine)) continue;
    if (code === 0x1b) {
      const end = text.indexOf('m', i);
      if (end > i && end - i <= 5 && OWN_SGR.has(text.slice(i, end + 1))) {
        i = end;
        continue;
      }
    }
    out += text.slice(start, i) + escapeChar(code);
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/**
 * JSON for `--json` output. `JSON.stringify` leaves C1 controls, U+2028/2029 and bidirectional controls
 * as they are; they are escaped here (still valid JSON that parses to the same value).
 */
export function safeJson(value: unknown): string {
  const json = JSON.stringify(value, null, 2) ?? 'null';
  let out = '';
  let start = 0;
  for (let i = 0; i < json.length; i++) {
    const code = json.charCodeAt(i);
    if (!isControl(code) || code === 0x0a) continue;
    out += `${json.slice(start, i)}\\u${code.toString(16).padStart(4, '0')}`;
    start = i + 1;
  }
  return start === 0 ? json : out + json.slice(start);
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
  const cells = rows.map((r) => r.map((cell) => safeText(cell, true)));
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell))))
      .join('  ')
      .trimEnd();
  return [paint('bold', line(headers)), ...cells.map(line)].join('\n');
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
