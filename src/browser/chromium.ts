import type { Browser, BrowserContext, LaunchOptions, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import { StateCapture } from './capture.js';
import type { ChromiumProviderOptions } from './chromium-options.js';
import { contextOptions } from './context-options.js';
import { findChromium } from './find-executable.js';
import { stripUrlCredentials } from './network-errors.js';
import type {
  BrowserProvider,
  BrowserProviderStats,
  CaptureStateOptions,
  ContextLease,
  ContextRequest,
} from './provider.js';
import { sessionStorageInitScript } from './session-storage.js';
import { raceAbort, Slots } from './slots.js';
import type { BrowserState } from './state.js';
import { withTimeout } from './with-timeout.js';

type Mode = 'headless' | 'headed';

/** One browser launch, shared by every request of its mode. */
interface Launch {
  readonly promise: Promise<Browser>;
  browser: Browser | undefined;
}

/** Arguments every launch gets: what Chromium needs in containers and CI, and nothing that phones home. */
const BASE_ARGS = [
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** Bound on opening a context or a page and on reading state: a healthy browser answers in well under a second. */
const OPERATION_TIMEOUT_MS = 30_000;
/** Bound on closing a context or a browser; past it the resources are given up on and the slot is freed. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * The default {@link BrowserProvider}: real Chromium through `playwright-core`. The browser is launched on the
 * first request (once, however many requests arrive together) and reused; if it crashes, the next request
 * launches a new one. At most `maxContexts` contexts are open at once; the rest wait for a slot, and that wait
 * can be aborted with the request's `signal`. Every context gets the session's full state (cookies,
 * localStorage, IndexedDB and, through an init script, sessionStorage), proxy and device profile.
 *
 * @example
 * ```ts
 * const browser = new ChromiumProvider({ maxContexts: 2 });
 * const lease = await browser.newContext({ state, proxy: { server: 'http://127.0.0.1:8080' } });
 * try {
 *   const page = await lease.newPage();
 *   await page.goto('https://crm.example/home');
 *   state = await lease.captureState();
 * } finally {
 *   await lease.close();
 * }
 * await browser.close();
 * ```
 */
export class ChromiumProvider implements BrowserProvider {
  readonly #headless: boolean;
  readonly #args: readonly string[];
  readonly #launchTimeoutMs: number;
  readonly #launchOptions: Omit<LaunchOptions, 'headless' | 'executablePath' | 'timeout'>;
  readonly #slots: Slots;
  readonly #launches = new Map<Mode, Launch>();
  readonly #leases = new Set<ChromiumLease>();
  readonly #pages = new Set<Page>();
  #contextsOpened = 0;
  #closing: Promise<void> | undefined;

  /** The caller's browser (`browser` option): used for every request, never launched or closed here. */
  get #given(): Browser | undefined {
    return givenBrowsers.get(this);
  }

  constructor(options: ChromiumProviderOptions = {}) {
    const { executablePath, headless = true, args = [], maxContexts = 4, launchTimeoutMs = 30_000 } = options;
    if (executablePath !== undefined && typeof executablePath !== 'string') {
      throw invalidOption('executablePath', 'must be a string');
    }
    if (typeof headless !== 'boolean') throw invalidOption('headless', 'must be a boolean');
    if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
      throw invalidOption('args', 'must be an array of strings');
    }
    if (!Number.isInteger(maxContexts) || maxContexts < 1) {
      throw invalidOption('maxContexts', `must be a positive integer, got ${String(maxContexts)}`);
    }
    durationOption(launchTimeoutMs, 'ChromiumProvider option `launchTimeoutMs`');
    const launchOptions = options.launchOptions ?? {};
    if (typeof launchOptions !== 'object' || launchOptions === null) {
      throw invalidOption('launchOptions', 'must be an object');
    }
    const given = options.browser;
    if (given !== undefined) {
      if (typeof given?.newContext !== 'function' || typeof given.isConnected !== 'function') {
        throw invalidOption(
          'browser',
          "must be a Playwright Browser (e.g. Playwright Test's `browser` fixture)",
        );
      }
      const launching = (
        ['executablePath', 'headless', 'args', 'launchTimeoutMs', 'launchOptions'] as const
      ).filter((name) => options[name] !== undefined);
      if (launching.length > 0) {
        throw invalidOption(
          'browser',
          `cannot be combined with ${launching.map((name) => `\`${name}\``).join(', ')}: those describe a launch, and a given browser is not launched`,
        );
      }
      givenBrowsers.set(this, given);
    }
    executablePaths.set(this, executablePath);
    this.#headless = headless;
    this.#launchTimeoutMs = launchTimeoutMs;
    this.#launchOptions = launchOptions;
    const rootArgs = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
    this.#args = [...new Set([...rootArgs, ...BASE_ARGS, ...(launchOptions.args ?? []), ...args])];
    this.#slots = new Slots(maxContexts);
  }

  /**
   * Opens a context with the request's state, proxy and device profile, waiting for a free slot first.
   *
   * @throws AuthSessionError `ABORTED` when `request.signal` aborts the wait, `CLOSED` after {@link close},
   *   `BROWSER_UNAVAILABLE` when no browser can be found or launched, or a visible one is asked for without a
   *   display.
   * @example
   * ```ts
   * const lease = await provider.newContext({ state, signal: AbortSignal.timeout(60_000) });
   * ```
   */
  async newContext(request: ContextRequest = {}): Promise<ContextLease> {
    this.#assertOpen();
    const mode: Mode = this.#given || (request.headless ?? this.#headless) ? 'headless' : 'headed';
    if (mode === 'headed') assertDisplay();
    const { signal } = request;
    const release = await this.#slots.acquire(signal);
    // The slot is handed to the lease, or to the clean-up of a context that finished opening too late.
    let slotOwned = true;
    try {
      let opened: { context: BrowserContext; browser: Browser } | undefined;
      for (let attempt = 0; opened === undefined; attempt++) {
        this.#assertOpen();
        const browser = await raceAbort(this.#browser(mode), signal);
        this.#assertOpen();
        const opening = browser.newContext(contextOptions(request));
        try {
          const context = await raceAbort(
            withTimeout(opening, OPERATION_TIMEOUT_MS, 'Chromium did not open a context in time'),
            signal,
          );
          opened = { context, browser };
        } catch (err) {
          // A browser that crashed since its last use may not have reported it yet: launch a fresh one, once.
          if (
            attempt === 0 &&
            !(err instanceof AuthSessionError) &&
            !browser.isConnected() &&
            !this.#closing
          ) {
            this.#forget(mode, browser);
            continue;
          }
          // The context may still arrive after an abort or a timeout: close it, then give the slot back.
          slotOwned = false;
          void opening
            .then((late) => closeQuietly(late), noop)
            .finally(release)
            .catch(noop);
          throw this.#contextError(err, browser);
        }
      }
      const { context, browser } = opened;
      const lease = new ChromiumLease(context, release, {
        state: request.state,
        pages: this.#pages,
        onFinish: (finished) => this.#leases.delete(finished),
      });
      slotOwned = false;
      this.#leases.add(lease);
      this.#contextsOpened++;
      try {
        this.#assertOpen();
        await withTimeout(
          lease.prepareCapture(),
          OPERATION_TIMEOUT_MS,
          'Chromium did not accept the state capture script in time',
        );
        const entries = request.state?.sessionStorage ?? [];
        if (entries.some((entry) => entry.items.length > 0)) {
          await withTimeout(
            context.addInitScript(sessionStorageInitScript(entries)),
            OPERATION_TIMEOUT_MS,
            'Chromium did not accept the sessionStorage script in time',
          );
        }
      } catch (err) {
        await lease.close();
        throw this.#contextError(err, browser);
      }
      return lease;
    } finally {
      if (slotOwned) release();
    }
  }

  /**
   * Current counters: open contexts and pages, requests waiting for a slot, contexts opened so far.
   *
   * @example
   * ```ts
   * await provider.close();
   * console.assert(provider.stats().openContexts === 0);
   * ```
   */
  stats(): BrowserProviderStats {
    return {
      openContexts: this.#leases.size,
      openPages: this.#pages.size,
      waiting: this.#slots.waiting,
      contextsOpened: this.#contextsOpened,
    };
  }

  /**
   * Rejects every request still waiting for a slot (`CLOSED`), closes the open contexts, then the browsers.
   * Safe to call more than once; later requests fail with `CLOSED`.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void provider.close());
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link close}, for `await using provider = new ChromiumProvider()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A readable summary in the REPL. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const s = this.stats();
    const running = this.#launches.size > 0 || this.#given?.isConnected() === true;
    const state = this.#closing ? 'closed' : running ? 'running' : 'idle';
    return `ChromiumProvider { ${state}, openContexts: ${s.openContexts}, openPages: ${s.openPages}, waiting: ${s.waiting}, contextsOpened: ${s.contextsOpened} }`;
  }

  async #close(): Promise<void> {
    this.#slots.rejectAll(new AuthSessionError('CLOSED', 'The browser provider was closed'));
    await Promise.allSettled([...this.#leases].map((lease) => lease.close()));
    const launches = [...this.#launches.values()];
    this.#launches.clear();
    await Promise.allSettled(
      launches.map(async (launch) => {
        const browser = await launch.promise;
        await withTimeout(browser.close(), CLOSE_TIMEOUT_MS, 'Chromium did not close in time');
      }),
    );
  }

  #assertOpen(): void {
    if (this.#closing) throw new AuthSessionError('CLOSED', 'The browser provider was closed');
  }

  #contextError(err: unknown, browser: Browser): unknown {
    return contextError(err, browser, this.#closing !== undefined);
  }

  /** The browser for `mode`, launched on first use; one launch however many callers ask at once. */
  #browser(mode: Mode): Promise<Browser> {
    if (this.#given) {
      if (this.#given.isConnected()) return Promise.resolve(this.#given);
      return Promise.reject(
        new AuthSessionError(
          'BROWSER_UNAVAILABLE',
          'The browser given to ChromiumProvider (`browser` option) is closed or has crashed; the provider does ' +
            'not launch another. Make a new provider with a connected browser, or one without `browser`.',
        ),
      );
    }
    const current = this.#launches.get(mode);
    if (current && (current.browser === undefined || current.browser.isConnected())) return current.promise;
    const launch: Launch = { promise: this.#launch(mode), browser: undefined };
    this.#launches.set(mode, launch);
    launch.promise.then(
      (browser) => {
        launch.browser = browser;
        // A crash or an external close: the next request launches a fresh browser.
        browser.once('disconnected', () => this.#forget(mode, browser));
      },
      () => {
        if (this.#launches.get(mode) === launch) this.#launches.delete(mode);
      },
    );
    return launch.promise;
  }

  #forget(mode: Mode, browser: Browser): void {
    if (this.#launches.get(mode)?.browser === browser) this.#launches.delete(mode);
  }

  async #launch(mode: Mode): Promise<Browser> {
    const executablePath = chromiumExecutable(this);
    try {
      return await chromium.launch({
        ...this.#launchOptions,
        executablePath,
        headless: mode === 'headless',
        args: [...this.#args],
        timeout: this.#launchTimeoutMs,
      });
    } catch (err) {
      throw new AuthSessionError(
        'BROWSER_UNAVAILABLE',
        `Chromium at ${executablePath} failed to start (${firstLine(err)}). Check that it runs: ` +
          `\`${executablePath} --headless --no-sandbox --dump-dom about:blank\`. On Debian/Ubuntu, missing ` +
          'libraries come with `apt-get install -y chromium`; or run `npx playwright install --with-deps chromium`, ' +
          'or point AUTH_SESSIONS_CHROMIUM or the `executablePath` option at another Chromium/Chrome.',
        { cause: err },
      );
    }
  }
}

interface LeaseHooks {
  /** The state the context was opened with. */
  readonly state: BrowserState | undefined;
  /** The provider's set of open pages, for {@link ChromiumProvider.stats}. */
  readonly pages: Set<Page>;
  /** Called once, when the context is gone (closed by the lease, by the holder, or by a crash). */
  readonly onFinish: (lease: ChromiumLease) => void;
}

class ChromiumLease implements ContextLease {
  readonly context: BrowserContext;
  readonly #release: () => void;
  readonly #hooks: LeaseHooks;
  readonly #pages = new Set<Page>();
  #finished = false;
  #closing: Promise<void> | undefined;
  /** Aborted when the context is gone: Playwright's `newPage` never settles if its context closes meanwhile. */
  readonly #ended = new AbortController();
  readonly #capture: StateCapture;

  constructor(context: BrowserContext, release: () => void, hooks: LeaseHooks) {
    this.context = context;
    this.#release = release;
    this.#hooks = hooks;
    this.#capture = new StateCapture(context, hooks.state, { operationTimeoutMs: OPERATION_TIMEOUT_MS });
    context.on('page', (page) => this.#track(page));
    for (const page of context.pages()) this.#track(page);
    context.once('close', () => this.#finish());
  }

  /** Readies the state capture (see {@link StateCapture.install}); call once, before any page opens. */
  prepareCapture(): Promise<void> {
    return this.#capture.install();
  }

  async newPage(): Promise<Page> {
    this.#assertOpen();
    return raceAbort(
      withTimeout(this.context.newPage(), OPERATION_TIMEOUT_MS, 'Chromium did not open a page in time'),
      this.#ended.signal,
    );
  }

  async captureState(options?: CaptureStateOptions): Promise<BrowserState> {
    this.#assertOpen();
    return this.#capture.capture(options);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        if (!this.#finished) {
          await withTimeout(
            this.context.close(),
            CLOSE_TIMEOUT_MS,
            'Chromium did not close a context in time',
          );
        }
      } catch {
        // A crashed browser or a context that will not close: give the slot back all the same.
      } finally {
        this.#finish();
      }
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing || this.#finished)
      throw new AuthSessionError('CLOSED', 'This browser context was closed');
  }

  #track(page: Page): void {
    if (this.#finished || page.isClosed() || this.#pages.has(page)) return;
    this.#capture.track(page);
    this.#pages.add(page);
    this.#hooks.pages.add(page);
    page.once('close', () => {
      this.#pages.delete(page);
      this.#hooks.pages.delete(page);
    });
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#ended.abort(new AuthSessionError('CLOSED', 'This browser context was closed'));
    for (const page of this.#pages) this.#hooks.pages.delete(page);
    this.#pages.clear();
    this.#hooks.onFinish(this);
    this.#release();
  }
}

function assertDisplay(): void {
  if (process.platform !== 'linux') return;
  if (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) return;
  throw new AuthSessionError(
    'BROWSER_UNAVAILABLE',
    'A visible (headed) browser was asked for, but there is no display: DISPLAY is not set. Run the process ' +
      'under a virtual display, e.g. `xvfb-run -a node app.js` (Debian/Ubuntu: `apt-get install -y xvfb`), or ' +
      'pass `headless: true`.',
  );
}

function contextError(err: unknown, browser: Browser, closing: boolean): unknown {
  if (err instanceof AuthSessionError) return err;
  if (closing) return new AuthSessionError('CLOSED', 'The browser provider was closed', { cause: err });
  if (!browser.isConnected()) {
    return new AuthSessionError('BROWSER_UNAVAILABLE', 'Chromium closed while opening a context', {
      cause: err,
    });
  }
  return new AuthSessionError('BROWSER_UNAVAILABLE', 'Chromium could not open a context (see the cause)', {
    cause: err,
  });
}

function invalidOption(name: string, problem: string): AuthSessionError {
  return new AuthSessionError('INVALID_OPTIONS', `ChromiumProvider option \`${name}\` ${problem}`);
}

async function closeQuietly(context: BrowserContext): Promise<void> {
  await withTimeout(context.close(), CLOSE_TIMEOUT_MS, 'Chromium did not close a context in time').catch(
    noop,
  );
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = (message.split('\n').find((l) => l.trim() !== '') ?? 'unknown error').trim();
  return stripUrlCredentials(line.length > 200 ? `${line.slice(0, 200)}…` : line);
}

function noop(): void {}

/** The `browser` option of each provider that has one, for {@link givenBrowser}. */
const givenBrowsers = new WeakMap<ChromiumProvider, Browser>();

/** The browser a provider was given (`browser` option), if any: its version is the one to present. */
export function givenBrowser(provider: ChromiumProvider): Browser | undefined {
  return givenBrowsers.get(provider);
}

/** The `executablePath` option of each provider, for {@link chromiumExecutable}. */
const executablePaths = new WeakMap<ChromiumProvider, string | undefined>();

/**
 * The executable a provider launches (its `executablePath` option honoured), so the device profile's user
 * agent names that browser's version. Internal: not exported from the package.
 *
 * @throws AuthSessionError `BROWSER_UNAVAILABLE` when no browser is found.
 */
export function chromiumExecutable(provider: ChromiumProvider): string {
  return findChromium({ executablePath: executablePaths.get(provider) });
}
