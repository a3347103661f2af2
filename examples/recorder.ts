/**
 * Recorder-based sessions, end to end, in real Chromium against the bundled demo site.
 *
 * A person logs in by hand in a browser the library opens; the library notices when the login is done,
 * captures the browser's full state (cookies, localStorage, IndexedDB and sessionStorage) and keeps the
 * session: no password is ever stored. Here the "person" is a script handed the page through `onPage`, in a
 * headless browser, so the example runs anywhere (CI included). With `--headed` a window opens and you log in
 * yourself.
 *
 *   npx tsx examples/recorder.ts                   # scripted person, cookie login
 *   npx tsx examples/recorder.ts --site ss         # the site keeps its token in sessionStorage only
 *   npx tsx examples/recorder.ts --site idb        # … or in IndexedDB only (also: ls = localStorage)
 *   npx tsx examples/recorder.ts --headed          # you log in (needs a display; xvfb-run works too)
 *
 * Steps: record → run a task → export the state → import it into a second manager → the site logs everyone
 * out → the next run says SESSION_EXPIRED (a person must record again) → record the same session again.
 * Exits 0 when every step behaved as described.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
// In your own code: `from 'auth-sessions'`.
import {
  AuthSessionManager,
  ChromiumProvider,
  createMemoryStore,
  defineAuth,
  isAuthSessionError,
} from '../src/index.js';
import { startDemoSite } from './demo-site/server.js';

const { values: args } = parseArgs({
  options: {
    site: { type: 'string', default: 'cookie' },
    headed: { type: 'boolean', default: false },
  },
});
const PREFIXES = { cookie: '', ls: '/ls', ss: '/ss', idb: '/idb' } as const;
type Place = keyof typeof PREFIXES;
if (!(args.site in PREFIXES)) {
  console.error(`--site must be one of ${Object.keys(PREFIXES).join(', ')}`);
  process.exit(2);
}
const place = args.site as Place;
const headless = !args.headed;
const USER = { username: 'alice', password: 'wonderland-42' };

const t0 = performance.now();
const say = (text: string) =>
  console.log(`${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${text}`);

const site = await startDemoSite({ users: [USER] });
const base = `${site.url}${PREFIXES[place]}`;
say(`demo site on ${site.url}; login page ${base}/login (token kept in: ${place})`);

/** The whole definition of a recorder-based auth: where to start, where the login is done, how to check it. */
const portal = defineAuth({
  name: 'portal',
  type: 'recorder',
  startUrl: `${base}/login`,
  finishUrl: `${base}/account`, // a URL prefix; a RegExp or (url: URL) => boolean work too
  async check({ page }) {
    await page.goto(`${base}/account`);
    await page.waitForSelector('#user, #login-required, #username', { timeout: 10_000 });
    return (await page.locator('#user').count()) > 0;
  },
});

/** The scripted person: what someone would type and click in the window. */
async function person(page: Page): Promise<void> {
  say(`  person: typing "${USER.username}" and the password on ${new URL(page.url()).pathname}`);
  await page.fill('#username', USER.username);
  await page.fill('#password', USER.password);
  await page.click('#login');
}

async function shownUser(page: Page): Promise<string | null> {
  await page.goto(`${base}/account`);
  await page.waitForSelector('#user, #login-required, #username', { timeout: 10_000 });
  return (await page.locator('#user').count()) > 0 ? page.textContent('#user') : null;
}

const browser = new ChromiumProvider({ maxContexts: 2 });
// A real application keeps sessions in a persistent store (the default SQLite file, Redis, Postgres…) and
// the key in a secret manager; memory and a throw-away key keep this example self-contained.
const manager = new AuthSessionManager({
  auths: [portal],
  store: createMemoryStore(),
  key: randomBytes(32).toString('base64'),
  browser,
});
manager.on('transition', (e) => say(`  event: ${e.session.id} ${e.from} → ${e.to}`));
manager.on('expired', (e) => say(`  event: expired (${e.reason.code})`));

let failed = false;
const expect = (ok: boolean, what: string) => {
  say(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
};

try {
  say(
    headless
      ? 'record: opening a headless browser; the scripted person logs in'
      : `record: a browser window opens at ${base}/login; log in as ${USER.username} / ${USER.password}`,
  );
  const session = await manager.record('portal', {
    id: 'acme-portal',
    labels: { customer: 'acme' },
    headless,
    ...(headless ? { onPage: person } : {}),
    timeoutMs: headless ? 60_000 : 5 * 60_000,
  });
  expect(session.state === 'active', `recorded session "${session.id}" is ${session.state}`);

  const user = await manager.run(session.id, ({ page }) => shownUser(page));
  expect(user === USER.username, `a task runs logged in as ${user}`);

  // The state is a secret (it lets anyone act as the user): print its shape, never its values.
  const state = await manager.exportState(session.id);
  say(
    `export: ${state.cookies.length} cookie(s), ${state.origins.length} origin(s) with storage, ` +
      `${state.sessionStorage?.length ?? 0} origin(s) with sessionStorage`,
  );
  const elsewhere = new AuthSessionManager({
    auths: [portal],
    store: createMemoryStore(),
    key: randomBytes(32).toString('base64'),
    browser,
  });
  try {
    const imported = await elsewhere.importState('portal', JSON.stringify(state), {
      labels: { from: 'export' },
    });
    const there = await elsewhere.run(imported.id, ({ page }) => shownUser(page));
    expect(there === USER.username, `import: another manager runs logged in as ${there}`);
    const bad = await elsewhere.importState('portal', '{"cookies": [').catch((err: unknown) => err);
    expect(
      isAuthSessionError(bad, 'INVALID_OPTIONS'),
      `import: malformed JSON refused (${isAuthSessionError(bad) ? bad.code : 'accepted?'})`,
    );
  } finally {
    await elsewhere.close();
  }

  const loginsBefore = site.stats().loginAttempts;
  say('site: logging everybody out');
  site.logoutAll();
  const refused = await manager.run(session.id, () => 'should not run').catch((err: unknown) => err);
  expect(
    isAuthSessionError(refused, 'SESSION_EXPIRED'),
    `run refused: ${isAuthSessionError(refused) ? `${refused.code}: ${refused.message}` : 'it ran?'}`,
  );
  expect(site.stats().loginAttempts === loginsBefore, 'no login was attempted (nobody stored a password)');

  say('record again: same id; labels and waiting work are kept');
  const again = await manager.record('portal', {
    id: session.id,
    headless,
    ...(headless ? { onPage: person } : {}),
    timeoutMs: headless ? 60_000 : 5 * 60_000,
  });
  expect(
    again.state === 'active' && again.labels.customer === 'acme',
    `"${again.id}" is ${again.state} again, labels ${JSON.stringify(again.labels)}`,
  );
  expect((await manager.run(again.id, ({ page }) => shownUser(page))) === USER.username, 'tasks run again');
} catch (err) {
  failed = true;
  say(`FAIL ${isAuthSessionError(err) ? `${err.code}: ${err.message}` : String(err)}`);
} finally {
  await manager.close();
  await browser.close();
  await site.close();
}
say(failed ? 'something did not behave as described' : 'done');
process.exitCode = failed ? 1 : 0;
