import type { BrowserContext, Frame, Page } from 'playwright-core';
import { RESTORED_FLAG, type SessionStorageSnapshot } from './session-storage.js';
import { type BrowserState, byCodeUnits } from './state.js';
import { withTimeout } from './with-timeout.js';

type OriginState = BrowserState['origins'][number];
type NameValue = OriginState['localStorage'][number];
type PlaywrightStorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

/**
 * Options of {@link StateCapture}.
 */
export interface StateCaptureOptions {
  /** Bound on Playwright's own calls (cookies, storageState). */
  readonly operationTimeoutMs: number;
}

/**
 * Captures the full state of a Chromium context: cookies, localStorage and IndexedDB per origin (exactly what
 * Playwright's `storageState({ indexedDB: true })` returns) and sessionStorage, which Playwright leaves out.
 *
 * Playwright's capture runs its storage script (a large one) in every origin the context ever visited and
 * serialises every IndexedDB database. Most runs need none of that: the tab still shows the site, and the
 * site keeps no IndexedDB. So one small script per frame reads sessionStorage and, in the pages' main
 * frames, localStorage and the number of IndexedDB databases, while the cookies are fetched alongside. That
 * answer is the state when it covers everything Playwright would have looked at: every origin a frame
 * navigated to since the context opened is shown by a page now, none of them has an IndexedDB database, and
 * origins of the opening state that no frame visited since are unchanged (they are carried over as they
 * were). Otherwise, and whenever a frame does not answer, the capture falls back to Playwright's own.
 * Origins the context restored from its opening state but never showed are not visited again either, where
 * Playwright's own capture opens a hidden page and loads each of them.
 *
 * @example
 * ```ts
 * const capture = new StateCapture(context, openingState, { operationTimeoutMs: 30_000 });
 * context.on('page', (page) => capture.track(page));
 * const state = await capture.capture();
 * ```
 */
export class StateCapture {
  readonly #context: BrowserContext;
  readonly #opened: readonly OriginState[];
  readonly #operationTimeoutMs: number;
  /** Origins (http and https only, as Playwright counts them) that a frame navigated to. */
  readonly #visited = new Set<string>();

  constructor(context: BrowserContext, opened: BrowserState | undefined, options: StateCaptureOptions) {
    this.#context = context;
    this.#opened = opened?.origins ?? [];
    this.#operationTimeoutMs = options.operationTimeoutMs;
  }

