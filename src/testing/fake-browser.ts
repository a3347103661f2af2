import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import type { BrowserContext, Page } from 'playwright-core';
import type {
  BrowserProvider,
  BrowserProviderStats,
  ContextLease,
  ContextRequest,
  DeviceProfile,
  ProxySettings,
} from '../browser/provider.js';
import { abortError, Slots } from '../browser/slots.js';
import { type BrowserState, browserStateSchema, type StateCookie } from '../browser/state.js';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import { FakePage, type FakePageHost, FakeTargetClosedError } from './fake-page.js';
import type { FakeSite } from './fake-site.js';
import {
  CookieJar,
  cookieMatches,
  type FakeClearCookiesFilter,
  type FakeCookieParam,
} from './fake-storage.js';

/**
 * Options of {@link FakeBrowserProvider}.
 *
 * @example
 * ```ts
 * const browser = new FakeBrowserProvider({ sites: [crm, portal], maxContexts: 2, failFastWaits: true });
 * ```
 */
export interface FakeBrowserProviderOptions {
  /** The sites the fake browser can reach, by origin. Any other origin fails with `net::ERR_NAME_NOT_RESOLVED`. */
  readonly sites?: readonly FakeSite[];
  /** Shorthand for `sites: [site]`. */
  readonly site?: FakeSite;
  /**
   * Contexts open at once; further `newContext` calls wait (abortably, in FIFO order) for one to close.
   * @default 8
   */
  readonly maxContexts?: number;
  /**
   * Clock deciding when cookies expire in the fake browser.
   * @default the first site's clock, else systemClock
   */
  readonly clock?: Clock;
  /**
   * When true, a wait (`waitForURL`, `waitForSelector`, an action's wait for its element…) whose condition
   * does not hold once the page is idle fails at once with Playwright's `TimeoutError`, instead of waiting
   * out its timeout: a fake page only changes through calls on it, so waiting longer cannot help, and a
   * wrong-password test takes microseconds, not 30 s. Set false when something outside the page's own calls
   * changes it later (a scripted "person" on a timer); waits then honour their timeouts in real time.
   * @default true
   */
  readonly failFastWaits?: boolean;
}

/**
 * What the fake recorded of a {@link ContextRequest} (everything but the signal).
 *
 * @example
 * ```ts
 * expect(browser.lastRequest?.proxy?.server).toBe('http://proxy.test:8080');
 * ```
 */
export interface FakeContextRequestRecord {
  readonly state: BrowserState | undefined;
  readonly proxy: ProxySettings | undefined;
  readonly device: DeviceProfile | undefined;
  readonly headless: boolean | undefined;
}

/**
 * Playwright's `storageState()` result (no sessionStorage, as in Playwright).
 *
 * @example
 * ```ts
 * const state: FakeStorageState = await fakeContext.storageState();
 * ```
 */
export interface FakeStorageState {
  readonly cookies: StateCookie[];
  readonly origins: BrowserState['origins'];
}

/**
 * A script recorded by `addInitScript` (the fake does not run it).
 *
 * @example
 * ```ts
 * expect(browser.lastContext?.initScripts).toHaveLength(1);
 * ```
 */
export interface FakeInitScript {
  readonly script: unknown;
  readonly arg: unknown;
}

interface ContextInit {
  readonly sites: ReadonlyMap<string, FakeSite>;
  readonly clock: Clock;
  readonly failFastWaits: boolean;
  readonly request: FakeContextRequestRecord;
  readonly onClose: (context: FakeBrowserContext) => void;
}

/**
 * A Playwright-like browser context over {@link FakeSite}s: cookie jar, localStorage and sessionStorage per
 * origin, pages. Handed out cast to Playwright's `BrowserContext`; tests reach the fake itself through
 * `FakeBrowserProvider.lastContext` / `.contexts` to assert on `proxy` and `device`.
 *
 * @example
 * ```ts
 * const lease = await browser.newContext({ proxy: { server: 'http://proxy.test:8080' } });
 * expect(browser.lastContext?.proxy?.server).toBe('http://proxy.test:8080');
 * ```
 */
export class FakeBrowserContext implements FakePageHost {
  /** The proxy the context was asked to use. */
  readonly proxy: ProxySettings | undefined;
  /** The device profile the context was asked to present. */
  readonly device: DeviceProfile | undefined;
  /** The `headless` flag of the request. */
  readonly headless: boolean | undefined;
  /** @internal */
  readonly jar: CookieJar;
  /** @internal */
  readonly failFastWaits: boolean;

