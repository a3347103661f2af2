import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ChromiumProvider, chromiumExecutable, givenBrowser } from './browser/chromium.js';
import type { BrowserProvider, DeviceProfile } from './browser/provider.js';
import { AuthSessionError } from './errors.js';
import { deviceSchema, type SessionRecord } from './session/record.js';

/**
 * The operating system a generated device claims. It should be the one the browser really runs on: Chromium
 * keeps reporting its real `navigator.platform` and fonts whatever the user agent says, and a Windows user
 * agent on a Linux platform is exactly the kind of mismatch sites flag.
 *
 * @example
 * ```ts
 * const platform: DevicePlatform = 'windows';
 * ```
 */
export type DevicePlatform = 'windows' | 'mac' | 'linux';

/**
 * Options of {@link generateDevice}.
 *
 * @example
 * ```ts
 * const options: GenerateDeviceOptions = { chromeMajor: 156, platform: 'linux' };
 * ```
 */
export interface GenerateDeviceOptions {
  /**
   * Major version of the Chromium that will present the device; the user agent names it so the site sees the
   * same version in the user agent as in the browser's behaviour and client hints.
   * @default {@link DEFAULT_CHROME_MAJOR}
   */
  readonly chromeMajor?: number | undefined;
  /**
   * The operating system the user agent names.
   * @default the platform of this process (`win32` → windows, `darwin` → mac, anything else → linux)
   */
  readonly platform?: DevicePlatform | undefined;
}

/**
 * The Chrome major version a generated user agent names when the browser's own version is unknown (a fake or
 * custom browser provider, or a Chromium that would not say).
 *
 * @example
 * ```ts
 * generateDevice('s-1').userAgent?.includes(`Chrome/${DEFAULT_CHROME_MAJOR}.`); // true
 * ```
 */
export const DEFAULT_CHROME_MAJOR = 156;

interface Screen {
  readonly viewport: { readonly width: number; readonly height: number };
  readonly deviceScaleFactor: number;
  readonly weight: number;
}

// Inner window sizes of a maximised desktop Chrome on the most common screens (the browser's own toolbars and
// the OS task bar take the rest of the height). Weights roughly follow how common each screen is.
const PC_SCREENS: readonly Screen[] = [
  { viewport: { width: 1920, height: 953 }, deviceScaleFactor: 1, weight: 8 },
  { viewport: { width: 1536, height: 730 }, deviceScaleFactor: 1.25, weight: 4 },
  { viewport: { width: 1366, height: 657 }, deviceScaleFactor: 1, weight: 3 },
  { viewport: { width: 1440, height: 789 }, deviceScaleFactor: 1, weight: 2 },
  { viewport: { width: 1600, height: 789 }, deviceScaleFactor: 1, weight: 2 },
  { viewport: { width: 2560, height: 1313 }, deviceScaleFactor: 1, weight: 2 },
  { viewport: { width: 1280, height: 593 }, deviceScaleFactor: 1.5, weight: 1 },
];

const MAC_SCREENS: readonly Screen[] = [
  { viewport: { width: 1440, height: 789 }, deviceScaleFactor: 2, weight: 4 },
  { viewport: { width: 1512, height: 857 }, deviceScaleFactor: 2, weight: 3 },
  { viewport: { width: 1728, height: 992 }, deviceScaleFactor: 2, weight: 2 },
  { viewport: { width: 1920, height: 969 }, deviceScaleFactor: 1, weight: 2 },
];

// US English keeps the site's language (and so the text a hook looks for) what most hooks are written
// against; set `locale` and `timezoneId` on the auth's `device` for sites or proxies elsewhere.
const TIMEZONES: readonly { readonly id: string; readonly weight: number }[] = [
  { id: 'America/New_York', weight: 4 },
  { id: 'America/Chicago', weight: 3 },
  { id: 'America/Los_Angeles', weight: 2 },
  { id: 'America/Denver', weight: 1 },
];

const UA_PLATFORM: Readonly<Record<DevicePlatform, string>> = {
  windows: 'Windows NT 10.0; Win64; x64',
  // Chrome freezes this string on every Mac, Apple silicon included.
  mac: 'Macintosh; Intel Mac OS X 10_15_7',
  linux: 'X11; Linux x86_64',
};

/**
 * The user agent desktop Chrome sends (the reduced form every Chrome since 110 sends: minor versions zero).
 *
 * @example
 * ```ts
 * chromeUserAgent(156, 'windows');
 * // 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36'
 * ```
 */
