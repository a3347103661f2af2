import type { Browser, LaunchOptions } from 'playwright-core';

/**
 * Options of {@link ChromiumProvider}.
 *
 * @example
 * ```ts
 * const provider = new ChromiumProvider({ maxContexts: 2, args: ['--lang=de-DE'] });
 * ```
 */
export interface ChromiumProviderOptions {
  /**
   * The Chromium or Chrome to launch.
   * @default found by `findChromium`: `AUTH_SESSIONS_CHROMIUM`, Playwright's own install, then the system browser
   */
  readonly executablePath?: string;
  /**
   * Run without a window. A request with `headless: false` (the recorder) still gets a visible browser, launched
   * separately when first needed.
   * @default true
   */
  readonly headless?: boolean;
  /**
   * Extra command-line arguments, added after the provider's own (`--disable-gpu`, `--no-first-run`, …, and
   * `--no-sandbox` when running as root).
   * @default []
   */
  readonly args?: readonly string[];
  /**
   * Contexts open at once; further requests wait in FIFO order. Measured on 2 cores: more contexts than this
   * only thrash the CPU until navigations time out.
   * @default 4
   */
  readonly maxContexts?: number;
  /**
   * Bound on launching the browser, in milliseconds.
   * @default 30000
   */
  readonly launchTimeoutMs?: number;
  /**
   * Further options for playwright-core's `chromium.launch`. `headless`, `executablePath` and `timeout` come
   * from the options above; `args` are merged with the provider's own.
   * @default {}
   */
  readonly launchOptions?: Omit<LaunchOptions, 'headless' | 'executablePath' | 'timeout'>;
  /**
   * A browser you launched and keep, e.g. Playwright Test's worker-scoped `browser` fixture: the provider
   * opens its contexts in it instead of launching its own, and never closes it ({@link ChromiumProvider.close}
   * closes only the provider's contexts). Once it is closed or has crashed, requests fail with
   * `BROWSER_UNAVAILABLE`: the provider cannot launch another like it. Every request gets this browser,
   * those for a visible one (the recorder) too. Not combined with `executablePath`, `headless`, `args`,
   * `launchTimeoutMs` or `launchOptions`, which describe a launch.
   * @default undefined: the provider launches Chromium on first use
   */
  readonly browser?: Browser;
}
