/**
 * `npm run demo`: auth-sessions end to end, in real Chromium, against the bundled demo site.
 *
 * On the embedded defaults (`new AuthSessionManager({ auths })`: SQLite store and key file under
 * ./.auth-sessions/, the system Chromium), it creates a credentials-based session, runs authenticated tasks,
 * lets the site's session lapse and shows the transparent refresh, then starts health checks that log in again
 * ahead of the next lapse (so no task meets it), then changes the password at the site and shows the session
 * going `expired` and tasks refused with `SESSION_EXPIRED`. Under a minute; exits 0.
 *
 *   npm run demo                      # or: npx tsx examples/demo.ts [--ttl 5] [--keep]
 *
 * --ttl N   lifetime of the site's sessions in seconds (default 5)
 * --keep    keep the demo session in the store at the end (the next run replaces it)
 * --console at the end, serve the web console on 127.0.0.1 and print a URL that signs you in; Ctrl-C stops it
 *
 * Output is plain text (colour only on a terminal; NO_COLOR turns it off). A second run works the same way:
 * the demo session has a fixed id and is deleted at the end, so the store does not grow.
 */
import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
// In your own code: `from 'auth-sessions'`.
import { type AuthSessionInfo, AuthSessionManager, isAuthSessionError } from '../src/index.js';
// In your own code: `from 'auth-sessions/server'`.
import { createConsole } from '../src/server/index.js';
import { DEMO_USER, demoSiteAuth, readAccount } from './demo-auth.js';
import { type DemoSite, startDemoSite } from './demo-site/server.js';

const SESSION_ID = 'demo-alice';
const DATA_DIR = '.auth-sessions';

// ——— output ———————————————————————————————————————————————————————————————————————————————————————————