  readonly #sites: ReadonlyMap<string, FakeSite>;
  readonly #onClose: (context: FakeBrowserContext) => void;
  readonly #events = new EventEmitter();
  readonly #pages: FakePage[] = [];
  readonly #initScripts: FakeInitScript[] = [];
  readonly #local = new Map<string, Map<string, string>>();
  readonly #session = new Map<string, Map<string, string>>();
  readonly #indexedDB = new Map<string, unknown[]>();
  #defaultTimeout: number | undefined;
  #closed = false;

  /** @internal Created by {@link FakeBrowserProvider.newContext}. */
  constructor(init: ContextInit) {
    this.#sites = init.sites;
    this.#onClose = init.onClose;
    this.failFastWaits = init.failFastWaits;
    this.proxy = init.request.proxy;
    this.device = init.request.device;
    this.headless = init.request.headless;
    this.jar = new CookieJar(init.clock);
    const state = init.request.state;
    if (state) {
      for (const cookie of state.cookies) this.jar.set(cookie);
      for (const origin of state.origins) {
        if (origin.localStorage.length > 0) {
          this.#local.set(origin.origin, new Map(origin.localStorage.map((i) => [i.name, i.value])));
        }
        if (origin.indexedDB !== undefined)
          this.#indexedDB.set(origin.origin, structuredClone(origin.indexedDB));
      }
      for (const entry of state.sessionStorage ?? []) {
        this.#session.set(entry.origin, new Map(entry.items.map((i) => [i.name, i.value])));
      }
    }
  }

  /** @internal */
  get api(): FakeBrowserContext {
    return this;
  }

  /** @internal */
  siteFor(origin: string): FakeSite | undefined {
    return this.#sites.get(origin);
  }

