/**
 * `auth-sessions/testing`: a fake browser, a simulated site and a controllable clock, to unit-test login and
 * check hooks and the orchestration around them without Chromium.
 *
 * @example
 * ```ts
 * import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from 'auth-sessions/testing';
 *
 * const clock = new FakeClock();
 * const site = new FakeSite({ clock });
 * site.addUser('alice', 's3cret');
 * const browser = new FakeBrowserProvider({ site });
 * const hooks = fakeSiteAuth(site);
 * ```
 *
 * @module
 */

export {
  type FakeSiteAuthHooks,
  type FakeSiteAuthOptions,
  type FakeSiteCheckContext,
  type FakeSiteCreateContext,
  type FakeSiteCredentials,
  fakeSiteAuth,
} from './fake-auth.js';
export {
  FakeBrowserContext,
  FakeBrowserProvider,
  type FakeBrowserProviderOptions,
  type FakeContextRequestRecord,
  type FakeInitScript,
  type FakeStorageState,
} from './fake-browser.js';
export { FakeClock } from './fake-clock.js';
export type { FakeChild, FakeDocument, FakeNode } from './fake-dom.js';
export {
  type FakeElementState,
  FakeFrame,
  type FakeGotoOptions,
  FakeKeyboard,
  FakeLocator,
  FakePage,
  type FakePageHost,
  FakePageResponse,
  FakeTargetClosedError,
  FakeTimeoutError,
  type FakeTimeoutOptions,
  type FakeUrlMatcher,
} from './fake-page.js';
export {
  type FakeSetCookie,
  FakeSite,
  type FakeSiteCounters,
  type FakeSiteOptions,
  type FakeSiteRequest,
  type FakeSiteResponse,
  type FakeUserOptions,
} from './fake-site.js';
export type { FakeClearCookiesFilter, FakeCookieParam } from './fake-storage.js';