  /**
   * Follows the navigations of a page of the context; call it for every page as soon as it appears.
   *
   * Also readies every document the page loads for the capture, while the page goes on loading and the task
   * goes on working: the first evaluation in a document makes Playwright install its evaluation helper
   * there, and the first IndexedDB query of an origin makes Chromium open that origin's IndexedDB backend
   * (each a few milliseconds). Paid here, neither delays the capture after the task. The page sees nothing:
   * `indexedDB.databases()` reads, changes nothing and fires no event.
   */
  track(page: Page): void {
    for (const frame of page.frames()) this.#visit(frame.url());
    page.on('framenavigated', (frame) => this.#visit(frame.url()));
    page.on('domcontentloaded', () => {
      // A navigation or the context's close may cut it short: it only ever saves time, so failures are moot.
      page
        .mainFrame()
        .evaluate(PREPARE_SCRIPT)
        .catch(() => undefined);
    });
  }

  /** The context's state now. */
  async capture(): Promise<BrowserState> {
    const frames: { frame: Frame; main: boolean }[] = [];
    for (const page of this.#context.pages()) {
      if (page.isClosed()) continue;
      const mainFrame = page.mainFrame();
      for (const frame of page.frames()) {
        const url = frame.url();
        if (url === '' || SKIPPED_SCHEMES.some((scheme) => url.startsWith(scheme))) continue;
        frames.push({ frame, main: frame === mainFrame });
      }
    }
    const [cookies, reads] = await Promise.all([
      withTimeout(
        this.#context.cookies(),
        this.#operationTimeoutMs,
        'Chromium did not return the cookies in time',
      ),
      // In parallel; the page order is kept for merging sessionStorage.
      Promise.all(frames.map(({ frame, main }) => readFrame(frame, main))),
    ]);
    const sessionStorage = mergeSessionStorage(reads);
    const origins = this.#originsFrom(frames, reads);
    if (origins) return toBrowserState({ cookies, origins }, sessionStorage);
    const storage = await withTimeout(
      this.#context.storageState({ indexedDB: true }),
      this.#operationTimeoutMs,
      'Chromium did not return the storage state in time',
    );
    return toBrowserState(storage, sessionStorage);
  }

  /** The origins' storage from the frames' answers, or undefined when Playwright's capture is needed. */
  #originsFrom(
    frames: readonly { frame: Frame; main: boolean }[],
    reads: readonly (FrameRead | undefined)[],
  ): OriginState[] | undefined {
    const required = new Set(this.#visited);
    const covered = new Map<string, NameValue[]>();
    for (const [i, { frame, main }] of frames.entries()) {
      if (!main) continue;
      const origin = httpOrigin(frame.url());
      if (origin === undefined) continue;
      required.add(origin);
      const read = reads[i];
      // The frame may have navigated between listing and reading: only an answer from this origin counts.
      if (read?.local === undefined || read.origin !== origin) continue;
      if (read.databases !== 0) return undefined;
      covered.set(origin, read.local);
    }
    for (const origin of required) if (!covered.has(origin)) return undefined;
    const origins: OriginState[] = [];
    for (const [origin, localStorage] of covered) {
      if (localStorage.length > 0) origins.push({ origin, localStorage });
    }
    for (const entry of this.#opened) {
      if (required.has(entry.origin)) continue;
      if (entry.localStorage.length > 0 || (entry.indexedDB?.length ?? 0) > 0) origins.push(entry);
    }
    return origins;
  }

  #visit(url: string): void {
    const origin = httpOrigin(url);
    if (origin !== undefined) this.#visited.add(origin);
  }
}

/** What a frame answered: its origin and sessionStorage; for a main frame, its localStorage and databases. */
interface FrameRead {
  readonly origin: string;
  readonly items: NameValue[];
  /** Main frames only. */
  readonly local?: NameValue[];
  /** Main frames only: how many IndexedDB databases the origin has; -1 when unknown. */
  readonly databases?: number;
}

const SKIPPED_SCHEMES = ['about:', 'data:', 'javascript:', 'chrome-error:', 'chrome:', 'devtools:'];

/** Playwright's storage script leaves out its own coverage keys; so does this one. */
const COVERAGE_PREFIX = '__pwCoverage.';

// Plain source text, not a serialised function: bundlers and test transforms (esbuild's keepNames) inject
// helpers into compiled functions that do not exist in the page.
function readScript(main: boolean): string {
  return `(async () => {
  let origin;
  const items = [];
  try {
    origin = location.origin;
    if (!origin || origin === 'null') return null;
    const storage = window.sessionStorage;
    for (let i = 0; i < storage.length; i++) {
      const name = storage.key(i);
      if (name === null || name === ${JSON.stringify(RESTORED_FLAG)}) continue;
      const value = storage.getItem(name);
      if (value !== null) items.push({ name, value });
    }
  } catch {
    return null;
  }
  const result = { origin, items };
  ${
    main
      ? `try {
    const storage = window.localStorage;
    result.local = Object.keys(storage)
      .filter((name) => !name.startsWith(${JSON.stringify(COVERAGE_PREFIX)}))
      .map((name) => ({ name, value: storage.getItem(name) }));
  } catch {}
  result.databases = -1;
  try {
    result.databases = (await indexedDB.databases()).length;
  } catch {}`
      : ''
  }
  return result;
})()`;
}

const MAIN_FRAME_SCRIPT = readScript(true);
/** See {@link StateCapture.track}. */
const PREPARE_SCRIPT = 'indexedDB.databases().then(() => 0, () => 0)';
const FRAME_SCRIPT = readScript(false);

