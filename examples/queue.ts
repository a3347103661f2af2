/**
 * A session queue that waits while its session is expired: `npx tsx examples/queue.ts`.
 *
 * Twenty tasks are queued for one session of a simulated site (the fake browser of `auth-sessions/testing`,
 * no Chromium needed). After the eighth task the user changes their password on the site: the next check
 * fails, logging in again with the stored password fails too, the session expires and the queue pauses,
 * keeping every unfinished task. The user then gives the new password (`manager.update`), and the queue
 * goes on by itself: every task runs exactly once.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
// In your own code: `from 'auth-sessions'` and `from 'auth-sessions/testing'`.
import { AuthSessionInvalidError, AuthSessionManager, createMemoryStore, defineAuth } from '../src/index.js';
import { FakeBrowserProvider, FakeSite, fakeSiteAuth } from '../src/testing/index.js';

const site = new FakeSite({ origin: 'https://crm.example' });
site.addUser('ann', 'first-password');

const crm = defineAuth({
  name: 'crm',
  type: 'credentials',
  credentials: z.object({ username: z.string(), password: z.string() }),
  retryDelay: 0,
  ...fakeSiteAuth(site),
});

const manager = new AuthSessionManager({
  auths: [crm],
  store: createMemoryStore(),
  key: randomBytes(32).toString('base64'),
  browser: new FakeBrowserProvider({ site }),
});

manager.on('expired', (e) => console.log(`! session ${e.session.id} expired (${e.reason.code})`));
manager.on('queue:paused', (e) => {
  if (e.reason === 'expired') console.log(`⏸  ${e.waiting} tasks wait for ${e.sessionId} to log in again`);
});
manager.on('queue:resumed', (e) =>
  console.log(`▶  session ${e.sessionId} is active again: ${e.waiting} tasks go on`),
);

try {
  const session = await manager.create('crm', {
    id: 'ann-crm',
    credentials: { username: 'ann', password: 'first-password' },
  });
  console.log(`session ${session.id} is ${session.state}`);

  const queue = manager.queue(session.id, { concurrency: 2 });
  const done: number[] = [];
  const tasks = Array.from({ length: 20 }, (_, n) =>
    queue.add(async ({ page }) => {
      await page.goto('https://crm.example/account');
      // A task that notices it was logged out says so; the manager re-checks and the queue keeps the task.
      if (!page.url().endsWith('/account')) throw new AuthSessionInvalidError();
      done.push(n);
      if (done.length === 8) {
        console.log('  (the user changes their password on the site)');
        site.changePassword('ann', 'second-password');
      }
      return n;
    }),
  );

  // Wait until the queue has paused and the tasks in flight have come back.
  while (!(queue.isPaused && queue.pending === 0)) await new Promise((r) => setTimeout(r, 10));
  console.log(`done so far: ${done.length}; waiting: ${queue.size}; paused because: ${queue.pauseReason}`);
  console.log(
    `first waiting tasks: ${queue
      .tasks()
      .slice(0, 3)
      .map((t) => `${t.id} (${t.state}, started ${t.runs}×)`)
      .join(', ')} …`,
  );

  console.log('the user logs in again with the new password');
  await manager.update(session.id, { credentials: { username: 'ann', password: 'second-password' } });
  await queue.onIdle();
  const results = await Promise.all(tasks);
  const once = new Set(done).size === done.length;
  console.log(`all ${results.length} tasks done, each exactly once: ${once && done.length === 20}`);
} finally {
  await manager.close();
}
