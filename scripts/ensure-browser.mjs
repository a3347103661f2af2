#!/usr/bin/env node
// Makes sure a Chromium is there before `npm test`, `npm run demo` and `npm run bench`.
// Plain Node (no build, no dependencies): it mirrors the order of src/browser/find-executable.ts.
// Found: exits 0 without a word. Missing: installs Debian's "chromium" with apt-get when running as root on
// Linux, otherwise prints how to get one and exits 1. AUTH_SESSIONS_SKIP_BROWSER_INSTALL=1 skips all of it.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

const env = process.env;
const HOW_TO =
  'auth-sessions needs a Chromium or Chrome. Get one with any of:\n' +
  '  - Debian/Ubuntu (as root):  apt-get install -y chromium\n' +
  "  - Playwright's build:       npx playwright install chromium\n" +
  '  - an existing browser:      export AUTH_SESSIONS_CHROMIUM=/path/to/chrome  (or the `executablePath` option)\n' +
  'Set AUTH_SESSIONS_SKIP_BROWSER_INSTALL=1 to skip this check.';

function isExecutable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Browsers installed by `npx playwright install chromium` (chromium-<revision>/chrome-<platform>/chrome). */
function playwrightBrowsers() {
  const root =
    env.PLAYWRIGHT_BROWSERS_PATH && env.PLAYWRIGHT_BROWSERS_PATH !== '0'
      ? env.PLAYWRIGHT_BROWSERS_PATH
      : process.platform === 'darwin'
        ? join(homedir(), 'Library', 'Caches', 'ms-playwright')
        : process.platform === 'win32'
          ? join(env.LOCALAPPDATA ?? homedir(), 'ms-playwright')
          : join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ms-playwright');
  const found = [];
  let entries = [];
  try {
    entries = readdirSync(root).filter((name) => /^chromium-\d+$/.test(name));
  } catch {
    return found;
  }
  for (const entry of entries) {
    for (const sub of ['chrome-linux64', 'chrome-linux', 'chrome-linux-arm64'])
      found.push(join(root, entry, sub, 'chrome'));
    found.push(
      join(root, entry, 'chrome-win64', 'chrome.exe'),
      join(root, entry, 'chrome-win', 'chrome.exe'),
    );
    for (const sub of ['chrome-mac', 'chrome-mac-arm64', 'chrome-mac-x64']) {
      found.push(join(root, entry, sub, 'Chromium.app', 'Contents', 'MacOS', 'Chromium'));
      found.push(
        join(
          root,
          entry,
          sub,
          'Google Chrome for Testing.app',
          'Contents',
          'MacOS',
          'Google Chrome for Testing',
        ),
      );
    }
  }
  return found;
}

function findBrowser() {
  const candidates = [
    ...playwrightBrowsers(),
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/snap/bin/chromium',
    '/opt/google/chrome/chrome',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
  ];
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome']) {
      candidates.push(join(dir, name));
    }
  }
  return candidates.find(isExecutable);
}

function onPath(name) {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, name)));
}

function aptGet(args) {
  const result = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.error) console.error(`auth-sessions: apt-get could not run: ${result.error.message}`);
  return result.status === 0;
}

function main() {
  if (env.AUTH_SESSIONS_SKIP_BROWSER_INSTALL === '1') return 0;

  const chosen = env.AUTH_SESSIONS_CHROMIUM;
  if (chosen) {
    if (isExecutable(chosen)) return 0;
    console.error(
      `auth-sessions: AUTH_SESSIONS_CHROMIUM is set to "${chosen}", which is not an executable file.`,
    );
    console.error(HOW_TO);
    return 1;
  }
  if (findBrowser()) return 0;

  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform !== 'linux' || !root || !onPath('apt-get')) {
    console.error('auth-sessions: no Chromium or Chrome found.');
    console.error(HOW_TO);
    return 1;
  }

  console.error(
    'auth-sessions: no Chromium found; installing Debian\'s "chromium" package with apt-get (about a minute)…',
  );
  const installArgs = ['install', '-y', 'chromium'];
  // Package lists are often missing in fresh containers; refresh them only when the first attempt needs it.
  if (!aptGet(installArgs)) {
    console.error('auth-sessions: retrying after `apt-get update`…');
    if (!aptGet(['update']) || !aptGet(installArgs)) {
      console.error('auth-sessions: installing chromium with apt-get failed.');
      console.error(HOW_TO);
      return 1;
    }
  }
  if (!isExecutable('/usr/bin/chromium')) {
    console.error('auth-sessions: apt-get finished but /usr/bin/chromium is not there.');
    console.error(HOW_TO);
    return 1;
  }
  console.error('auth-sessions: Chromium installed at /usr/bin/chromium.');
  return 0;
}

process.exitCode = main();
