/**
 * `ChromiumProvider({ browser })` checks its options before any browser is touched: a given browser is used
 * as it is, so options that describe a launch are refused rather than silently ignored.
 */
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { detectChromeMajor } from '../../src/device.js';
import { ChromiumProvider } from '../../src/index.js';

/** Enough of a Browser for the constructor (it only looks; nothing is opened here). */
const browser = {
  newContext: async () => undefined,
  isConnected: () => true,
  version: () => '131.0.6778.33',
} as unknown as Browser;

describe('ChromiumProvider over a given browser', () => {
  it('refuses options that describe a launch, naming them', () => {
    expect(
      () => new ChromiumProvider({ browser, executablePath: '/usr/bin/chromium', args: ['--x'] }),
    ).toThrow(/`browser` cannot be combined with `executablePath`, `args`/);
    for (const option of [{ headless: false }, { launchTimeoutMs: 1000 }, { launchOptions: {} }]) {
      expect(() => new ChromiumProvider({ browser, ...option })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
  });

  it('refuses something that is not a Playwright Browser', () => {
    expect(() => new ChromiumProvider({ browser: {} as Browser })).toThrow(/must be a Playwright Browser/);
  });

  it('takes a browser alone, with maxContexts', async () => {
    const provider = new ChromiumProvider({ browser, maxContexts: 2 });
    expect(provider.stats()).toMatchObject({ openContexts: 0, contextsOpened: 0 });
    await provider.close();
    await expect(provider.newContext({})).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('presents the given browser’s own version in device profiles, not the executable findChromium finds', async () => {
    expect(await detectChromeMajor(new ChromiumProvider({ browser }))).toBe(131);
  });
});
