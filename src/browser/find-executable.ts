import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium } from 'playwright-core';
import { AuthSessionError } from '../errors.js';

/**
 * Options of {@link findChromium}.
 *
 * @example
 * ```ts
 * const options: FindChromiumOptions = { executablePath: '/opt/chrome/chrome' };
 * ```
 */
export interface FindChromiumOptions {
  /** An explicit browser executable; when set it must exist, nothing else is tried. */
  readonly executablePath?: string | undefined;
  /**
   * Environment to read `AUTH_SESSIONS_CHROMIUM`, `PATH` and the Windows program folders from.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /**
   * Where the Playwright-installed Chromium is (`npx playwright install chromium`); `undefined` to skip.
   * Tests replace it.
   * @default playwright-core's `chromium.executablePath()`
   */
  readonly playwrightPath?: (() => string | undefined) | undefined;
  /**
   * Well-known install locations tried after Playwright's own browser and before `PATH`.
   * @default the usual Chromium and Chrome paths of Linux, macOS and Windows
   */
  readonly systemPaths?: readonly string[] | undefined;
}

/** Executable names looked up on `PATH`, in order. */
const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

/** The fix, spelled out, for every "no browser" error. */
const HOW_TO_GET_ONE =
  'Install one: on Debian/Ubuntu run `apt-get install -y chromium` (as root), or run ' +
  '`npx playwright install chromium`; or point to an existing Chromium/Chrome with the ' +
  'AUTH_SESSIONS_CHROMIUM environment variable or the `executablePath` option.';

/**
 * Finds a Chromium or Chrome executable to launch. Tried in order, the first that exists and is executable
 * wins: the `executablePath` option, the `AUTH_SESSIONS_CHROMIUM` environment variable, the browser installed
 * by `npx playwright install chromium`, the usual system locations (`/usr/bin/chromium`,
 * `/usr/bin/google-chrome`, `/Applications/Google Chrome.app/…`, …), then `chromium`, `google-chrome`, … on
 * `PATH` (read directly, no shell). An explicit option or variable that does not point to an executable is an
 * error rather than silently skipped.
 *
 * @throws AuthSessionError `BROWSER_UNAVAILABLE` naming the fix when nothing is found.
 * @example
 * ```ts
 * const executablePath = findChromium({ env: process.env });
 * const browser = await chromium.launch({ executablePath });
 * ```
 */
export function findChromium(options: FindChromiumOptions = {}): string {
  const env = options.env ?? process.env;
  if (options.executablePath !== undefined && options.executablePath !== '') {
    return explicit(options.executablePath, 'The `executablePath` option');
  }
  const fromEnv = env.AUTH_SESSIONS_CHROMIUM;
  if (fromEnv !== undefined && fromEnv !== '') return explicit(fromEnv, 'AUTH_SESSIONS_CHROMIUM');

  const looked: string[] = [];
  const known = [
    (options.playwrightPath ?? playwrightChromium)(),
    ...(options.systemPaths ?? defaultSystemPaths(env)),
  ];
  for (const path of known) {
    if (path === undefined || path === '') continue;
    looked.push(path);
    if (isExecutableFile(path)) return path;
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  const suffixes = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of dirs) {
    for (const name of PATH_NAMES) {
      for (const suffix of suffixes) {
        const path = join(dir, name + suffix);
        if (isExecutableFile(path)) return path;
      }
    }
  }
  if (dirs.length > 0) looked.push(`${PATH_NAMES.join(', ')} on PATH`);
  throw new AuthSessionError(
    'BROWSER_UNAVAILABLE',
    `No Chromium or Chrome executable found (looked for ${looked.join(', ') || 'nothing'}). ${HOW_TO_GET_ONE}`,
  );
}

/** The path of the browser Playwright would install, or `undefined` when playwright-core cannot tell. */
function playwrightChromium(): string | undefined {
  try {
    return chromium.executablePath();
  } catch {
    // Unsupported platform or a registry problem: not a reason to fail, the system browser may still do.
    return undefined;
  }
}

function defaultSystemPaths(env: NodeJS.ProcessEnv): string[] {
  switch (process.platform) {
    case 'darwin':
      return [
        '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
        '/Applications/Chromium.app/Contents/MacOS/Chromium',
        '/Applications/Google Chrome Canary.app/Contents/MacOS/Google Chrome Canary',
      ];
    case 'win32': {
      const roots = [env.LOCALAPPDATA, env.PROGRAMFILES, env['PROGRAMFILES(X86)']].filter(
        (root): root is string => root !== undefined && root !== '',
      );
      return roots.flatMap((root) => [
        join(root, 'Google', 'Chrome', 'Application', 'chrome.exe'),
        join(root, 'Chromium', 'Application', 'chrome.exe'),
      ]);
    }
    default:
      return [
        '/usr/bin/chromium',
        '/usr/bin/chromium-browser',
        '/usr/bin/google-chrome',
        '/usr/bin/google-chrome-stable',
        '/snap/bin/chromium',
        '/opt/google/chrome/chrome',
      ];
  }
}

function explicit(path: string, source: string): string {
  if (isExecutableFile(path)) return path;
  throw new AuthSessionError(
    'BROWSER_UNAVAILABLE',
    `${source} names ${JSON.stringify(path)}, which is not an executable file. Fix the path, or unset it to ` +
      `let auth-sessions look for a browser. ${HOW_TO_GET_ONE}`,
  );
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
