import { ChromiumProvider } from '../browser/chromium.js';
import type { BrowserProvider } from '../browser/provider.js';

/**
 * The manager's browser provider: the one passed in, else a `ChromiumProvider` made on first use, which the
 * manager owns and so closes.
 */
export class LazyBrowser {
  #browser: BrowserProvider | undefined;
  readonly #owned: boolean;

  constructor(given: BrowserProvider | undefined) {
    this.#browser = given;
    this.#owned = given === undefined;
  }

  /** The provider, the default one made on the first call. */
  get(): BrowserProvider {
    this.#browser ??= new ChromiumProvider();
    return this.#browser;
  }

  /** Closes the provider when the manager made it (and did); the caller's stays open. */
  close(): Promise<void> | undefined {
    return this.#owned && this.#browser ? this.#browser.close() : undefined;
  }
}