export function chromeUserAgent(major: number, platform: DevicePlatform): string {
  if (!Number.isInteger(major) || major < 1) {
    throw new AuthSessionError('INVALID_OPTIONS', `"chromeMajor" must be a positive integer, got ${major}`);
  }
  return `Mozilla/5.0 (${UA_PLATFORM[platform]}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
}

/**
 * A realistic desktop Chrome device profile (user agent, viewport, device scale factor, locale, timezone),
 * chosen deterministically from `seed`: the same seed (a session id) always gives the same device, different
 * seeds spread over common screens and time zones. The manager calls it once when a session is created and
 * stores the result in the session, so the site sees one device for the whole life of the session.
 *
 * @example
 * ```ts
 * const device = generateDevice('session-42', { chromeMajor: 156, platform: 'linux' });
 * // { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) … Chrome/156.0.0.0 Safari/537.36',
 * //   viewport: { width: 1920, height: 953 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'America/New_York' }
 * ```
 */
export function generateDevice(seed: string, options: GenerateDeviceOptions = {}): DeviceProfile {
  const platform = options.platform ?? hostPlatform();
  if (!Object.hasOwn(UA_PLATFORM, platform)) {
    throw new AuthSessionError('INVALID_OPTIONS', '"platform" must be "windows", "mac" or "linux"');
  }
  const digest = createHash('sha256')
    .update(`auth-sessions:device:${String(seed)}`)
    .digest();
  const screen = pick(platform === 'mac' ? MAC_SCREENS : PC_SCREENS, digest.readUInt32BE(0));
  const timezone = pick(TIMEZONES, digest.readUInt32BE(4));
  return {
    userAgent: chromeUserAgent(options.chromeMajor ?? DEFAULT_CHROME_MAJOR, platform),
    viewport: { width: screen.viewport.width, height: screen.viewport.height },
    deviceScaleFactor: screen.deviceScaleFactor,
    locale: 'en-US',
    timezoneId: timezone.id,
  };
}

/**
 * The device profile of a new session: a generated one ({@link generateDevice}, seeded by the session id and
 * naming the provider's Chromium version when it can be found), overlaid by `layers` in order (the auth's
 * defaults, then the caller's), validated. Throws `INVALID_OPTIONS` naming the bad field.
 *
 * @example
 * ```ts
 * const device = await chooseDevice(id, manager.browser, auth.device, options.device);
 * ```
 */
export async function chooseDevice(
  sessionId: string,
  provider: BrowserProvider,
  ...layers: (DeviceProfile | undefined)[]
): Promise<NonNullable<SessionRecord['device']>> {
  for (const layer of layers) {
    if (layer !== undefined && (typeof layer !== 'object' || layer === null || Array.isArray(layer))) {
      throw new AuthSessionError('INVALID_OPTIONS', '"device" must be an object');
    }
  }
  const merged: DeviceProfile = Object.assign(
    {},
    generateDevice(sessionId, { chromeMajor: await detectChromeMajor(provider) }),
    ...layers.filter((layer) => layer !== undefined),
  );
  const parsed = deviceSchema.safeParse(merged);
  if (!parsed.success) {
    const paths = [...new Set(parsed.error.issues.map((i) => i.path.map(String).join('.') || '(root)'))];
    throw new AuthSessionError('INVALID_OPTIONS', `"device" is invalid at ${paths.join(', ')}`);
  }
  return parsed.data;
}

const VERSION_TIMEOUT_MS = 3000;
const versions = new Map<string, Promise<number | undefined>>();

/**
 * The major version of the Chromium a provider launches, when it can tell: a provider with a
 * `browserVersion()` method is asked; a {@link ChromiumProvider} given a `browser` asks that browser; for the
 * default {@link ChromiumProvider} the executable it launches
 * (its `executablePath` option, else what `findChromium` finds) is asked with `--version` (once per process
 * and executable, bounded to 3 s; not on Windows, where that flag opens a window). `undefined` when unknown.
 *
 * @example
 * ```ts
 * const major = await detectChromeMajor(new ChromiumProvider()); // e.g. 156
 * ```
 */
export async function detectChromeMajor(provider: BrowserProvider): Promise<number | undefined> {
  const own = (provider as { browserVersion?: unknown }).browserVersion;
  if (typeof own === 'function') {
    try {
      return parseMajor(String(await (own as () => unknown).call(provider)));
    } catch {
      return undefined;
    }
  }
  if (!(provider instanceof ChromiumProvider)) return undefined;
  // A browser given to the provider says its own version (the executable findChromium finds may be another).
  const given = givenBrowser(provider);
  if (given) return parseMajor(given.version());
  if (process.platform === 'win32') return undefined;
  let path: string;
  try {
    path = chromiumExecutable(provider);
  } catch {
    return undefined;
  }
  let version = versions.get(path);
  if (!version) {
    version = new Promise((resolve) => {
      execFile(path, ['--version'], { timeout: VERSION_TIMEOUT_MS, windowsHide: true }, (err, stdout) =>
        resolve(err ? undefined : parseMajor(String(stdout))),
      );
    });
    versions.set(path, version);
  }
  return version;
}

function parseMajor(text: string): number | undefined {
  const match = /\b(\d{2,4})\.\d+\.\d+(?:\.\d+)?\b/.exec(text);
  return match ? Number(match[1]) : undefined;
}

function hostPlatform(): DevicePlatform {
  if (process.platform === 'win32') return 'windows';
  if (process.platform === 'darwin') return 'mac';
  return 'linux';
}

function pick<T extends { readonly weight: number }>(items: readonly T[], n: number): T {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  let at = n % total;
  for (const item of items) {
    if (at < item.weight) return item;
    at -= item.weight;
  }
  return items[0] as T;
}
