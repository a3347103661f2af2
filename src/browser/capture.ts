import { randomBytes } from 'node:crypto';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import {
  asFrameRead,
  type FrameRead,
  leavingScript,
  type RuntimeSession,
  readFrame,
  readMainFrame,
  SKIPPED_SCHEMES,
} from './capture-scripts.js';
import type { CaptureStateOptions } from './provider.js';
import { untracked } from './run-hygiene.js';
import type { SessionStorageSnapshot } from './session-storage.js';
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
 * frames (and frames of the same host as their page, whose storage is not partitioned), localStorage and
 * the number of IndexedDB databases, while the cookies are fetched alongside. Origins no page shows any more
 * are answered by what their last document knew as it left: once {@link StateCapture.install} ran, every
 * document reports its origin's localStorage and sessionStorage when it unloads (a navigation to another
 * origin, a redirect through a page, a popup closing itself), and a page closed with `page.close()` is read
 * just before it closes. That answer is the state when it covers everything Playwright would have looked
 * at: every origin a frame navigated to since the context opened is shown by a page now or was reported by
 * the last document that showed it, none of them uses IndexedDB, and origins of the opening state that no
 * frame visited since are unchanged (they are carried over as they were). Otherwise (a document that left
 * without a word, an origin seen only in a frame of another host, IndexedDB), and whenever a frame does not
 * answer, the capture falls back to Playwright's own. Origins the context restored from its opening state
 * but never showed are not visited again either, where Playwright's own capture opens a hidden page and
 * loads each of them.
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
  /** localStorage of origins as the last document that reported it knew it (a report or a live read). */
  readonly #known = new Map<string, NameValue[]>();
  /** Origins whose storage is unknown: a page left them without a report, or a report said IndexedDB. */
  readonly #unknown = new Map<string, Set<Page | typeof INDEXED_DB>>();
  /** Per page: the origin its main frame shows and whether its current document reported on leaving. */
  readonly #shown = new Map<Page, { origin: string | undefined; reported: boolean }>();
  /** sessionStorage per open page and origin, as reported by documents that left (a tab keeps it per origin). */
  readonly #sessions = new Map<Page, Map<string, NameValue[]>>();
  /** The same for pages that have closed, per origin (the latest report wins): bounded by the origins. */
  readonly #closedSessions = new Map<string, NameValue[]>();
  /** Per page: a CDP session to read its main frame with (opened as the page appears, off the task's path). */
  readonly #readers = new WeakMap<Page, Promise<RuntimeSession | undefined>>();
  #installed = false;

  constructor(context: BrowserContext, opened: BrowserState | undefined, options: StateCaptureOptions) {
    this.#context = context;
    this.#opened = opened?.origins ?? [];
    this.#operationTimeoutMs = options.operationTimeoutMs;
  }

  /**
   * Follows the navigations of a page of the context; call it for every page as soon as it appears.
   *
   * It does nothing in the page while the task works: readying each document for the capture as it loads
   * (Playwright's evaluation helper, the origin's IndexedDB backend) was tried, and it slowed the task's own
   * page loads by more than it saved the capture afterwards.
   */
  track(page: Page): void {
    this.#openReader(page);
    for (const frame of page.frames()) this.#visit(frame.url());
    this.#shown.set(page, { origin: httpOrigin(page.mainFrame().url()), reported: false });
    page.on('framenavigated', (frame) => {
      this.#visit(frame.url());
      if (frame === page.mainFrame()) this.#mainNavigated(page, httpOrigin(frame.url()));
    });
    page.once('close', () => {
      this.#left(page);
      this.#shown.delete(page);
      for (const [origin, items] of this.#sessions.get(page) ?? []) this.#closedSessions.set(origin, items);
      this.#sessions.delete(page);
    });
    if (this.#installed) this.#readBeforeClose(page);
  }

  /**
   * Asks every document of the context to report its storage as it unloads (a binding and an init script,
   * added once, before any page opens), so origins a page left need not be loaded again at capture time.
   * Without it (or when it fails) such origins make the capture fall back to Playwright's.
   */
  async install(): Promise<void> {
    const name = `__authSessionsLeaving_${randomBytes(6).toString('hex')}`;
    await this.#context.exposeBinding(name, (source: BindingSource, payload: unknown) =>
      this.#report(source, payload),
    );
    await this.#context.addInitScript({ content: leavingScript(name) });
    this.#installed = true;
    for (const page of this.#context.pages()) this.#readBeforeClose(page);
  }

  /**
   * The context's state now. Pages in `inUse` (other runs') are left unread when they show one origin whose
   * storage is known (see `#answered`): their sessionStorage and their origin's
   * localStorage are then what their documents last reported or showed, and their runs capture them live
   * when they end.
   */
  async capture(options: CaptureStateOptions = {}): Promise<BrowserState> {
    const frames: { frame: Frame; main: boolean; page: Page }[] = [];
    for (const page of this.#context.pages()) {
      if (page.isClosed()) continue;
      if (options.inUse?.has(page) && this.#answered(page)) continue;
      const mainFrame = page.mainFrame();
      const host = hostOf(mainFrame.url());
      for (const frame of page.frames()) {
        const url = frame.url();
        if (unreadable(url)) continue;
        // A frame of the page's own host sees the origin's own (unpartitioned) localStorage.
        frames.push({
          frame,
          main: frame === mainFrame || (host !== undefined && hostOf(url) === host),
          page,
        });
      }
    }
    const [cookies, reads] = await Promise.all([
      withTimeout(
        this.#context.cookies(),
        this.#operationTimeoutMs,
        'Chromium did not return the cookies in time',
      ),
      // In parallel; the page order is kept for merging sessionStorage.
      Promise.all(
        frames.map(({ frame, main, page }) =>
          frame === page.mainFrame() ? this.#readMain(page, frame) : readFrame(frame, main),
        ),
      ),
    ]);
    const sessionStorage = mergeSessionStorage([...this.#reportedSessions(frames, reads), ...reads]);
    const origins = this.#originsFrom(frames, reads);
    if (origins) return toBrowserState({ cookies, origins }, sessionStorage);
    const storage = await withTimeout(
      this.#context.storageState({ indexedDB: true }),
      this.#operationTimeoutMs,
      'Chromium did not return the storage state in time',
    );
    return toBrowserState(storage, sessionStorage);
  }

  /**
   * Whether a page can be left unread: its only frame with a document of its own to read is the main one,
   * which shows nothing readable or an origin whose localStorage is known and not in doubt.
   */
  #answered(page: Page): boolean {
    const main = page.mainFrame();
    for (const frame of page.frames()) {
      if (frame !== main && !unreadable(frame.url())) return false;
    }
    if (unreadable(main.url())) return true;
    const origin = httpOrigin(main.url());
    return origin !== undefined && this.#known.has(origin) && (this.#unknown.get(origin)?.size ?? 0) === 0;
  }

  /**
   * Opens the page's CDP session for {@link StateCapture.capture} (the context's own `newCDPSession`: the
   * library's session does not count as the task's, see run-hygiene.ts). A page without one is read the
   * Playwright way.
   */
  #openReader(page: Page): void {
    if (this.#readers.has(page)) return;
    const open = untracked(this.#context, 'newCDPSession') as unknown;
    if (typeof open !== 'function') return;
    const opening = Promise.resolve()
      .then(() => (open as (page: Page) => Promise<RuntimeSession>)(page))
      .catch(() => undefined);
    this.#readers.set(page, opening);
  }

  /** A page's main frame, read through the page's CDP session when it has one, else the Playwright way. */
  async #readMain(page: Page, frame: Frame): Promise<FrameRead | undefined> {
    const session = await this.#readers.get(page);
    const read = session ? await readMainFrame(session) : null;
    return read === null ? readFrame(frame, true) : read;
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
    // What live documents show now is the newest knowledge of their origins.
    for (const [origin, local] of covered) {
      this.#known.set(origin, local);
      this.#unknown.delete(origin);
    }
    for (const origin of required) {
      if (covered.has(origin)) continue;
      const known = this.#known.get(origin);
      if (known === undefined || (this.#unknown.get(origin)?.size ?? 0) > 0) return undefined;
      // An origin whose IndexedDB came with the opening state: only Playwright reads that.
      if (this.#opened.some((o) => o.origin === origin && (o.indexedDB?.length ?? 0) > 0)) return undefined;
      covered.set(origin, known);
    }
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

  /** A page's main frame committed a document of `origin`. */
  #mainNavigated(page: Page, origin: string | undefined): void {
    const shown = this.#shown.get(page);
    // Same origin (a reload, a same-document navigation): the page still shows it; a live read covers it.
    if (shown && shown.origin === origin) {
      shown.reported = false;
      return;
    }
    this.#left(page);
    this.#shown.set(page, { origin, reported: false });
  }

  /** The page's main frame no longer shows its origin: unknown unless its document reported. */
  #left(page: Page): void {
    const shown = this.#shown.get(page);
    if (shown?.origin === undefined || shown.reported) return;
    this.#mark(shown.origin, page);
  }

  #mark(origin: string, by: Page | typeof INDEXED_DB): void {
    let set = this.#unknown.get(origin);
    if (!set) {
      set = new Set();
      this.#unknown.set(origin, set);
    }
    set.add(by);
  }

  /** A document's report as it unloads (the page's own scripts share its world: checked, not trusted). */
  #report(source: BindingSource, payload: unknown): void {
    const page = source.page;
    if (!page || source.frame !== page.mainFrame()) return;
    if (typeof payload !== 'string' || payload.length > MAX_REPORT_CHARS) return;
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch {
      return;
    }
    const read = asFrameRead(value, true);
    // Only the origin the frame shows may report, and only for itself.
    if (read?.local === undefined || read.origin !== httpOrigin(source.frame.url())) return;
    this.#remember(page, read, (value as { idb?: unknown }).idb === true);
  }

  #remember(page: Page, read: FrameRead, indexedDB: boolean): void {
    const origin = read.origin;
    const shown = this.#shown.get(page);
    if (shown?.origin === origin) shown.reported = true;
    // The report may arrive after the navigation it announced: it clears the mark that navigation left.
    this.#unknown.get(origin)?.delete(page);
    if (read.local) this.#known.set(origin, read.local);
    if (indexedDB) this.#mark(origin, INDEXED_DB);
    if (page.isClosed()) {
      this.#closedSessions.set(origin, read.items);
      return;
    }
    let sessions = this.#sessions.get(page);
    if (!sessions) {
      sessions = new Map();
      this.#sessions.set(page, sessions);
    }
    sessions.set(origin, read.items);
  }

  /** Shadows `page.close()` so a page closed by a task is read first (bounded). */
  #readBeforeClose(page: Page): void {
    const original = page.close;
    if (typeof original !== 'function' || Object.hasOwn(page, 'close')) return;
    const capture = this;
    const close = async function (this: Page, ...args: Parameters<Page['close']>): Promise<void> {
      const shown = capture.#shown.get(page);
      if (shown?.origin !== undefined && !page.isClosed()) {
        const frame = page.mainFrame();
        const read = await readFrame(frame, true, LAST_READ_TIMEOUT_MS);
        if (read?.local !== undefined && read.origin === shown.origin && read.databases === 0) {
          capture.#remember(page, read, false);
        }
      }
      return original.apply(this, args);
    };
    Object.defineProperty(page, 'close', { value: close, configurable: true, writable: true });
  }

  /** sessionStorage reported by documents that left, unless their page shows that origin again now. */
  #reportedSessions(
    frames: readonly { frame: Frame; page: Page }[],
    reads: readonly (FrameRead | undefined)[],
  ): FrameRead[] {
    const live = new Set<string>();
    for (const [i, { page }] of frames.entries()) {
      const read = reads[i];
      if (read) live.add(`${this.#pageIndex(page)}\0${read.origin}`);
    }
    const out: FrameRead[] = [];
    for (const [origin, items] of this.#closedSessions) out.push({ origin, items });
    for (const [page, sessions] of this.#sessions) {
      for (const [origin, items] of sessions) {
        if (live.has(`${this.#pageIndex(page)}\0${origin}`)) continue;
        out.push({ origin, items });
      }
    }
    return out;
  }

  readonly #pageIds = new WeakMap<Page, number>();
  #nextPageId = 0;
  #pageIndex(page: Page): number {
    let id = this.#pageIds.get(page);
    if (id === undefined) {
      id = this.#nextPageId++;
      this.#pageIds.set(page, id);
    }
    return id;
  }
}

/** What Playwright passes a binding as its first argument. */
interface BindingSource {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly frame: Frame;
}

/** Marks an origin whose report said IndexedDB is in use. */
const INDEXED_DB = Symbol('indexedDB');
/** Reports larger than this are ignored (the origin then counts as unknown). */
const MAX_REPORT_CHARS = 4 * 1024 * 1024;
/** Bound on reading a page a task closes. */
const LAST_READ_TIMEOUT_MS = 2000;

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

/** A URL whose document the capture does not read (no document yet, or a scheme without site storage). */
function unreadable(url: string): boolean {
  return url === '' || SKIPPED_SCHEMES.some((scheme) => url.startsWith(scheme));
}

/** Scheme and host of a URL (no port: a site ignores ports), http(s) only. */
function hostOf(url: string): string | undefined {
  if (!url.startsWith('http')) return undefined;
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}`;
  } catch {
    return undefined;
  }
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
