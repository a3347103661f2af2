import { EventEmitter } from 'node:events';
import type { DeviceProfile } from '../browser/provider.js';
import type { StateCookie } from '../browser/state.js';
import type { FakeBrowserContext } from './fake-browser.js';
import {
  blankDocument,
  closestForm,
  type FakeDocument,
  type FakeNode,
  formData,
  innerText,
  isEditable,
  isEnabled,
  isVisible,
  serialize,
  textContent,
} from './fake-dom.js';
import { type ParsedSelector, parseSelector, querySelectorAll } from './fake-selector.js';
import type { FakeSite } from './fake-site.js';
import { type CookieJar, createStorage } from './fake-storage.js';

/** Playwright's default action and wait timeout. */
const DEFAULT_TIMEOUT = 30_000;
const MAX_REDIRECTS = 20;
const ERROR_PAGE_URL = 'chrome-error://chromewebdata/';
const DEFAULT_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36';

/**
 * What a fake page needs from the context that owns it. Implemented by `FakeBrowserContext`.
 * @internal
 */
export interface FakePageHost {
  readonly jar: CookieJar;
  readonly device: DeviceProfile | undefined;
  /** See `FakeBrowserProviderOptions.failFastWaits`. */
  readonly failFastWaits: boolean;
  /** The object `page.context()` returns. */
  readonly api: FakeBrowserContext;
  isClosed(): boolean;
  siteFor(origin: string): FakeSite | undefined;
  localStorageFor(origin: string): Map<string, string>;
  sessionStorageFor(origin: string): Map<string, string>;
  defaultTimeout(): number | undefined;
  pageClosed(page: FakePage): void;
}

/**
 * Options every action and wait accepts, as in Playwright.
 *
 * @example
 * ```ts
 * await page.click('#login', { timeout: 2_000 });
 * ```
 */
export interface FakeTimeoutOptions {
  /** Milliseconds; `0` means no timeout. @default the page's default timeout (30 000 ms) */
  readonly timeout?: number;
}

/**
 * Options of `goto`, as in Playwright (`waitUntil` and `referer` are accepted and ignored).
 *
 * @example
 * ```ts
 * await page.goto('https://fake-site.test/login', { waitUntil: 'load' });
 * ```
 */
export interface FakeGotoOptions extends FakeTimeoutOptions {
  readonly waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' | 'commit';
  readonly referer?: string;
}

/**
 * The states `waitForSelector` and `locator.waitFor` wait for.
 *
 * @example
 * ```ts
 * await page.waitForSelector('#spinner', { state: 'hidden' });
 * ```
 */
export type FakeElementState = 'attached' | 'detached' | 'visible' | 'hidden';

/**
 * What `waitForURL` accepts: a glob string, a RegExp or a predicate on the URL.
 *
 * @example
 * ```ts
 * await page.waitForURL((url) => url.pathname === '/account');
 * ```
 */
export type FakeUrlMatcher = string | RegExp | ((url: URL) => boolean);

/**
 * The error the fake throws where Playwright throws its `TimeoutError` (same `name`, same message shape).
 *
 * @example
 * ```ts
 * await expect(page.click('#missing')).rejects.toMatchObject({ name: 'TimeoutError' });
 * ```
 */
export class FakeTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * The error for any call on a closed page or context, with Playwright's message and `name`.
 *
 * @example
 * ```ts
 * await page.close();
 * await expect(page.goto('/')).rejects.toThrow('Target page, context or browser has been closed');
 * ```
 */
export class FakeTargetClosedError extends Error {
  constructor(method: string) {
    super(`${method}: Target page, context or browser has been closed`);
    this.name = 'TargetClosedError';
  }
}

/**
 * The response `goto` returns, with the commonly used part of Playwright's `Response`.
 *
 * @example
 * ```ts
 * const res = await page.goto('https://fake-site.test/account');
 * expect(res?.ok()).toBe(true);
 * ```
 */
export class FakePageResponse {
  readonly #status: number;
  readonly #url: string;

  constructor(status: number, url: string) {
    this.#status = status;
    this.#url = url;
  }

  /** HTTP status of the final response (after redirects). */
  status(): number {
    return this.#status;
  }

