/**
 * Takes the screenshots of the web console in the docs (docs/images/console.png, console-session.png) in
 * real Chromium: a manager over the fake browser with a few dozen sessions, an hour of runs, refreshes and
 * failures played on a fake clock, then the console's pages as an operator sees them.
 *
 *   npx tsx scripts/console-screenshot.ts
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { z } from 'zod';
import { findChromium } from '../src/browser/find-executable.js';
import { AuthSessionManager, createMemoryStore, defineAuth } from '../src/index.js';
import { createConsole } from '../src/server/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../src/testing/index.js';

const OUT = join(fileURLToPath(new URL('..', import.meta.url)), 'docs', 'images');
const clock = new FakeClock(Date.parse('2026-12-01T09:00:00Z'));
const site = new FakeSite({ clock, sessionTtlMs: 20 * 60_000 });
const CUSTOMERS = ['acme', 'globex', 'initech', 'umbrella'];
for (let i = 0; i < 24; i++) site.addUser(`user${i}`, `pw-${i}`);
const hooks = fakeSiteAuth(site);
const crm = defineAuth({
  name: 'crm',
  type: 'credentials',
  retryDelay: 0,
  credentials: z.object({ username: z.string(), password: z.string(), totpSecret: z.string().optional() }),
  ...hooks,
});
const portal = defineAuth({
  name: 'portal',
  type: 'recorder',
  startUrl: `${site.origin}/login`,
  finishUrl: `${site.origin}/account`,
  check: hooks.check,
});
const browser = new FakeBrowserProvider({ site, maxContexts: 32 });
const manager = new AuthSessionManager({
  auths: [crm, portal],
  store: createMemoryStore(),
  key: randomBytes(32).toString('base64'),
  browser,
  clock,
});
const web = createConsole(manager, { clock });

async function main(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await manager.create('crm', {
      id: `${CUSTOMERS[i % 4]}-crm-${i}`,
      credentials: { username: `user${i}`, password: `pw-${i}` },
      labels: { customer: CUSTOMERS[i % 4]!, tier: i % 3 === 0 ? 'gold' : 'standard' },
    });
  }
  await manager.importState(
    'portal',
    { cookies: [], origins: [] },
    { id: 'acme-portal', labels: { customer: 'acme' }, check: false },
  );
  // An hour of work: runs every minute, the site's sessions lapse every 20 minutes (refreshes), two
  // passwords change on the way (those sessions expire).
  for (let minute = 0; minute < 60; minute++) {
    clock.advance(60_000);
    const ids = (await manager.list({ auth: 'crm', state: 'active' })).map((s) => s.id);
    for (const id of ids.slice(0, 3 + (minute % 7))) {
      await manager.run(id, () => undefined, { forceCheck: minute % 5 === 0 }).catch(() => undefined);
    }
    if (minute === 25) site.changePassword('user5', 'changed');
    if (minute === 41) site.changePassword('user14', 'changed');
    if (minute === 25 || minute === 41) {
      site.expireSessions();
      await manager.validate(minute === 25 ? 'globex-crm-5' : 'initech-crm-14').catch(() => undefined);
    }
  }
  await manager
    .create('crm', {
      id: 'umbrella-crm-new',
      credentials: { username: 'nobody', password: 'x' },
      labels: { customer: 'umbrella' },
    })
    .catch(() => undefined);
  await manager.flushHistory();

  const server = await web.listen({ port: 0, host: '127.0.0.1' });
  const chrome = await chromium.launch({
    executablePath: findChromium(),
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await chrome.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    await page.goto(`${server.url}?token=${web.token}`);
    await page.locator('#chart .uplot canvas').first().waitFor();
    await page.screenshot({ path: join(OUT, 'console.png') });
    await page.goto(`${server.url}sessions/globex-crm-5`);
    await page.screenshot({ path: join(OUT, 'console-session.png'), fullPage: false });
    console.log(`wrote ${join(OUT, 'console.png')} and console-session.png`);
  } finally {
    await chrome.close();
    await web.close();
    await manager.close();
    await browser.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
