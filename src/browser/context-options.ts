import type { BrowserContextOptions } from 'playwright-core';
import type { ContextRequest, DeviceProfile, ProxySettings } from './provider.js';

/** Playwright's options for a new context from what the library asks for: the state, proxy and device. */
export function contextOptions(request: ContextRequest): BrowserContextOptions {
  const options: BrowserContextOptions = {};
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