/** Bound on reading one frame: a page blocked by a dialog or a busy script never answers; it is skipped. */
const FRAME_TIMEOUT_MS = 5000;

async function readFrame(frame: Frame, main: boolean): Promise<FrameRead | undefined> {
  const read = frame.evaluate(main ? MAIN_FRAME_SCRIPT : FRAME_SCRIPT).then(
    (value) => asFrameRead(value, main),
    // Closed page, detached frame, navigation in progress: nothing to read there now.
    () => undefined,
  );
  // `read` never rejects: a rejection is the timeout.
  return withTimeout(read, FRAME_TIMEOUT_MS, 'A frame did not answer in time').catch(() => undefined);
}

/** The page's own scripts run in the same world: its answer is checked, not trusted. */
function asFrameRead(value: unknown, main: boolean): FrameRead | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { origin, items, local, databases } = value as Record<string, unknown>;
  if (typeof origin !== 'string' || origin === 'null' || !isNameValues(items)) return undefined;
  if (!main) return { origin, items };
  return {
    origin,
    items,
    ...(isNameValues(local) ? { local } : {}),
    databases: typeof databases === 'number' && Number.isInteger(databases) ? databases : -1,
  };
}

function isNameValues(value: unknown): value is NameValue[] {
  return (
    Array.isArray(value) &&
    value.every(
      (item: unknown) =>
        typeof item === 'object' &&
        item !== null &&
        typeof (item as NameValue).name === 'string' &&
        typeof (item as NameValue).value === 'string',
    )
  );
}

/**
 * sessionStorage per origin from the frames' answers. It belongs to a tab: when several tabs hold the same
 * origin, their items are merged and the most recently opened tab wins on equal names. Origins with no items
 * are left out; origins and items are sorted so an unchanged state compares equal.
 */
function mergeSessionStorage(reads: readonly (FrameRead | undefined)[]): SessionStorageSnapshot[] {
  const byOrigin = new Map<string, Map<string, string>>();
  for (const read of reads) {
    if (read === undefined) continue;
    let items = byOrigin.get(read.origin);
    if (items === undefined) {
      items = new Map();
      byOrigin.set(read.origin, items);
    }
    for (const { name, value } of read.items) items.set(name, value);
  }
  return [...byOrigin]
    .filter(([, items]) => items.size > 0)
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([origin, items]) => ({
      origin,
      items: [...items].sort(([a], [b]) => byCodeUnits(a, b)).map(([name, value]) => ({ name, value })),
    }));
}

/** The origin Playwright records for a frame URL: http(s) only. */
function httpOrigin(url: string): string | undefined {
  if (!url.startsWith('http')) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** Playwright's storageState reduced to the fields {@link BrowserState} keeps, plus sessionStorage when any. */
export function toBrowserState(
  storage: Pick<PlaywrightStorageState, 'cookies'> & { origins: readonly unknown[] },
  sessionStorage: SessionStorageSnapshot[],
): BrowserState {
  const cookies = storage.cookies.map((cookie) => {
    const { partitionKey } = cookie as { partitionKey?: unknown };
    return {
      name: cookie.name,
      value: cookie.value,
      domain: cookie.domain,
      path: cookie.path,
      expires: cookie.expires,
      httpOnly: cookie.httpOnly,
      secure: cookie.secure,
      sameSite: cookie.sameSite,
      ...(typeof partitionKey === 'string' ? { partitionKey } : {}),
    };
  });
  const origins = (storage.origins as OriginState[]).map((origin) => {
    const { indexedDB } = origin as { indexedDB?: unknown };
    return {
      origin: origin.origin,
      localStorage: origin.localStorage.map(({ name, value }) => ({ name, value })),
      ...(Array.isArray(indexedDB) && indexedDB.length > 0 ? { indexedDB: indexedDB as unknown[] } : {}),
    };
  });
  return sessionStorage.length > 0 ? { cookies, origins, sessionStorage } : { cookies, origins };
}