const useColour = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const paint = (code: string) => (text: string) => (useColour ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const yellow = paint('33');
const cyan = paint('36');

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`.padStart(6);
const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** The step the events belong to, shown in their lines. */
let step = 'setup';

function line(text: string, took?: number): void {
  const tail = took === undefined ? '' : `  ${dim(`(${seconds(took)})`)}`;
  process.stdout.write(`${dim(elapsed())}  ${step.padEnd(8)} ${text}${tail}\n`);
}

function detail(text: string): void {
  process.stdout.write(`${' '.repeat(17)}${dim(text)}\n`);
}

function heading(text: string): void {
  process.stdout.write(`\n${bold(cyan(text))}\n`);
}

/** Fails the demo: something the demo promises did not happen. */
class DemoFailure extends Error {}

function expectThat(condition: boolean, what: string): void {
  if (!condition) throw new DemoFailure(what);
}

// ——— the demo ————————————————————————————————————————————————————————————————————————————————————————

const USAGE = 'usage: tsx examples/demo.ts [--ttl 5] [--keep] [--console]';

function parseOptions(): { ttlSeconds: number; keepSession: boolean; showConsole: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        ttl: { type: 'string', default: '5' },
        keep: { type: 'boolean', default: false },
        console: { type: 'boolean', default: false },
      },
      strict: true,
    });
    const ttl = Number(values.ttl);
    if (!(Number.isFinite(ttl) && ttl >= 1 && ttl <= 30)) {
      throw new Error('--ttl must be a number of seconds from 1 to 30');
    }
    return { ttlSeconds: ttl, keepSession: values.keep === true, showConsole: values.console === true };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

const { ttlSeconds, keepSession, showConsole } = parseOptions();

// Ctrl-C stops the current step; everything is still closed on the way out.
const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort(new Error('interrupted')));

function sleep(ms: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      interrupt.signal.removeEventListener('abort', onAbort);
      resolvePromise();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(interrupt.signal.reason);
    }
    interrupt.signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function main(): Promise<void> {
  process.stdout.write(
    `${bold('auth-sessions demo')}: a credentials-based session, in real Chromium, against a local demo site\n`,
  );
  heading('Setup');
  const site = await startDemoSite({ sessionTtlSeconds: ttlSeconds });
  const keyPath = join(DATA_DIR, 'key');
  const keyExisted = existsSync(keyPath);
  // The embedded defaults: SQLite store and key file under ./.auth-sessions/, Chromium found automatically.
  const manager = new AuthSessionManager({ auths: [demoSiteAuth(site.url)] });
  try {
    line(`demo site on ${site.url} · user ${DEMO_USER.username} · its sessions last ${ttlSeconds} s`);
    line(
      `manager on the embedded defaults: store ${show(join(DATA_DIR, 'sessions.sqlite'))}, ` +
        `key ${process.env.AUTH_SESSIONS_KEY ? 'from AUTH_SESSIONS_KEY' : show(keyPath)}, Chromium found automatically`,
    );
    const leftover = await manager.get(SESSION_ID);
    if (leftover) {
      await manager.delete(SESSION_ID);
      line(`removed the session "${SESSION_ID}" left by an earlier run (${leftover.state})`);
    }
    await runDemo(manager, site, keyExisted, keyPath);
    if (showConsole) await serveConsole(manager);
  } finally {
    step = 'cleanup';
    if (!keepSession) await manager.delete(SESSION_ID).catch(() => undefined);
    await manager.close();
    await site.close();
    line(
      keepSession
        ? `kept the session "${SESSION_ID}" in ${show(DATA_DIR)}; closed the browser, the store and the site`
        : `deleted the demo session; closed the browser, the store and the site`,
    );
  }
}

async function runDemo(
  manager: AuthSessionManager,
  site: DemoSite,
  keyExisted: boolean,
  keyPath: string,
): Promise<void> {
  const signal = interrupt.signal;
  let lastLogin = 0;
  const checks: { ok: boolean; ms: number }[] = [];
  manager.on('created', ({ durationMs }) => {
    lastLogin = performance.now();
    line(`${yellow('event')} created: logged in through the form in ${seconds(durationMs)}`);
  });
  manager.on('checked', ({ ok, durationMs }) => {
    checks.push({ ok, ms: durationMs });
    if (!ok) line(`${yellow('event')} checked ${red('✗')}: the site says "not logged in" any more`);
  });
  manager.on('refreshed', ({ durationMs, ahead }) => {
    const before = Math.max(0, lastLogin + ttlSeconds * 1000 - performance.now());
    lastLogin = performance.now();
    line(
      ahead
        ? `${yellow('event')} refreshed ahead: logged in again ${seconds(before)} before the old login's lapse, in ${seconds(durationMs)}`
        : `${yellow('event')} refreshed: logged in again with the stored credentials in ${seconds(durationMs)}`,
    );
  });
  manager.on('expired', ({ reason }) => {
    line(`${yellow('event')} expired: logging in again failed too (${reason.code})`);
  });
  manager.on('transition', ({ from, to }) => line(`${yellow('event')} state ${from} → ${to}`));

  /** One task: read the account page, print what it saw and how long the run took. */
  const task = async (n: number, note = 'logged in again'): Promise<void> => {
    step = `task ${n}`;
    const checksBefore = checks.length;
    const loginsBefore = site.stats().logins;
    const started = performance.now();
    const user = await manager.run(SESSION_ID, ({ page }) => readAccount(page, site.url), { signal });
    const took = performance.now() - started;
    const last = checks.slice(checksBefore).at(-1);
    const check = last?.ok ? `check ${green('✓')} ${seconds(last.ms)}` : '';
    const logins = site.stats().logins;
    const loginNote =
      logins === loginsBefore ? 'no new login' : `site logins ${loginsBefore} → ${logins}: ${note}`;
    line(
      `${green('✓')} account page: signed in as ${user} · ${[check, loginNote].filter(Boolean).join(' · ')}`,
      took,
    );
  };

  heading('1. Create the session: the create hook fills in the site’s login form');
  step = 'create';
  let started = performance.now();
  const session = await manager.create('demo-site', {
    id: SESSION_ID,
    credentials: DEMO_USER,
    labels: { example: 'demo' },
    signal,
  });
  line(
    `${green('✓')} session "${session.id}" is ${stateText(session)} · site logins: ${site.stats().logins}`,
    performance.now() - started,
  );
  if (!process.env.AUTH_SESSIONS_KEY) {
    const mode = (statSync(keyPath).mode & 0o777).toString(8).padStart(4, '0');
    detail(
      `credentials and cookies are sealed with the key in ${show(keyPath)} (${keyExisted ? 'from an earlier run' : 'created now'}, mode ${mode})`,
    );
  }
  expectThat(
    session.state === 'active' && site.stats().logins === 1,
    'the session should be active after one login',
  );

  heading('2. Run tasks: every run checks the login first, then reads the account page');
  for (let n = 1; n <= 3; n++) await task(n);

  const wait = Math.max(0, lastLogin + ttlSeconds * 1000 + 300 - performance.now());
  heading(`3. The site's session lapses (it lasts ${ttlSeconds} s): waiting ${(wait / 1000).toFixed(1)} s`);
  step = 'wait';
  await sleep(wait);
  line(`the site has forgotten the login; the stored cookies are now worthless`);
  await task(4, 'refreshed transparently, the task never noticed');
  await task(5);
  // On a very slow machine the site's session may already have lapsed during step 2 (that run shows the
  // refresh then); the wait above is counted from the last login, so step 3 always shows one.
  expectThat(site.stats().logins >= 2, 'the lapsed session should have been refreshed');

  heading('4. Health checks: the session is logged in again before its next lapse, no task meets it');
  step = 'health';
  const expiresAt = (await manager.get(SESSION_ID))?.expiresAt;
  line(`the session expires at ${expiresAt} (its sid cookie's expiry, learned when the state was captured)`);
  const failedBefore4 = checks.filter((c) => !c.ok).length;
  const loginsBefore4 = site.stats().logins;
  const health = manager.startHealthChecks({ every: 1000, refreshAhead: ttlSeconds * 700 });
  const healthUntil = performance.now() + ttlSeconds * 1000 + 1500;
  for (let n = 6; performance.now() < healthUntil; n++) {
    await task(n, 'none of them by this task');
    await sleep(700);
  }
  await health.stop();
  expectThat(
    site.stats().logins > loginsBefore4,
    'the health checks should have refreshed ahead of the lapse',
  );
  const missed = checks.filter((c) => !c.ok).length - failedBefore4;
  line(
    `health checks stopped: ${site.stats().logins - loginsBefore4} login(s) ahead of the lapse, ${missed === 0 ? 'no failed check' : `${missed} failed check(s)`}`,
  );
  // Logins of a few seconds against a site whose logins last 5 s: a slow machine can take longer to log in
  // than refreshAhead leaves before the lapse (a run that opened the old state just before then meets it).
  if (missed > 0)
    detail('logging in took longer than refreshAhead leaves before the lapse: try a larger --ttl');

  heading('5. The password changes at the site: the stored credentials no longer work');
  step = 'site';
  site.setPassword(DEMO_USER.username, `changed-elsewhere-${Date.now()}`);
  line(
    `${DEMO_USER.username} changed her password on the site (say, in her own browser); the site ended her sessions`,
  );
  const failedBefore = site.stats().failedLogins;
  step = 'refused';
  started = performance.now();
  const refused = await manager
    .run(SESSION_ID, ({ page }) => readAccount(page, site.url), { signal })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  expectThat(
    isAuthSessionError(refused, 'SESSION_EXPIRED'),
    'the next task should be refused with SESSION_EXPIRED',
  );
  line(
    `${red('✗')} refused: ${codeOf(refused)} (status ${statusOf(refused)}) · the site saw ${site.stats().failedLogins - failedBefore} failed logins`,
    performance.now() - started,
  );
  detail(`the error says: ${(refused as Error).message}`);

  step = 'refused';
  const opened = manager.browser.stats().contextsOpened;
  started = performance.now();
  const again = await manager
    .run(SESSION_ID, () => 'never runs', { signal })
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  const openedAfter = manager.browser.stats().contextsOpened;
  expectThat(
    isAuthSessionError(again, 'SESSION_EXPIRED') && openedAfter === opened,
    'a task after that should be refused without a browser',
  );
  line(
    `${red('✗')} refused at once: ${codeOf(again)}, no browser context opened (contexts opened: ${opened} → ${openedAfter})`,
    performance.now() - started,
  );

  const final = await manager.get(SESSION_ID);
  expectThat(final?.state === 'expired', 'the session should end expired');
  const stats = site.stats();
  heading(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  step = 'summary';
  line(
    `session "${SESSION_ID}" is ${stateText(final!)}${final?.failure ? ` (${final.failure.code})` : ''}; tasks for it are refused until`,
  );
  detail(
    `manager.update('${SESSION_ID}', { credentials: { username, password: newPassword } }) logs it in again`,
  );
  line(
    `site: ${stats.logins} logins, ${stats.failedLogins} failed logins · browser: ${manager.browser.stats().contextsOpened} contexts opened, ${manager.browser.stats().openContexts} open now`,
  );
}