  /** @internal */
  localStorageFor(origin: string): Map<string, string> {
    return mapFor(this.#local, origin);
  }

  /** @internal */
  sessionStorageFor(origin: string): Map<string, string> {
    return mapFor(this.#session, origin);
  }

  /** @internal */
  defaultTimeout(): number | undefined {
    return this.#defaultTimeout;
  }

  /** @internal */
  pageClosed(page: FakePage): void {
    const i = this.#pages.indexOf(page);
    if (i >= 0) this.#pages.splice(i, 1);
  }

  /** True once the context is closed. */
  isClosed(): boolean {
    return this.#closed;
  }

  /** Scripts passed to `addInitScript`, in order (recorded, not run). */
  get initScripts(): readonly FakeInitScript[] {
    return this.#initScripts;
  }

  /** Opens a page; emits `page`. */
  async newPage(): Promise<FakePage> {
    this.#ensureOpen('browserContext.newPage');
    const page = new FakePage(this);
    this.#pages.push(page);
    this.#emit('page', page);
    return page;
  }

  /** Open pages. */
  pages(): FakePage[] {
    return [...this.#pages];
  }

  /** Always null, as for a persistent context. */
  browser(): null {
    return null;
  }

  /** Cookies, all or those sent to the given URLs (Playwright's shape, `expires` in seconds). */
  async cookies(urls?: string | readonly string[]): Promise<StateCookie[]> {
    this.#ensureOpen('browserContext.cookies');
    const all = this.jar.all();
    if (urls === undefined) return all;
    const list = (typeof urls === 'string' ? [urls] : [...urls]).map((u) => new URL(u));
    if (list.length === 0) return all;
    return all.filter((c) => list.some((u) => cookieMatches(c, u)));
  }

  /** Adds cookies (each with `url`, or `domain` and `path`), validated as Playwright does. */
  async addCookies(cookies: readonly FakeCookieParam[]): Promise<void> {
    this.#ensureOpen('browserContext.addCookies');
    this.jar.add('browserContext.addCookies', cookies);
  }

  /** Removes cookies, all or those matching the filter. */
  async clearCookies(filter?: FakeClearCookiesFilter): Promise<void> {
    this.#ensureOpen('browserContext.clearCookies');
    this.jar.clear(filter);
  }

  /**
   * Playwright's `storageState()`: cookies and localStorage per origin (IndexedDB when asked and present).
   * Writes the JSON to `path` when given.
   */
  async storageState(options?: { path?: string; indexedDB?: boolean }): Promise<FakeStorageState> {
    this.#ensureOpen('browserContext.storageState');
    const state: FakeStorageState = {
      cookies: this.jar.all(),
      origins: this.#origins(options?.indexedDB === true),
    };
    if (options?.path !== undefined) await writeFile(options.path, JSON.stringify(state, null, 2));
    return state;
  }

  /**
   * The full state as the library stores it: `storageState` with IndexedDB, plus sessionStorage per origin.
   *
   * @example
   * ```ts
   * const state = browser.lastContext!.captureState();
   * ```
   */
  captureState(): BrowserState {
    this.#ensureOpen('browserContext.storageState');
    const sessionStorage = [...this.#session]
      .filter(([, items]) => items.size > 0)
      .map(([origin, items]) => ({ origin, items: [...items].map(([name, value]) => ({ name, value })) }));
    return {
      cookies: this.jar.all(),
      origins: this.#origins(true),
      ...(sessionStorage.length > 0 ? { sessionStorage } : {}),
    };
  }

  /** Records an init script; the fake does not run it (state is seeded directly). */
  async addInitScript(script: unknown, arg?: unknown): Promise<void> {
    this.#ensureOpen('browserContext.addInitScript');
    this.#initScripts.push({ script, arg });
  }

  /** Default timeout for pages of this context (used in messages; waits fail at once by default). */
  setDefaultTimeout(timeout: number): void {
    this.#defaultTimeout = timeout;
  }

  /** Accepted for compatibility. */
  setDefaultNavigationTimeout(_timeout: number): void {}

  /** Closes every page, then the context (idempotent); emits `close` and frees the provider's slot. */
  async close(_options?: { reason?: string }): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const page of this.#pages.splice(0)) page.closeFromContext();
    this.#emit('close', this);
    this.#onClose(this);
  }

  /** Adds a listener: `close`, `page`. */
  on(event: string, listener: (...args: never[]) => unknown): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Adds a one-time listener. */
  once(event: string, listener: (...args: never[]) => unknown): this {
    this.#events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener. */
  off(event: string, listener: (...args: never[]) => unknown): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Alias of {@link FakeBrowserContext.off}. */
  removeListener(event: string, listener: (...args: never[]) => unknown): this {
    return this.off(event, listener);
  }

  /** Readable in the REPL and in test failures; never shows cookies, storage or the proxy password. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const proxy = this.proxy ? `'${this.proxy.server}'` : 'none';
    return `FakeBrowserContext { pages: ${this.#pages.length}, cookies: ${this.jar.all().length}, proxy: ${proxy}, closed: ${this.#closed} }`;
  }

  #origins(withIndexedDB: boolean): BrowserState['origins'] {
    const names = new Set<string>();
    for (const [origin, items] of this.#local) if (items.size > 0) names.add(origin);
    if (withIndexedDB) for (const origin of this.#indexedDB.keys()) names.add(origin);
    return [...names].map((origin) => {
      const localStorage = [...(this.#local.get(origin) ?? [])].map(([name, value]) => ({ name, value }));
      const indexedDB = withIndexedDB ? this.#indexedDB.get(origin) : undefined;
      return indexedDB === undefined
        ? { origin, localStorage }
        : { origin, localStorage, indexedDB: structuredClone(indexedDB) };
    });
  }

  #ensureOpen(method: string): void {
    if (this.#closed) throw new FakeTargetClosedError(method);
  }

  #emit(event: string, ...args: unknown[]): void {
    try {
      this.#events.emit(event, ...args);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

/**
 * A {@link BrowserProvider} without a browser: contexts are {@link FakeBrowserContext}s over
 * {@link FakeSite}s, bounded by `maxContexts` like the real provider, so unit tests of orchestration and
 * hooks run in milliseconds. Records every request (proxy, device, state) and can fail on demand.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const site = new FakeSite({ clock });
 * site.addUser('alice', 's3cret');
 * const browser = new FakeBrowserProvider({ site, maxContexts: 2 });
 * const manager = new AuthSessionManager({ auths, browser, clock });
 * ```
 */
export class FakeBrowserProvider implements BrowserProvider {
  /** The reachable sites, by origin. */
  readonly sites: ReadonlyMap<string, FakeSite>;
  /** The clock of cookie expiry. */
  readonly clock: Clock;
  /** The bound on open contexts. */
  readonly maxContexts: number;

  readonly #slots: Slots;
  readonly #failFastWaits: boolean;
  readonly #open = new Set<FakeBrowserContext>();
  readonly #requests: FakeContextRequestRecord[] = [];
  readonly #failures: unknown[] = [];
  #lastContext: FakeBrowserContext | undefined;
  #opened = 0;
  #closed = false;

  constructor(options: FakeBrowserProviderOptions = {}) {
    const list = [...(options.sites ?? []), ...(options.site ? [options.site] : [])];
    const sites = new Map<string, FakeSite>();
    for (const site of list) {
      if (sites.has(site.origin) && sites.get(site.origin) !== site) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `FakeBrowserProvider: two sites share the origin ${site.origin}`,
        );
      }
      sites.set(site.origin, site);
    }
    const max = options.maxContexts ?? 8;
    if (!Number.isInteger(max) || max < 1) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `FakeBrowserProvider: maxContexts must be a positive integer, got ${max}`,
      );
    }
    this.sites = sites;
    this.maxContexts = max;
    this.clock = options.clock ?? list[0]?.clock ?? systemClock;
    this.#failFastWaits = options.failFastWaits ?? true;
    this.#slots = new Slots(max);
  }

  /**
   * Opens a context seeded with `request.state`, after waiting for a free slot (abortable through
   * `request.signal`: the wait then rejects with the signal's error).
   */
  async newContext(request: ContextRequest = {}): Promise<ContextLease> {
    this.#ensureOpen();
    const record: FakeContextRequestRecord = {
      state: request.state,
      proxy: request.proxy,
      device: request.device,
      headless: request.headless,
    };
    this.#requests.push(record);
    const release = await this.#slots.acquire(request.signal);
    let context: FakeBrowserContext;
    try {
      this.#ensureOpen();
      if (request.signal?.aborted) throw abortError(request.signal);
      if (this.#failures.length > 0) throw this.#failures.shift();
      if (request.state !== undefined) validateState(request.state);
      context = new FakeBrowserContext({
        sites: this.sites,
        clock: this.clock,
        failFastWaits: this.#failFastWaits,
        request: record,
        onClose: (ctx) => {
          this.#open.delete(ctx);
          release();
        },
      });
    } catch (err) {
      release();
      throw err;
    }
    this.#open.add(context);
    this.#opened++;
    this.#lastContext = context;
    return {
      context: context as unknown as BrowserContext,
      newPage: async () => (await context.newPage()) as unknown as Page,
      captureState: async () => context.captureState(),
      close: () => context.close(),
    };
  }

  /** Open contexts and pages, waiting requests, contexts opened so far. */
  stats(): BrowserProviderStats {
    let openPages = 0;
    for (const context of this.#open) openPages += context.pages().length;
    return {
      openContexts: this.#open.size,
      openPages,
      waiting: this.#slots.waiting,
      contextsOpened: this.#opened,
    };
  }

  /** Closes every context and rejects waiting requests with `CLOSED`; later `newContext` calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#slots.rejectAll(new AuthSessionError('CLOSED', 'The fake browser provider is closed'));
    await Promise.all([...this.#open].map((context) => context.close()));
  }

  /**
   * Makes the next `newContext` reject with `error` (after its slot wait), as when a browser fails to launch.
   * Calls queue up: two calls fail the next two contexts.
   *
   * @example
   * ```ts
   * browser.failNextContext(new Error('browserType.launch: Executable doesn\'t exist'));
   * ```
   */
  failNextContext(
    error: unknown = new Error('browser.newContext: Target page, context or browser has been closed'),
  ): void {
    this.#failures.push(error);
  }

  /** The last request received, or undefined. */
  get lastRequest(): FakeContextRequestRecord | undefined {
    return this.#requests.at(-1);
  }

  /** Every request received, in order. */
  get requests(): readonly FakeContextRequestRecord[] {
    return [...this.#requests];
  }

  /** The contexts open now. */
  get contexts(): readonly FakeBrowserContext[] {
    return [...this.#open];
  }

  /** The most recently opened context (open or closed), or undefined. */
  get lastContext(): FakeBrowserContext | undefined {
    return this.#lastContext;
  }

  /** Readable in the REPL. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const s = this.stats();
    return `FakeBrowserProvider { sites: [${[...this.sites.keys()].map((o) => `'${o}'`).join(', ')}], openContexts: ${s.openContexts}, openPages: ${s.openPages}, waiting: ${s.waiting}, closed: ${this.#closed} }`;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new AuthSessionError('CLOSED', 'The fake browser provider is closed');
  }
}

function mapFor(maps: Map<string, Map<string, string>>, origin: string): Map<string, string> {
  let map = maps.get(origin);
  if (!map) {
    map = new Map();
    maps.set(origin, map);
  }
  return map;
}

/** Rejects malformed states the way Playwright rejects a bad storageState, naming paths, never values. */
function validateState(state: BrowserState): void {
  const parsed = browserStateSchema.safeParse(state);
  if (parsed.success) return;
  const paths = parsed.error.issues.map((i) => i.path.join('.') || '(root)');
  throw new Error(
    `browser.newContext: invalid storageState at ${[...new Set(paths)].slice(0, 5).join(', ')}`,
  );
}