  /** True for 2xx statuses. */
  ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  /** Status text. */
  statusText(): string {
    return STATUS_TEXT[this.#status] ?? '';
  }

  /** Final URL. */
  url(): string {
    return this.#url;
  }

  /** Response headers (the fake has none worth showing). */
  headers(): Record<string, string> {
    return { 'content-type': 'text/html; charset=utf-8' };
  }

  /** Resolves at once: the fake response is complete. */
  async finished(): Promise<null> {
    return null;
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  302: 'Found',
  404: 'Not Found',
  500: 'Internal Server Error',
};

/**
 * The main frame of a fake page, for `framenavigated` listeners and `page.mainFrame()`.
 *
 * @example
 * ```ts
 * page.on('framenavigated', (frame) => frame === page.mainFrame() && console.log(frame.url()));
 * ```
 */
export class FakeFrame {
  readonly #core: PageCore;

  /** @internal */
  constructor(core: PageCore) {
    this.#core = core;
  }

  /** Current URL of the frame. */
  url(): string {
    return this.#core.url;
  }

  /** Frame name (`''` for the main frame). */
  name(): string {
    return '';
  }

  /** The page of the frame. */
  page(): FakePage {
    return this.#core.page;
  }

  /** Always null: the fake has only main frames. */
  parentFrame(): null {
    return null;
  }

  /** Always empty. */
  childFrames(): FakeFrame[] {
    return [];
  }

  /** True once the page is closed. */
  isDetached(): boolean {
    return this.#core.closed;
  }
}

type Step = { readonly source: string; readonly parsed: ParsedSelector; readonly pick?: number | 'last' };
type Target =
  | { readonly kind: 'selector'; readonly steps: readonly Step[] }
  | { readonly kind: 'node'; readonly node: FakeNode };

interface Waiter {
  readonly probe: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  readonly method: string;
  readonly describe: string;
  readonly timeout: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** State and behaviour shared by a page, its locators, its frame and its keyboard. */
class PageCore {
  url = 'about:blank';
  doc: FakeDocument = blankDocument();
  closed = false;
  /** Actions changing the page that are running now: a wait does not give up while one is. */
  busy = 0;
  navigations = 0;
  focused: FakeNode | undefined;
  defaultTimeout: number | undefined;
  readonly events = new EventEmitter();
  readonly waiters = new Set<Waiter>();
  settleScheduled = false;
  readonly frame: FakeFrame;

  constructor(
    readonly host: FakePageHost,
    readonly page: FakePage,
  ) {
    this.frame = new FakeFrame(this);
  }

  ensureOpen(method: string): void {
    if (this.closed || this.host.isClosed()) throw new FakeTargetClosedError(method);
  }

  timeoutOf(options: FakeTimeoutOptions | undefined): number {
    const t = options?.timeout ?? this.defaultTimeout ?? this.host.defaultTimeout() ?? DEFAULT_TIMEOUT;
    return Number.isFinite(t) && t > 0 ? t : 0;
  }

  emit(event: string, ...args: unknown[]): void {
    try {
      this.events.emit(event, ...args);
    } catch (err) {
      // A throwing listener must not break the page's bookkeeping; surface it as Node would.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  // ---- queries -------------------------------------------------------------------------------------

  query(target: Target): FakeNode[] {
    if (target.kind === 'node') {
      let root = target.node;
      while (root.parent) root = root.parent;
      return root === this.doc.root ? [target.node] : [];
    }
    let scopes: FakeNode[] = [this.doc.root];
    for (const step of target.steps) {
      const found = new Set<FakeNode>();
      for (const scope of scopes) for (const el of querySelectorAll(scope, step.parsed)) found.add(el);
      let matches = [...found];
      if (scopes.length > 1)
        matches = querySelectorAll(this.doc.root, step.parsed).filter((el) => found.has(el));
      if (step.pick !== undefined) {
        const one = step.pick === 'last' ? matches.at(-1) : matches.at(step.pick);
        matches = one ? [one] : [];
      }
      scopes = matches;
    }
    return scopes;
  }

  /** The single element of a strict target (throws on several), or the first of a lax one. */
  one(method: string, target: Target, strict: boolean): FakeNode | undefined {
    const nodes = this.query(target);
    if (strict && nodes.length > 1) {
      throw new Error(
        `${method}: Error: strict mode violation: ${describeTarget(target)} resolved to ${nodes.length} elements`,
      );
    }
    return nodes[0];
  }

  // ---- waiting -------------------------------------------------------------------------------------

  /**
   * Resolves with the first defined value of `probe`, re-evaluated after every change of the page. With
   * fail-fast waits, gives up as soon as the page is idle and the probe still fails, since only calls on the
   * page change it; otherwise after `timeout` ms of real time. Never leaves a timer behind.
   */
  wait<T>(method: string, describe: string, probe: () => T | undefined, timeout: number): Promise<T> {
    try {
      this.ensureOpen(method);
      const first = probe();
      if (first !== undefined) return Promise.resolve(first);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        probe,
        resolve: resolve as (value: unknown) => void,
        reject,
        method,
        describe,
        timeout,
        timer: undefined,
      };
      if (timeout > 0 && !this.host.failFastWaits) {
        waiter.timer = setTimeout(() => this.#expire(waiter), timeout);
      }
      this.waiters.add(waiter);
      this.scheduleSettle();
    });
  }

  /** Re-evaluates every wait; called after anything that changes the page. */
  notify(): void {
    for (const waiter of [...this.waiters]) {
      let value: unknown;
      try {
        value = waiter.probe();
      } catch (err) {
        this.#finish(waiter);
        waiter.reject(err);
        continue;
      }
      if (value !== undefined) {
        this.#finish(waiter);
        waiter.resolve(value);
      }
    }
    this.scheduleSettle();
  }

  scheduleSettle(): void {
    if (!this.host.failFastWaits || this.settleScheduled || this.waiters.size === 0) return;
    this.settleScheduled = true;
    setImmediate(() => {
      this.settleScheduled = false;
      if (this.busy > 0) return;
      this.notify();
      for (const waiter of [...this.waiters]) this.#expire(waiter);
    });
  }

  #expire(waiter: Waiter): void {
    if (!this.waiters.has(waiter)) return;
    this.#finish(waiter);
    const t = waiter.timeout > 0 ? waiter.timeout : DEFAULT_TIMEOUT;
    const note = this.host.failFastWaits
      ? '\n  - fake page: nothing else can change the page, so the wait failed at once (failFastWaits)'
      : '';
    waiter.reject(
      new FakeTimeoutError(
        `${waiter.method}: Timeout ${t}ms exceeded.\nCall log:\n  - ${waiter.describe}${note}`,
      ),
    );
  }

  #finish(waiter: Waiter): void {
    this.waiters.delete(waiter);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
  }

  /** Runs a page-changing action, so that waits do not give up while it runs. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    try {
      return await fn();
    } finally {
      this.busy--;
      this.notify();
    }
  }

  /** Waits for the element of `target` to be attached (and visible/enabled/editable when asked). */
  element(
    method: string,
    target: Target,
    options: FakeTimeoutOptions | undefined,
    need: { strict: boolean; visible?: boolean; enabled?: boolean; editable?: boolean },
  ): Promise<FakeNode> {
    return this.wait(
      method,
      `waiting for ${describeTarget(target)}${need.visible ? ' to be visible' : ''}${need.enabled ? ', enabled' : ''}`,
      () => {
        const node = this.one(method, target, need.strict);
        if (!node) return undefined;
        if (need.editable && !isEditable(node)) {
          throw new Error(
            `${method}: Error: Element is not an <input>, <textarea> or [contenteditable] element`,
          );
        }
        if (need.visible && !isVisible(node)) return undefined;
        if (need.enabled && !isEnabled(node)) return undefined;
        return node;
      },
      this.timeoutOf(options),
    );
  }

  waitForState(method: string, target: Target, state: FakeElementState, strict: boolean, timeout: number) {
    return this.wait<{ node: FakeNode | null }>(
      method,
      `waiting for ${describeTarget(target)} to be ${state}`,
      () => {
        const node = this.one(method, target, strict);
        switch (state) {
          case 'attached':
            return node ? { node } : undefined;
          case 'visible':
            return node && isVisible(node) ? { node } : undefined;
          case 'hidden':
            return !node || !isVisible(node) ? { node: null } : undefined;
          case 'detached':
            return node ? undefined : { node: null };
        }
      },
      timeout,
    );
  }

  // ---- navigation ----------------------------------------------------------------------------------

  /**
   * Loads `url` (following redirects). Network failures commit Chromium's error page; `goto` then throws
   * Playwright's `net::ERR_…` error, a click-triggered navigation does not (as in a real browser).
   */
  async navigate(
    method: string,
    url: URL,
    request: { method: 'GET' | 'POST'; form: Record<string, string> },
    throwOnFailure: boolean,
  ): Promise<FakePageResponse | null> {
    if (url.href === 'about:blank') {
      this.commit('about:blank', blankDocument());
      return null;
    }
    let current = url;
    let req = request;
    for (let hop = 0; ; hop++) {
      // Let other work interleave, as a real navigation would.
      await Promise.resolve();
      this.ensureOpen(method);
      const failure =
        hop > MAX_REDIRECTS
          ? 'net::ERR_TOO_MANY_REDIRECTS'
          : current.protocol !== 'http:' && current.protocol !== 'https:'
            ? 'net::ERR_ABORTED'
            : undefined;
      const site = failure ? undefined : this.host.siteFor(current.origin);
      const code =
        failure ??
        (!site ? 'net::ERR_NAME_NOT_RESOLVED' : site.down ? 'net::ERR_CONNECTION_REFUSED' : undefined);
      if (code !== undefined || !site) {
        this.commit(ERROR_PAGE_URL, blankDocument());
        if (throwOnFailure) throw new Error(`${method}: ${code} at ${url.href}`);
        return null;
      }
      const cookies = new Map(this.host.jar.forUrl(current).map((c) => [c.name, c.value] as const));
      const res = site.handle({ method: req.method, url: current, form: req.form, cookies });
      for (const c of res.cookies) this.host.jar.setFromSite(current, c);
      if (res.location !== undefined && res.status >= 300 && res.status < 400) {
        current = new URL(res.location, current);
        req = { method: 'GET', form: {} };
        continue;
      }
      this.commit(current.href, res.document ?? blankDocument());
      return new FakePageResponse(res.status, current.href);
    }
  }

  commit(url: string, doc: FakeDocument): void {
    this.url = url;
    this.doc = doc;
    this.focused = undefined;
    this.navigations++;
    this.emit('framenavigated', this.frame);
    this.emit('domcontentloaded', this.page);
    this.emit('load', this.page);
    this.notify();
  }

  resolveUrl(method: string, url: string): URL {
    try {
      return new URL(url, this.url === 'about:blank' || this.url === ERROR_PAGE_URL ? undefined : this.url);
    } catch {
      throw new Error(`${method}: Protocol error (Page.navigate): Cannot navigate to invalid URL`);
    }
  }

  async submit(method: string, form: FakeNode): Promise<void> {
    const base = this.url;
    const action = form.attrs.action;
    const url = new URL(action === undefined || action === '' ? base : action, base);
    const data = formData(form);
    const post = (form.attrs.method ?? 'get').toLowerCase() === 'post';
    if (!post) url.search = new URLSearchParams(data).toString();
    await this.navigate(method, url, { method: post ? 'POST' : 'GET', form: post ? data : {} }, false);
  }

  /** What a click does to `node`: follow a link, submit a form, toggle a checkbox. */
  async activate(method: string, node: FakeNode): Promise<void> {
    this.focused = node;
    for (let n: FakeNode | undefined = node; n && n.tag !== '#document'; n = n.parent) {
      if (n.tag === 'a' && n.attrs.href !== undefined) {
        const url = new URL(n.attrs.href, this.url);
        if (url.protocol === 'javascript:') return;
        await this.navigate(method, url, { method: 'GET', form: {} }, false);
        return;
      }
      const type = (n.attrs.type ?? '').toLowerCase();
      if (
        n.tag === 'button' ||
        (n.tag === 'input' && ['submit', 'image', 'checkbox', 'radio'].includes(type))
      ) {
        if (type === 'checkbox') n.checked = !n.checked;
        else if (type === 'radio') n.checked = true;
        else if (type === 'submit' || type === 'image' || (n.tag === 'button' && type === '')) {
          const form = closestForm(n);
          if (form) await this.submit(method, form);
        }
        return;
      }
    }
  }

  /** A key press on `node` (or on the focused element). */
  async key(method: string, node: FakeNode | undefined, key: string): Promise<void> {
    const last = key.split('+').at(-1) ?? key;
    const modified = key.includes('+') && key.length > 1;
    if (!node) return;
    this.focused = node;
    if (last === 'Enter') {
      if (node.tag === 'input') {
        const form = closestForm(node);
        if (form) await this.submit(method, form);
      } else if (node.tag === 'button' || node.tag === 'a') {
        await this.activate(method, node);
      } else if (node.tag === 'textarea') {
        node.value += '\n';
      }
      return;
    }
    if (modified || !isEditable(node)) return;
    if (last === 'Backspace') node.value = node.value.slice(0, -1);
    else if (last.length === 1) node.value += last;
  }

  // ---- closing -------------------------------------------------------------------------------------

  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    for (const waiter of [...this.waiters]) {
      this.#finish(waiter);
      waiter.reject(new FakeTargetClosedError(waiter.method));
    }
    return true;
  }

  // ---- evaluate ------------------------------------------------------------------------------------

  async evaluate(method: string, fn: unknown, arg: unknown): Promise<unknown> {
    this.ensureOpen(method);
    const scope = this.#scope();
    const isFunction = typeof fn === 'function';
    const source = isFunction ? Function.prototype.toString.call(fn) : String(fn);
    const body = isFunction
      ? `return (${source})(__fakeArg);`
      : `const __v = (${source});\nreturn typeof __v === 'function' ? __v(__fakeArg) : __v;`;
    let compiled: (...args: unknown[]) => unknown;
    try {
      // The function's source runs again in a scope holding the fake page's globals, as Playwright runs it
      // in the page: closures over test variables are not available, only `arg`.
      compiled = new Function(...SCOPE_NAMES, '__name', '__fakeArg', body) as (...args: unknown[]) => unknown;
    } catch (err) {
      throw new Error(`${method}: ${String(err)}`);
    }
    let result: unknown;
    try {
      result = await compiled(...SCOPE_NAMES.map((name) => scope[name]), (f: unknown) => f, cloneValue(arg));
    } catch (err) {
      throw new Error(`${method}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    } finally {
      this.notify();
    }
    return cloneValue(result);
  }

  #scope(): Record<(typeof SCOPE_NAMES)[number], unknown> {
    const url = new URL(this.url);
    const opaque = url.origin === 'null';
    const denied = (what: string) =>
      new Proxy(
        {},
        {
          get() {
            throw new Error(
              `SecurityError: Failed to read the '${what}' property from 'Window': Access is denied for this document.`,
            );
          },
        },
      );
    const localStorage = opaque
      ? denied('localStorage')
      : createStorage(this.host.localStorageFor(url.origin));
    const sessionStorage = opaque
      ? denied('sessionStorage')
      : createStorage(this.host.sessionStorageFor(url.origin));
    const location = locationOf(url);
    const device = this.host.device;
    const navigator = {
      userAgent: device?.userAgent ?? DEFAULT_USER_AGENT,
      language: device?.locale ?? 'en-US',
      languages: [device?.locale ?? 'en-US'],
      webdriver: false,
      cookieEnabled: true,
    };
    const document = this.#document(url);
    const window: Record<string, unknown> = { localStorage, sessionStorage, location, document, navigator };
    window.window = window;
    window.self = window;
    window.globalThis = window;
    return { localStorage, sessionStorage, location, document, navigator, window, self: window };
  }

  #document(url: URL): object {
    const core = this;
    const wrap = (node: FakeNode) => elementView(node, () => core.notify());
    const query = (selector: string) => querySelectorAll(core.doc.root, parseSelector(selector));
    return {
      get title() {
        return core.doc.title;
      },
      get URL() {
        return core.url;
      },
      get cookie() {
        if (url.origin === 'null') return '';
        return core.host.jar
          .forUrl(url)
          .filter((c) => !c.httpOnly)
          .map((c) => `${c.name}=${c.value}`)
          .join('; ');
      },
      set cookie(text: string) {
        if (url.origin === 'null') return;
        const cookie = parseDocumentCookie(String(text), url, core.host.jar.clock.now());
        if (!cookie) return;
        const clash = core.host.jar
          .all()
          .some(
            (c) =>
              c.httpOnly && c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path,
          );
        if (!clash) core.host.jar.set(cookie);
      },
      get location() {
        return locationOf(url);
      },
      querySelector(selector: string) {
        const node = query(selector)[0];
        return node ? wrap(node) : null;
      },
      querySelectorAll(selector: string) {
        return query(selector).map(wrap);
      },
      getElementById(id: string) {
        const node = query(`[id=${JSON.stringify(id)}]`)[0];
        return node ? wrap(node) : null;
      },
      get body() {
        const node = query('body')[0];
        return node ? wrap(node) : null;
      },
    };
  }
}

const SCOPE_NAMES = [
  'localStorage',
  'sessionStorage',
  'location',
  'document',
  'window',
  'navigator',
  'self',
] as const;

function locationOf(url: URL): Record<string, string> {
  return {
    href: url.href,
    origin: url.origin,
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
  };
}

function elementView(node: FakeNode, changed: () => void): object {
  return {
    tagName: node.tag.toUpperCase(),
    id: node.attrs.id ?? '',
    get textContent() {
      return textContent(node);
    },
    get innerText() {
      return innerText(node);
    },
    get value() {
      return node.value;
    },
    set value(v: string) {
      node.value = String(v);
      changed();
    },
    get checked() {
      return node.checked;
    },
    getAttribute(name: string) {
      return node.attrs[name.toLowerCase()] ?? null;
    },
  };
}

function parseDocumentCookie(text: string, url: URL, now: number): StateCookie | undefined {
  const [pair = '', ...attrs] = text.split(';');
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? '' : pair.slice(0, eq)).trim();
  const value = (eq < 0 ? pair : pair.slice(eq + 1)).trim();
  if (name === '' && value === '') return undefined;
  const dir = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1) || '/';
  let path = dir;
  let domain = url.hostname;
  let expires = -1;
  let secure = false;
  let sameSite: StateCookie['sameSite'] = 'Lax';
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? '' : attr.slice(i + 1).trim();
    if (key === 'path' && val.startsWith('/')) path = val;
    else if (key === 'domain' && val !== '') domain = val.startsWith('.') ? val : `.${val}`;
    else if (key === 'max-age' && /^-?\d+$/.test(val)) expires = Math.floor(now / 1000) + Number(val);
    else if (key === 'expires' && expires === -1) {
      const t = Date.parse(val);
      if (!Number.isNaN(t)) expires = Math.floor(t / 1000);
    } else if (key === 'secure') secure = true;
    else if (key === 'samesite') {
      const v = val.toLowerCase();
      sameSite = v === 'strict' ? 'Strict' : v === 'none' ? 'None' : 'Lax';
    }
  }
  if (expires !== -1 && expires <= 0) expires = 0;
  return { name, value, domain, path, expires, httpOnly: false, secure, sameSite };
}

function cloneValue(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return structuredClone(value);
  } catch {
    try {
      return JSON.parse(JSON.stringify(value)) as unknown;
    } catch {
      return undefined;
    }
  }
}

function describeTarget(target: Target): string {
  if (target.kind === 'node') return 'element handle';
  return target.steps
    .map((s) => {
      const pick =
        s.pick === undefined
          ? ''
          : s.pick === 'last'
            ? '.last()'
            : s.pick === 0
              ? '.first()'
              : `.nth(${s.pick})`;
      return `locator(${quote(s.source)})${pick}`;
    })
    .join('.');
}

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function selectorTarget(selector: string): Target {
  return { kind: 'selector', steps: [{ source: selector, parsed: parseSelector(selector) }] };
}

function globToRegExp(glob: string): RegExp {
  // Playwright's glob rules: `**` spans `/`, `*` does not, `{a,b}` alternates, `\` escapes.
  const special = new Set(['$', '^', '+', '.', '*', '(', ')', '|', '\\', '?', '{', '}', '[', ']']);
  const tokens = ['^'];
  let inGroup = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\' && i + 1 < glob.length) {
      const next = glob[++i] as string;
      tokens.push(special.has(next) ? `\\${next}` : next);
    } else if (c === '*') {
      const before = glob[i - 1];
      let stars = 1;
      while (glob[i + 1] === '*') {
        stars++;
        i++;
      }
      if (stars > 1) {
        if (glob[i + 1] === '/') {
          tokens.push(before === '/' ? '((.+/)|)' : '(.*/)');
          i++;
        } else {
          tokens.push('(.*)');
        }
      } else {
        tokens.push('([^/]*)');
      }
    } else if (c === '{') {
      inGroup = true;
      tokens.push('(');
    } else if (c === '}') {
      inGroup = false;
      tokens.push(')');
    } else if (c === ',' && inGroup) {
      tokens.push('|');
    } else {
      tokens.push(special.has(c) ? `\\${c}` : c);
    }
  }
  tokens.push('$');
  return new RegExp(tokens.join(''));
}

/** Playwright's URL matching: a glob string, a RegExp tested on the href, or a predicate on a URL. */
export function urlMatches(href: string, matcher: FakeUrlMatcher): boolean {
  if (typeof matcher === 'string') {
    if (matcher === '') return true;
    return globToRegExp(matcher).test(href);
  }
  if (matcher instanceof RegExp) {
    matcher.lastIndex = 0;
    return matcher.test(href);
  }
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  return matcher(url);
}

/**
 * A Playwright-like page over a {@link FakeSite}, for the subset of `Page` that login and check hooks use.
 * Handed out cast to Playwright's `Page`. Actions on a missing element fail at once (see
 * `failFastWaits`) with Playwright's `TimeoutError` message shape.
 *
 * @example
 * ```ts
 * const page = await context.newPage();
 * await page.goto('https://fake-site.test/login');
 * await page.fill('#username', 'alice');
 * await page.fill('#password', 's3cret');
 * await page.click('#login');
 * await page.waitForURL('**\/account');
 * ```
 */
export class FakePage {
  readonly #core: PageCore;
  /** Keyboard input to the focused element (the last one filled, clicked or pressed). */
  readonly keyboard: FakeKeyboard;

  /** @internal Created by `FakeBrowserContext.newPage()`. */
  constructor(host: FakePageHost) {
    this.#core = new PageCore(host, this);
    this.keyboard = new FakeKeyboard(this.#core);
  }

  /** The context that owns the page. */
  context(): FakeBrowserContext {
    return this.#core.host.api;
  }

  /** Current URL (`about:blank` at first). */
  url(): string {
    return this.#core.url;
  }

  /** The main frame. */
  mainFrame(): FakeFrame {
    return this.#core.frame;
  }

  /** True once the page (or its context) is closed. */
  isClosed(): boolean {
    return this.#core.closed || this.#core.host.isClosed();
  }

  /** Default timeout of actions and waits on this page (messages only, with fail-fast waits). */
  setDefaultTimeout(timeout: number): void {
    this.#core.defaultTimeout = timeout;
  }

  /** Accepted for compatibility; navigation in the fake never waits. */
  setDefaultNavigationTimeout(_timeout: number): void {}

  /** The device's viewport, or Playwright's default 1280×720. */
  viewportSize(): { width: number; height: number } | null {
    const v = this.#core.host.device?.viewport;
    return v ? { width: v.width, height: v.height } : { width: 1280, height: 720 };
  }

  /** Adds a listener: `close`, `framenavigated`, `load`, `domcontentloaded`. */
  on(event: string, listener: (...args: never[]) => unknown): this {
    this.#core.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Adds a one-time listener. */
  once(event: string, listener: (...args: never[]) => unknown): this {
    this.#core.events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener. */
  off(event: string, listener: (...args: never[]) => unknown): this {
    this.#core.events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Alias of {@link FakePage.on}. */
  addListener(event: string, listener: (...args: never[]) => unknown): this {
    return this.on(event, listener);
  }

  /** Alias of {@link FakePage.off}. */
  removeListener(event: string, listener: (...args: never[]) => unknown): this {
    return this.off(event, listener);
  }

  /**
   * Navigates to `url` (absolute, or relative to the current page), following redirects. Unknown origins
   * fail with `net::ERR_NAME_NOT_RESOLVED`, sites that are `down` with `net::ERR_CONNECTION_REFUSED`, as
   * Playwright reports them. HTTP errors (404) resolve, as in Playwright.
   */
  async goto(url: string, _options?: FakeGotoOptions): Promise<FakePageResponse | null> {
    const core = this.#core;
    core.ensureOpen('page.goto');
    const target = core.resolveUrl('page.goto', url);
    return core.run(() => core.navigate('page.goto', target, { method: 'GET', form: {} }, true));
  }

  /** Loads the current URL again. */
  async reload(_options?: FakeGotoOptions): Promise<FakePageResponse | null> {
    const core = this.#core;
    core.ensureOpen('page.reload');
    const target = new URL(core.url);
    return core.run(() => core.navigate('page.reload', target, { method: 'GET', form: {} }, true));
  }

  /** Waits until the URL matches (glob string, RegExp or predicate), as Playwright's `waitForURL`. */
  async waitForURL(
    url: FakeUrlMatcher,
    options?: FakeTimeoutOptions & { waitUntil?: string },
  ): Promise<void> {
    const core = this.#core;
    await core.wait(
      'page.waitForURL',
      `waiting for navigation to ${typeof url === 'function' ? 'match the predicate' : `"${String(url)}"`} until "load"`,
      () => (urlMatches(core.url, url) ? true : undefined),
      core.timeoutOf(options),
    );
  }

  /** Waits for the next navigation (optionally to a matching URL). Prefer `waitForURL`. */
  async waitForNavigation(
    options?: FakeTimeoutOptions & { url?: FakeUrlMatcher },
  ): Promise<FakePageResponse | null> {
    const core = this.#core;
    const start = core.navigations;
    await core.wait(
      'page.waitForNavigation',
      'waiting for navigation until "load"',
      () =>
        core.navigations > start && (options?.url === undefined || urlMatches(core.url, options.url))
          ? true
          : undefined,
      core.timeoutOf(options),
    );
    return new FakePageResponse(200, core.url);
  }

  /** Resolves at once: fake pages are loaded when navigation returns. */
  async waitForLoadState(
    _state?: 'load' | 'domcontentloaded' | 'networkidle',
    _options?: FakeTimeoutOptions,
  ): Promise<void> {
    this.#core.ensureOpen('page.waitForLoadState');
  }

  /**
   * Waits for an element state (`visible` by default). Returns a handle for `attached`/`visible`, null for
   * `hidden`/`detached`.
   */
  async waitForSelector(
    selector: string,
    options?: FakeTimeoutOptions & { state?: FakeElementState; strict?: boolean },
  ): Promise<FakeLocator | null> {
    const core = this.#core;
    const { node } = await core.waitForState(
      'page.waitForSelector',
      selectorTarget(selector),
      options?.state ?? 'visible',
      options?.strict ?? false,
      core.timeoutOf(options),
    );
    return node ? new FakeLocator(core, { kind: 'node', node }, true) : null;
  }

  /**
   * Waits `timeout` ms of real time; with fail-fast waits (the default), only one event-loop turn, since
   * nothing changes a fake page in the meantime.
   */
  async waitForTimeout(timeout: number): Promise<void> {
    const core = this.#core;
    core.ensureOpen('page.waitForTimeout');
    if (core.host.failFastWaits) await new Promise<void>((resolve) => setImmediate(resolve));
    else await new Promise<void>((resolve) => setTimeout(resolve, timeout));
  }

  /** A locator: lazy, strict, re-resolved on every call. */
  locator(selector: string): FakeLocator {
    return new FakeLocator(this.#core, selectorTarget(selector), true);
  }

  /** The first element matching `selector`, or null. */
  async $(selector: string): Promise<FakeLocator | null> {
    const core = this.#core;
    core.ensureOpen('page.$');
    const node = core.query(selectorTarget(selector))[0];
    return node ? new FakeLocator(core, { kind: 'node', node }, true) : null;
  }

  /** Every element matching `selector`. */
  async $$(selector: string): Promise<FakeLocator[]> {
    const core = this.#core;
    core.ensureOpen('page.$$');
    return core
      .query(selectorTarget(selector))
      .map((node) => new FakeLocator(core, { kind: 'node', node }, true));
  }

  /** Sets the value of an input (first match). */
  async fill(selector: string, value: string, options?: FakeTimeoutOptions): Promise<void> {
    return fill(this.#core, 'page.fill', selectorTarget(selector), false, value, options);
  }

  /** Types text into an input, appending to its value. */
  async type(
    selector: string,
    text: string,
    options?: FakeTimeoutOptions & { delay?: number },
  ): Promise<void> {
    return typeText(this.#core, 'page.type', selectorTarget(selector), false, text, options);
  }

  /** Clicks an element: follows links, submits forms, toggles checkboxes. */
  async click(selector: string, options?: FakeTimeoutOptions): Promise<void> {
    return click(this.#core, 'page.click', selectorTarget(selector), false, options);
  }

  /** Checks a checkbox or radio. */
  async check(selector: string, options?: FakeTimeoutOptions): Promise<void> {
    return setChecked(this.#core, 'page.check', selectorTarget(selector), false, true, options);
  }

  /** Unchecks a checkbox. */
  async uncheck(selector: string, options?: FakeTimeoutOptions): Promise<void> {
    return setChecked(this.#core, 'page.uncheck', selectorTarget(selector), false, false, options);
  }

  /** Presses a key on an element; `Enter` in a form field submits the form. */
  async press(selector: string, key: string, options?: FakeTimeoutOptions): Promise<void> {
    return press(this.#core, 'page.press', selectorTarget(selector), false, key, options);
  }

  /** Text content of the first match, or null when nothing matches (no waiting). */
  async textContent(selector: string, _options?: FakeTimeoutOptions): Promise<string | null> {
    const core = this.#core;
    core.ensureOpen('page.textContent');
    const node = core.one('page.textContent', selectorTarget(selector), false);
    return node ? textContent(node) : null;
  }

  /** Visible text of the first match; waits for it like Playwright (failing at once when absent). */
  async innerText(selector: string, options?: FakeTimeoutOptions): Promise<string> {
    const node = await this.#core.element('page.innerText', selectorTarget(selector), options, {
      strict: false,
    });
    return innerText(node);
  }

  /** Value of an input. */
  async inputValue(selector: string, options?: FakeTimeoutOptions): Promise<string> {
    return inputValue(this.#core, 'page.inputValue', selectorTarget(selector), false, options);
  }

  /** An attribute of the first match, or null. */
  async getAttribute(selector: string, name: string, options?: FakeTimeoutOptions): Promise<string | null> {
    const node = await this.#core.element('page.getAttribute', selectorTarget(selector), options, {
      strict: false,
    });
    return node.attrs[name.toLowerCase()] ?? null;
  }

  /** Whether the first match is visible (false when absent; no waiting). */
  async isVisible(selector: string): Promise<boolean> {
    const core = this.#core;
    core.ensureOpen('page.isVisible');
    const node = core.one('page.isVisible', selectorTarget(selector), false);
    return node !== undefined && isVisible(node);
  }

  /** Whether nothing visible matches. */
  async isHidden(selector: string): Promise<boolean> {
    return !(await this.isVisible(selector));
  }

  /**
   * Runs `fn(arg)` "in the page": its source is evaluated again with `localStorage`, `sessionStorage`,
   * `location`, `document` (with `document.cookie` for non-httpOnly cookies), `navigator` and `window` of the
   * page's origin in scope. As in Playwright, the function cannot use variables of the test's scope; pass
   * them in `arg`. Arguments and results are cloned.
   */
  async evaluate<R, A = unknown>(fn: string | ((arg: A) => R | Promise<R>), arg?: A): Promise<Awaited<R>> {
    return (await this.#core.evaluate('page.evaluate', fn, arg)) as Awaited<R>;
  }

  /** The `<title>`. */
  async title(): Promise<string> {
    this.#core.ensureOpen('page.title');
    return this.#core.doc.title;
  }

  /** The page serialised as HTML. */
  async content(): Promise<string> {
    this.#core.ensureOpen('page.content');
    return serialize(this.#core.doc);
  }

  /** Closes the page (idempotent); emits `close`. */
  async close(_options?: { runBeforeUnload?: boolean; reason?: string }): Promise<void> {
    const core = this.#core;
    if (!core.close()) return;
    core.emit('close', this);
    core.host.pageClosed(this);
  }

  /** @internal Closes the page as part of its context closing. */
  closeFromContext(): void {
    const core = this.#core;
    if (!core.close()) return;
    core.emit('close', this);
  }

  /** Readable in the REPL; never shows cookies or storage. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `FakePage { url: '${this.#core.url}', closed: ${this.isClosed()} }`;
  }
}

/**
 * Keyboard input to the focused element of a fake page (the last one filled, clicked or pressed).
 *
 * @example
 * ```ts
 * await page.fill('#password', 's3cret');
 * await page.keyboard.press('Enter');
 * ```
 */
export class FakeKeyboard {
  readonly #core: PageCore;

  /** @internal */
  constructor(core: PageCore) {
    this.#core = core;
  }

  /** Presses a key on the focused element; `Enter` submits its form. */
  async press(key: string): Promise<void> {
    const core = this.#core;
    core.ensureOpen('keyboard.press');
    const node = core.focused;
    await core.run(() => core.key('keyboard.press', node, key));
  }

  /** Types text into the focused element. */
  async type(text: string): Promise<void> {
    const core = this.#core;
    core.ensureOpen('keyboard.type');
    const node = core.focused;
    if (node && isEditable(node)) node.value += text;
    core.notify();
  }

  /** Inserts text into the focused element. */
  async insertText(text: string): Promise<void> {
    return this.type(text);
  }
}

/**
 * A Playwright-like locator of a fake page: resolved again on every call, strict (an action on several
 * matches throws Playwright's "strict mode violation").
 *
 * @example
 * ```ts
 * await page.locator('#username').fill('alice');
 * expect(await page.locator('#user').textContent()).toBe('alice');
 * ```
 */
export class FakeLocator {
  readonly #core: PageCore;
  readonly #target: Target;
  readonly #strict: boolean;

  /** @internal */
  constructor(core: PageCore, target: Target, strict: boolean) {
    this.#core = core;
    this.#target = target;
    this.#strict = strict;
  }

  /** The page of the locator. */
  page(): FakePage {
    return this.#core.page;
  }

  /** A locator for `selector` inside this one's matches. */
  locator(selector: string): FakeLocator {
    if (this.#target.kind === 'node') {
      throw new Error('FakeLocator: chaining from an element handle is not supported; use page.locator()');
    }
    const steps = [...this.#target.steps, { source: selector, parsed: parseSelector(selector) }];
    return new FakeLocator(this.#core, { kind: 'selector', steps }, true);
  }

  /** The first match. */
  first(): FakeLocator {
    return this.#pick(0);
  }

  /** The last match. */
  last(): FakeLocator {
    return this.#pick('last');
  }

  /** The n-th match (0-based; negative counts from the end). */
  nth(index: number): FakeLocator {
    return this.#pick(index);
  }

  /** Number of matches now. */
  async count(): Promise<number> {
    this.#core.ensureOpen('locator.count');
    return this.#core.query(this.#target).length;
  }

  /** A locator per match. */
  async all(): Promise<FakeLocator[]> {
    this.#core.ensureOpen('locator.all');
    const n = this.#core.query(this.#target).length;
    return Array.from({ length: n }, (_, i) => this.nth(i));
  }

  /** Sets the value of the input. */
  async fill(value: string, options?: FakeTimeoutOptions): Promise<void> {
    return fill(this.#core, 'locator.fill', this.#target, this.#strict, value, options);
  }

  /** Clears the input. */
  async clear(options?: FakeTimeoutOptions): Promise<void> {
    return fill(this.#core, 'locator.clear', this.#target, this.#strict, '', options);
  }

  /** Types text, appending to the value. */
  async type(text: string, options?: FakeTimeoutOptions & { delay?: number }): Promise<void> {
    return typeText(this.#core, 'locator.type', this.#target, this.#strict, text, options);
  }

  /** Types text, appending to the value. */
  async pressSequentially(text: string, options?: FakeTimeoutOptions & { delay?: number }): Promise<void> {
    return typeText(this.#core, 'locator.pressSequentially', this.#target, this.#strict, text, options);
  }

  /** Clicks the element. */
  async click(options?: FakeTimeoutOptions): Promise<void> {
    return click(this.#core, 'locator.click', this.#target, this.#strict, options);
  }

  /** Checks a checkbox or radio. */
  async check(options?: FakeTimeoutOptions): Promise<void> {
    return setChecked(this.#core, 'locator.check', this.#target, this.#strict, true, options);
  }

  /** Unchecks a checkbox. */
  async uncheck(options?: FakeTimeoutOptions): Promise<void> {
    return setChecked(this.#core, 'locator.uncheck', this.#target, this.#strict, false, options);
  }

  /** Presses a key on the element; `Enter` in a form field submits the form. */
  async press(key: string, options?: FakeTimeoutOptions): Promise<void> {
    return press(this.#core, 'locator.press', this.#target, this.#strict, key, options);
  }

  /** Text content, or null when nothing matches (no waiting). */
  async textContent(_options?: FakeTimeoutOptions): Promise<string | null> {
    this.#core.ensureOpen('locator.textContent');
    const node = this.#core.one('locator.textContent', this.#target, this.#strict);
    return node ? textContent(node) : null;
  }

  /** Visible text; waits for the element like Playwright (failing at once when absent). */
  async innerText(options?: FakeTimeoutOptions): Promise<string> {
    const node = await this.#core.element('locator.innerText', this.#target, options, {
      strict: this.#strict,
    });
    return innerText(node);
  }

  /** Text content of every match. */
  async allTextContents(): Promise<string[]> {
    this.#core.ensureOpen('locator.allTextContents');
    return this.#core.query(this.#target).map(textContent);
  }

  /** Value of the input. */
  async inputValue(options?: FakeTimeoutOptions): Promise<string> {
    return inputValue(this.#core, 'locator.inputValue', this.#target, this.#strict, options);
  }

  /** An attribute, or null. */
  async getAttribute(name: string, options?: FakeTimeoutOptions): Promise<string | null> {
    const node = await this.#core.element('locator.getAttribute', this.#target, options, {
      strict: this.#strict,
    });
    return node.attrs[name.toLowerCase()] ?? null;
  }

  /** Whether the element is visible (false when absent; no waiting). */
  async isVisible(): Promise<boolean> {
    this.#core.ensureOpen('locator.isVisible');
    const node = this.#core.one('locator.isVisible', this.#target, this.#strict);
    return node !== undefined && isVisible(node);
  }

  /** Whether the element is absent or hidden. */
  async isHidden(): Promise<boolean> {
    return !(await this.isVisible());
  }

  /** Whether the element is enabled. */
  async isEnabled(options?: FakeTimeoutOptions): Promise<boolean> {
    const node = await this.#core.element('locator.isEnabled', this.#target, options, {
      strict: this.#strict,
    });
    return isEnabled(node);
  }

  /** Whether the checkbox is checked. */
  async isChecked(options?: FakeTimeoutOptions): Promise<boolean> {
    const node = await this.#core.element('locator.isChecked', this.#target, options, {
      strict: this.#strict,
    });
    return node.checked;
  }

  /** Waits for a state of the element (`visible` by default). */
  async waitFor(options?: FakeTimeoutOptions & { state?: FakeElementState }): Promise<void> {
    const core = this.#core;
    await core.waitForState(
      'locator.waitFor',
      this.#target,
      options?.state ?? 'visible',
      this.#strict,
      core.timeoutOf(options),
    );
  }

  #pick(pick: number | 'last'): FakeLocator {
    if (this.#target.kind === 'node') return this;
    const steps = this.#target.steps;
    const last = steps[steps.length - 1] as Step;
    const index = typeof pick === 'number' && pick < 0 ? (pick === -1 ? 'last' : pick) : pick;
    return new FakeLocator(
      this.#core,
      { kind: 'selector', steps: [...steps.slice(0, -1), { ...last, pick: index }] },
      true,
    );
  }

  /** Readable in the REPL. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `FakeLocator { ${describeTarget(this.#target)} }`;
  }
}

async function fill(
  core: PageCore,
  method: string,
  target: Target,
  strict: boolean,
  value: string,
  options?: FakeTimeoutOptions,
) {
  const node = await core.element(method, target, options, {
    strict,
    visible: true,
    enabled: true,
    editable: true,
  });
  node.value = String(value);
  core.focused = node;
  core.notify();
}

async function typeText(
  core: PageCore,
  method: string,
  target: Target,
  strict: boolean,
  text: string,
  options?: FakeTimeoutOptions,
) {
  const node = await core.element(method, target, options, {
    strict,
    visible: true,
    enabled: true,
    editable: true,
  });
  node.value += String(text);
  core.focused = node;
  core.notify();
}

async function click(
  core: PageCore,
  method: string,
  target: Target,
  strict: boolean,
  options?: FakeTimeoutOptions,
) {
  const node = await core.element(method, target, options, { strict, visible: true, enabled: true });
  await core.run(() => core.activate(method, node));
}

async function setChecked(
  core: PageCore,
  method: string,
  target: Target,
  strict: boolean,
  checked: boolean,
  options?: FakeTimeoutOptions,
) {
  const node = await core.element(method, target, options, { strict, visible: true, enabled: true });
  const type = (node.attrs.type ?? '').toLowerCase();
  if (node.tag !== 'input' || (type !== 'checkbox' && type !== 'radio')) {
    throw new Error(`${method}: Error: Not a checkbox or radio button`);
  }
  node.checked = checked;
  core.notify();
}

async function press(
  core: PageCore,
  method: string,
  target: Target,
  strict: boolean,
  key: string,
  options?: FakeTimeoutOptions,
) {
  const node = await core.element(method, target, options, { strict, visible: true });
  await core.run(() => core.key(method, node, key));
}

async function inputValue(
  core: PageCore,
  method: string,
  target: Target,
  strict: boolean,
  options?: FakeTimeoutOptions,
) {
  const node = await core.element(method, target, options, { strict });
  if (node.tag !== 'input' && node.tag !== 'textarea' && node.tag !== 'select') {
    throw new Error(`${method}: Error: Node is not an <input>, <textarea> or <select> element`);
  }
  return node.value;
}