/** `--console`: the web console over the demo's manager, until Ctrl-C. */
async function serveConsole(manager: AuthSessionManager): Promise<void> {
  heading('Web console');
  step = 'console';
  const web = createConsole(manager);
  const { url } = await web.listen({ port: 0, host: '127.0.0.1' });
  try {
    line(`the console serves the demo's sessions on ${url}`);
    line(`open ${bold(`${url}?token=${web.token}`)}`);
    detail('the link signs you in (keep it to yourself); Ctrl-C stops the console and ends the demo');
    await new Promise<void>((resolvePromise) => {
      if (interrupt.signal.aborted) resolvePromise();
      else interrupt.signal.addEventListener('abort', () => resolvePromise(), { once: true });
    });
    process.stdout.write('\n');
  } finally {
    await web.close();
  }
}

function stateText(session: AuthSessionInfo): string {
  return session.state === 'active' ? green(session.state) : red(session.state);
}

function codeOf(err: unknown): string {
  return isAuthSessionError(err) ? err.code : String(err);
}

function statusOf(err: unknown): string {
  return isAuthSessionError(err) && err.status !== undefined ? String(err.status) : '-';
}

/** A path relative to the working directory, as the user would type it. */
function show(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel.startsWith('..') ? resolve(path) : `./${rel}`;
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    if (interrupt.signal.aborted) {
      process.stderr.write('\ninterrupted\n');
      process.exitCode = 130;
    } else if (err instanceof DemoFailure) {
      process.stderr.write(`\n${red('demo failed')}: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      const code = isAuthSessionError(err) ? ` [${err.code}]` : '';
      process.stderr.write(
        `\n${red('demo failed')}${code}: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
