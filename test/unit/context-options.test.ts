/**
 * The options the library opens its contexts with leave nothing for a caller's Playwright setup to fill in:
 * Playwright Test gives every new context of a worker, while a test runs, the test's `use` options for the
 * keys the call does not name (its `runBeforeCreateBrowserContext`, mirrored here).
 */
import { describe, expect, it } from 'vitest';
import { contextOptions } from '../../src/browser/context-options.js';

/** What Playwright Test does to a `browser.newContext(options)` call during a test. */
function withTestDefaults(options: object, defaults: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...options };
  for (const [key, value] of Object.entries(defaults)) if (!(key in merged)) merged[key] = value;
  return merged;
}

const TEST_USE = {
  storageState: { cookies: [{ name: 'sid', value: 'another-account' }], origins: [] },
  proxy: { server: 'http://test-proxy:8080' },
  baseURL: 'https://staging.example',
  extraHTTPHeaders: { authorization: 'Bearer test-token' },
  httpCredentials: { username: 'u', password: 'p' },
  viewport: { width: 800, height: 600 },
  locale: 'de-DE',
  offline: true,
  javaScriptEnabled: false,
  recordHar: { path: '/tmp/x.har' },
};

describe('contextOptions', () => {
  it('a login context (no state, proxy or device) takes none of the test’s options', () => {
    const merged = withTestDefaults(contextOptions({}), TEST_USE);
    for (const key of Object.keys(TEST_USE)) expect(merged[key], key).toBeUndefined();
  });

  it('keeps what the library asks for: the state, proxy and device, and nothing of the test’s', () => {
    const state = { cookies: [], origins: [{ origin: 'https://a.example', localStorage: [] }] };
    const merged = withTestDefaults(
      contextOptions({
        state,
        proxy: { server: 'http://own-proxy:3128' },
        device: { userAgent: 'UA', viewport: { width: 1920, height: 953 }, locale: 'en-US' },
      }),
      TEST_USE,
    );
    expect(merged).toMatchObject({
      storageState: { cookies: [], origins: state.origins },
      proxy: { server: 'http://own-proxy:3128' },
      userAgent: 'UA',
      viewport: { width: 1920, height: 953 },
      locale: 'en-US',
    });
    expect(merged.baseURL).toBeUndefined();
    expect(merged.extraHTTPHeaders).toBeUndefined();
    expect(merged.offline).toBeUndefined();
  });
});
