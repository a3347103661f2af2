import type { BrowserContextOptions } from 'playwright-core';
import type { ContextRequest, DeviceProfile, ProxySettings } from './provider.js';

/**
 * Every context option a caller's Playwright setup could fill in for the library. Playwright Test, while a
 * test runs, gives each new context of its worker the test's `use` options for every key the call leaves out
 * (its `storageState`, proxy, extra headers, base URL…), and the library's contexts are made through the
 * same Playwright. Naming each key, `undefined` when the library has nothing to set, keeps its contexts
 * exactly what it asked for: a login for one account never starts from another's test state.
 */
const OWNED_KEYS = [
  'acceptDownloads',
  'baseURL',
  'bypassCSP',
  'clientCertificates',
  'colorScheme',
  'contrast',
  'deviceScaleFactor',
  'extraHTTPHeaders',
  'forcedColors',
  'geolocation',
  'hasTouch',
  'httpCredentials',
  'ignoreHTTPSErrors',
  'isMobile',
  'javaScriptEnabled',
  'locale',
  'offline',
  'permissions',
  'proxy',
  'recordHar',
  'recordVideo',
  'reducedMotion',
  'screen',
  'serviceWorkers',
  'storageState',
  'strictSelectors',
  'timezoneId',
  'userAgent',
  'viewport',
] as const satisfies readonly (keyof BrowserContextOptions)[];

/** Each of {@link OWNED_KEYS} named and unset: the start of every context's options. */
const UNSET: Readonly<BrowserContextOptions> = Object.freeze(
  Object.fromEntries(OWNED_KEYS.map((key) => [key, undefined])),
);

/** Playwright's options for a new context from what the library asks for: the state, proxy and device. */
export function contextOptions(request: ContextRequest): BrowserContextOptions {
  const options: BrowserContextOptions = { ...UNSET };
  if (request.state) {
    // Playwright restores IndexedDB from `origins[].indexedDB` although its public type does not list it.
    options.storageState = {
      cookies: request.state.cookies,
      origins: request.state.origins,
    } as BrowserContextOptions['storageState'];
  }
  if (request.proxy) options.proxy = proxyOptions(request.proxy);
  if (request.device) Object.assign(options, deviceOptions(request.device));
  return options;
}

function proxyOptions(proxy: ProxySettings): NonNullable<BrowserContextOptions['proxy']> {
  return {
    server: proxy.server,
    ...(proxy.bypass === undefined ? {} : { bypass: proxy.bypass }),
    ...(proxy.username === undefined ? {} : { username: proxy.username }),
    ...(proxy.password === undefined ? {} : { password: proxy.password }),
  };
}

function deviceOptions(device: DeviceProfile): BrowserContextOptions {
  const options: BrowserContextOptions = {};
  if (device.userAgent !== undefined) options.userAgent = device.userAgent;
  if (device.viewport !== undefined)
    options.viewport = { width: device.viewport.width, height: device.viewport.height };
  if (device.locale !== undefined) options.locale = device.locale;
  if (device.timezoneId !== undefined) options.timezoneId = device.timezoneId;
  if (device.deviceScaleFactor !== undefined) options.deviceScaleFactor = device.deviceScaleFactor;
  if (device.isMobile !== undefined) options.isMobile = device.isMobile;
  if (device.hasTouch !== undefined) options.hasTouch = device.hasTouch;
  if (device.colorScheme !== undefined) options.colorScheme = device.colorScheme;
  return options;
}
