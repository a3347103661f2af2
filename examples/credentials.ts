/**
 * The smallest complete auth-sessions program: define how to log in, create a session once, run a task
 * logged in, close. It logs in to the bundled demo site; swap in your own site's URL and selectors.
 *
 *   npx tsx examples/credentials.ts
 *
 * Sessions are stored encrypted in ./.auth-sessions/ (SQLite file + key file, created on first use). Run it
 * twice: the second run reuses the stored session (and logs in again by itself, because the demo site is a
 * new one with no memory of the old login each time).
 */
import { z } from 'zod';
// In your own code: `from 'auth-sessions'`.
import { AuthSessionManager, defineAuth } from '../src/index.js';
import { startDemoSite } from './demo-site/server.js';

// The site to log in to: here the demo site on a free local port; in your code, the real site.
const site = await startDemoSite();
const SITE = site.url;

// How to log in, and how to tell that a browser is still logged in.
const demoSite = defineAuth({
  name: 'demo-site',
  type: 'credentials',
  credentials: z.object({ username: z.string().min(1), password: z.string().min(1) }),
  async create({ page, credentials }) {
    await page.goto(`${SITE}/login`);
    await page.fill('#username', credentials.username);
    await page.fill('#password', credentials.password);
    await page.click('#login');
    await page.waitForURL(`${SITE}/account`, { timeout: 10_000 });
  },
  async check({ page }) {
    await page.goto(`${SITE}/account`);
    return page.url() === `${SITE}/account`; // the site redirects to /login when logged out
  },
});

const manager = new AuthSessionManager({ auths: [demoSite] });
try {
  // Create the session once (this logs in and stores credentials and cookies encrypted); later runs reuse it.
  const stored = await manager.get('alice');
  const session =
    stored ??
    (await manager.create('demo-site', {
      id: 'alice',
      credentials: { username: 'alice', password: 'wonderland-42' },
    }));

  // Every run checks the login first and logs in again when it has lapsed; then the task runs logged in.
  const user = await manager.run(session.id, async ({ page }) => {
    await page.goto(`${SITE}/account`);
    return page.textContent('#user');
  });

  console.log(`${stored ? 'reused' : 'created'} session "${session.id}": signed in as ${user}`);
  console.log(`logins at the site during this run: ${site.stats().logins}`);
} finally {
  await manager.close();
  await site.close();
}
