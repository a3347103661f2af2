import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChromiumProvider } from '../../src/browser/chromium.js';
import { chooseDevice, detectChromeMajor } from '../../src/device.js';
import {
  AuthSessionError,
  chromeUserAgent,
  createMemoryStore,
  DEFAULT_CHROME_MAJOR,
  generateDevice,
} from '../../src/index.js';
import { deviceSchema } from '../../src/session/record.js';
import { FakeBrowserProvider } from '../../src/testing/index.js';
import { type Harness, harness, managerOver } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };

let h: Harness | undefined;
afterEach(async () => {
  await h?.manager.close();
  await h?.browser.close();
  h = undefined;
});

describe('generateDevice', () => {
  it('is a realistic desktop Chrome, the same for the same seed', () => {
    const device = generateDevice('session-1', { chromeMajor: 141, platform: 'windows' });
    expect(device).toEqual(generateDevice('session-1', { chromeMajor: 141, platform: 'windows' }));
    expect(deviceSchema.safeParse(device).success).toBe(true);
    expect(device.userAgent).toBe(
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36',
    );
    expect(device.userAgent).not.toMatch(/Headless/);
    expect(device.locale).toBe('en-US');
    expect(device.timezoneId).toMatch(/^America\//);
    expect(device.viewport?.width).toBeGreaterThanOrEqual(1280);
    expect(device.viewport?.height).toBeGreaterThanOrEqual(590);
    expect(device.isMobile).toBeUndefined();
  });

  it('spreads different sessions over common screens and time zones', () => {
    const devices = Array.from({ length: 400 }, (_, i) => generateDevice(`s-${i}`, { platform: 'linux' }));
    const viewports = new Set(devices.map((d) => `${d.viewport?.width}x${d.viewport?.height}`));
    const zones = new Set(devices.map((d) => d.timezoneId));
    expect(viewports.size).toBeGreaterThanOrEqual(5);
    expect(zones.size).toBe(4);
    // 1920-wide screens are the most common choice.
    const full = devices.filter((d) => d.viewport?.width === 1920).length;
    expect(full).toBeGreaterThan(devices.length / 5);
    for (const d of devices) expect(d.userAgent).toContain(`(X11; Linux x86_64)`);
    expect(devices[0]?.userAgent).toContain(`Chrome/${DEFAULT_CHROME_MAJOR}.0.0.0`);
  });

  it('names the platform the browser runs on', () => {
    expect(generateDevice('x', { platform: 'mac' }).userAgent).toContain('Macintosh; Intel Mac OS X 10_15_7');
    expect(generateDevice('x', { platform: 'mac' }).deviceScaleFactor).toBeGreaterThanOrEqual(1);
    const host =
      process.platform === 'win32' ? 'Windows' : process.platform === 'darwin' ? 'Macintosh' : 'X11';
    expect(generateDevice('x').userAgent).toContain(host);
    expect(() => generateDevice('x', { platform: 'beos' as never })).toThrow(AuthSessionError);
    expect(() => chromeUserAgent(0, 'linux')).toThrow(AuthSessionError);
  });
});

describe('detectChromeMajor and chooseDevice', () => {
  it('asks a provider that tells its browser version; a fake one has none', async () => {
    const fake = new FakeBrowserProvider();
    expect(await detectChromeMajor(fake)).toBeUndefined();
    const telling = Object.assign(new FakeBrowserProvider(), {
      browserVersion: async () => '142.0.7444.59',
    });
    expect(await detectChromeMajor(telling)).toBe(142);
    const device = await chooseDevice('s-1', telling, { locale: 'de-DE' }, { timezoneId: 'Europe/Berlin' });
    expect(device.userAgent).toContain('Chrome/142.0.0.0');
    expect(device).toMatchObject({ locale: 'de-DE', timezoneId: 'Europe/Berlin' });
    await fake.close();
    await telling.close();
  });

  it.skipIf(process.platform === 'win32')(
    'asks the very executable a ChromiumProvider is given, not the one it would find',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'auth-sessions-chrome-'));
      try {
        const executable = join(dir, 'chrome');
        writeFileSync(executable, '#!/bin/sh\necho "Chromium 123.0.6312.58 built on a test"\n', {
          mode: 0o755,
        });
        const provider = new ChromiumProvider({ executablePath: executable });
        expect(await detectChromeMajor(provider)).toBe(123);
        await provider.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('refuses an invalid device with INVALID_OPTIONS naming the field', async () => {
    const fake = new FakeBrowserProvider();
    await expect(chooseDevice('s-1', fake, { viewport: { width: -1, height: 10 } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining('viewport.width'),
    });
    await expect(chooseDevice('s-1', fake, 'phone' as never)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    await fake.close();
  });
});

describe('the device of a session (fake browser)', () => {
  it('is generated once at creation and used by every context: create, check, refresh, run', async () => {
    // A fresh context per run, so every step opens one.
    h = harness({ warmContexts: false });
    const s = await h.manager.create('site', { credentials: alice });
    // The very first context (the login) already has it.
    const first = h.browser.requests[0]?.device;
    expect(first).toEqual(generateDevice(s.id, { chromeMajor: DEFAULT_CHROME_MAJOR }));
    await h.manager.validate(s.id);
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1);
    expect(h.count('refreshed')).toBe(1);
    expect(h.browser.requests.length).toBeGreaterThanOrEqual(5);
    for (const request of h.browser.requests) expect(request.device).toEqual(first);
  });

  it('is kept in the record: another manager over the same store uses the same device', async () => {
    const store = createMemoryStore();
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    const device = h.browser.lastRequest?.device;
    const other = managerOver(h, { store });
    try {
      await other.run(s.id, () => 1, { forceCheck: true });
      expect(h.browser.lastRequest?.device).toEqual(device);
      const raw = JSON.parse((await store.get<string>(`session/${s.id}`)) as string);
      expect(raw.device).toEqual(device);
    } finally {
      await other.close();
    }
  });

  it('the auth’s device and then the caller’s are laid over the generated one', async () => {
    h = harness({ auth: { device: { locale: 'fr-FR', timezoneId: 'Europe/Paris' } } });
    const a = await h.manager.create('site', { credentials: alice });
    expect(h.browser.lastRequest?.device).toMatchObject({ locale: 'fr-FR', timezoneId: 'Europe/Paris' });
    expect(h.browser.lastRequest?.device?.userAgent).toContain('Chrome/');
    const b = await h.manager.create('site', {
      credentials: alice,
      device: { timezoneId: 'Asia/Tokyo', userAgent: 'UA/1', viewport: { width: 800, height: 600 } },
    });
    expect(h.browser.lastRequest?.device).toMatchObject({
      locale: 'fr-FR',
      timezoneId: 'Asia/Tokyo',
      userAgent: 'UA/1',
      viewport: { width: 800, height: 600 },
    });
    expect(a.id).not.toBe(b.id);
  });

  it('different sessions get their own device, stable per id', async () => {
    let n = 0;
    h = harness({ idGenerator: () => `fixed-${n++}` });
    await h.manager.create('site', { credentials: alice });
    await h.manager.create('site', { credentials: alice });
    const devices = h.browser.requests.map((r) => r.device);
    expect(devices[0]).toEqual(generateDevice('fixed-0', { chromeMajor: DEFAULT_CHROME_MAJOR }));
    expect(devices.at(-1)).toEqual(generateDevice('fixed-1', { chromeMajor: DEFAULT_CHROME_MAJOR }));
  });

  it('an invalid device on create is INVALID_OPTIONS before anything is stored', async () => {
    h = harness();
    await expect(
      h.manager.create('site', { credentials: alice, id: 'dev-1', device: { colorScheme: 'neon' as never } }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    expect(await h.manager.get('dev-1')).toBeUndefined();
    expect(h.browser.requests).toHaveLength(0);
  });
});
