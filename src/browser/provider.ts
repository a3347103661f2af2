import type { BrowserContext, Page } from 'playwright-core';
import type { BrowserState } from './state.js';

/**
 * A proxy as Playwright takes it. `server` is `http://host:port`, `socks5://host:port`, …
 * `password` is a secret: it is sealed in storage and never shown.
 */
export interface ProxySettings {
  /** Proxy URL without credentials, e.g. `http://127.0.0.1:8080`. */
  readonly server: string;
  /** Proxy user name. `{session}` in it is replaced by a stable per-session token. */
  readonly username?: string;
  /** Proxy password (secret). */
  readonly password?: string;
  /** Comma-separated hosts that bypass the proxy. */
  readonly bypass?: string;
}

/**
 * The device a session presents to the site, fixed at creation and reused for every context of the
 * session so the site never sees a "new device".
 */
export interface DeviceProfile {
  readonly userAgent?: string;
  readonly viewport?: { readonly width: number; readonly height: number };
  readonly locale?: string;
  readonly timezoneId?: string;
  readonly deviceScaleFactor?: number;
  readonly isMobile?: boolean;
  readonly hasTouch?: boolean;
  readonly colorScheme?: 'light' | 'dark' | 'no-preference';
}

/** What the library asks of a {@link BrowserProvider} for one context. */
export interface ContextRequest {
  /** Full browser state to start from (cookies, localStorage, IndexedDB, sessionStorage). */
  readonly state?: BrowserState | undefined;
  /** Proxy for every request of the context (already resolved: placeholders substituted). */
  readonly proxy?: ProxySettings | undefined;
  /** Device profile applied to the context. */
  readonly device?: DeviceProfile | undefined;
  /** Show the browser window (the recorder asks for this). Default: the provider's own setting. */
  readonly headless?: boolean | undefined;
  /** Aborts waiting for a free slot or for the context to open. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link ContextLease.captureState}. */
export interface CaptureStateOptions {
  /**
   * Pages of the context that other runs are using right now. A provider may leave such a page unread when
   * what it shows is already known (its origin's storage was read or reported before): its own run captures
   * it when it ends, and reading a page that is busy with a site's scripts waits for them. A provider that
   * cannot tell reads every page, as without this option.
   * @default none: every page is read
   */
  readonly inUse?: ReadonlySet<Page> | undefined;
}

/**
 * One open browser context lent by a {@link BrowserProvider}. The holder must call {@link ContextLease.close}
 * on every path; it is idempotent and frees the slot.
 */
export interface ContextLease {
  /** The Playwright-compatible context. */
  readonly context: BrowserContext;
  /** Opens a page in the context. */
  newPage(): Promise<Page>;
  /** Captures the full state of the context: cookies, localStorage, IndexedDB and sessionStorage. */
  captureState(options?: CaptureStateOptions): Promise<BrowserState>;
  /** Closes the context (and its pages) and frees the slot. Safe to call twice. */
  close(): Promise<void>;
}

/** Counters a provider exposes so tests and monitoring can prove nothing leaks. */
export interface BrowserProviderStats {
  /** Contexts currently open. */
  readonly openContexts: number;
  /** Pages currently open. */
  readonly openPages: number;
  /** Requests waiting for a free context slot. */
  readonly waiting: number;
  /** Contexts opened since the provider started. */
  readonly contextsOpened: number;
}

/**
 * Where contexts come from. The default is Chromium through `playwright-core`
 * (`ChromiumProvider`); `auth-sessions/testing` has a fake one. A provider bounds how many contexts are
 * open at once and queues the rest; time spent waiting for a slot never counts against a hook's timeout.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, browser: new ChromiumProvider({ maxContexts: 4 }) });
 * ```
 */
export interface BrowserProvider {
  /** Opens a context, waiting for a free slot first. */
  newContext(request: ContextRequest): Promise<ContextLease>;
  /** Current counters. */
  stats(): BrowserProviderStats;
  /** Closes every context and the browser. */
  close(): Promise<void>;
}
