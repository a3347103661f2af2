/**
 * Challenges end to end: real Chromium against the demo site's TOTP (`/otp`) and e-mailed code
 * (`/email-code`) second factors; the e-mailed code answered from a second process over a shared SQLite store.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecret } from 'otplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';
import {
  AuthSessionManager,
  ChromiumProvider,
  type Clock,
  createMemoryStore,
  createSqliteStore,
  defineAuth,
  systemClock,
  type TimerHandle,
} from '../../src/index.js';
import { rejection } from '../shared.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const KEY = randomBytes(32).toString('base64');
const TOTP_SECRET = generateSecret();
const TIA = { username: 'tia', password: 'pw-tia-1', totpSecret: TOTP_SECRET };
const EVE = { username: 'eve', password: 'pw-eve-1' };

/** Real time shifted by an offset the test moves, shared by the manager and the site (so both agree). */
class ShiftedClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return systemClock.setTimeout(fn, ms);
  }
  clearTimeout(handle: TimerHandle): void {
    systemClock.clearTimeout(handle);
  }
  /** Jumps so that only `ms` are left in the current 30 s TOTP step. */
  leaveInStep(ms: number): void {
    const left = 30_000 - (this.now() % 30_000);
    this.offset += left - ms;
  }
}

const clock = new ShiftedClock();
const provider = new ChromiumProvider({ maxContexts: 2 });
let site: DemoSite;
const totpWaits: number[] = [];
const dirs: string[] = [];
const managers: AuthSessionManager[] = [];

/** The demo site's login with both second factors, as a user would write it. */
function demoAuth(options: { rollover?: boolean } = {}) {
  return defineAuth({
    name: 'demo-2fa',
    type: 'credentials',
    credentials: z.object({
      username: z.string(),
      password: z.string(),
      totpSecret: z.string().optional(),
    }),
    retryDelay: 250,
    createAttempts: 2,
    async create({ page, credentials, totp, requestInput }) {
      await page.goto(`${site.url}/login`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      await page.locator('#user, #otp, #code, #error').first().waitFor({ timeout: 15_000 });
      if ((await page.locator('#otp').count()) > 0) {
        // Put the code right at the edge of its step: totp() must wait for the next one.
        if (options.rollover) clock.leaveInStep(1_000);
        const before = clock.now();
        const code = await totp();
        totpWaits.push(clock.now() - before);
        await page.fill('#otp', code);
        await page.click('#verify');
      } else if ((await page.locator('#code').count()) > 0) {
        const code = await requestInput({ kind: 'otp', message: 'Enter the 6-digit code we e-mailed you' });
        await page.fill('#code', code);
        await page.click('#verify');
      }
      await page.locator('#user, #error').first().waitFor({ timeout: 15_000 });
      if ((await page.locator('#user').count()) === 0) throw new Error('The demo site refused the login');
    },
    async check({ page }) {
      await page.goto(`${site.url}/account`);
      return new URL(page.url()).pathname === '/account' && (await page.locator('#user').count()) === 1;
    },
  });
}

function manager(options: { store?: ReturnType<typeof createMemoryStore>; rollover?: boolean } = {}) {
  const m = new AuthSessionManager({
    auths: [demoAuth(options)],
    store: options.store ?? createMemoryStore(),
    key: KEY,
    browser: provider,
    clock,
  });
  managers.push(m);
  return m;
}

async function inbox(user: string): Promise<string> {
  const body = (await (await fetch(`${site.url}/__admin/inbox?user=${user}`)).json()) as {
    code: string | null;
  };
  if (!body.code) throw new Error('no e-mail code yet');
  return body.code;
}

beforeAll(async () => {
  site = await startDemoSite({
    now: () => clock.now(),
    users: [TIA, { ...EVE, emailCode: true }],
  });
});

afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  expect(provider.stats().openContexts).toBe(0);
});

afterAll(async () => {
  await provider.close();
  await site?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('challenges in real Chromium', () => {
  it('TOTP: logs in and refreshes with nobody there, also right at a code rollover', async () => {
    const m = manager({ rollover: true });
    totpWaits.length = 0;
    const s = await m.create('demo-2fa', { credentials: TIA });
    expect(s.state).toBe('active');
    // It waited for the next step instead of typing a code about to expire.
    expect(totpWaits[0]).toBeGreaterThanOrEqual(1_000);
    expect(totpWaits[0]).toBeLessThan(5_000);

    let refreshed = 0;
    m.on('refreshed', () => refreshed++);
    site.expireAllSessions();
    expect(await m.validate(s.id)).toMatchObject({ state: 'active' });
    expect(refreshed).toBe(1);
    expect(totpWaits).toHaveLength(2);
    expect(site.stats().byUser.tia).toBe(2);
  }, 120_000);

  it('e-mailed code: startCreate here, resume and result from a second process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auth-sessions-challenges-'));
    dirs.push(dir);
    const file = join(dir, 'sessions.sqlite');
    const m = manager({ store: createSqliteStore(file) });
    const op = await m.startCreate('demo-2fa', { credentials: EVE, id: 'eve' });
    const waiting = await m.operation(op.id, { wait: true, timeoutMs: 60_000 });
    expect(waiting).toMatchObject({ status: 'waiting_for_input', request: { kind: 'otp' } });
    expect(await m.get('eve')).toMatchObject({ state: 'pending', input: { kind: 'otp' } });

    // The other process: a manager over the same SQLite file and key, playing the web server that got the
    // code from the user (here: from the demo inbox).
    const script = join(dir, 'resume.mts');
    writeFileSync(
      script,
      `import { AuthSessionManager, createSqliteStore, defineAuth } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
const [file, opId, url] = process.argv.slice(2);
// This process never logs in: the auth only has to exist under the same name.
const schema = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } };
const auth = defineAuth({ name: 'demo-2fa', type: 'credentials', credentials: schema, create() { throw new Error('no'); }, check: () => false });
const manager = new AuthSessionManager({ auths: [auth], store: createSqliteStore(file) });
try {
  const op = await manager.operation(opId);
  const inbox = await (await fetch(url + '/__admin/inbox?user=eve')).json();
  await manager.resume(opId, inbox.code, { requestId: op.request.id });
  const session = await manager.result(opId, { timeoutMs: 60000 });
  console.log(JSON.stringify({ seen: op.status, kind: op.request.kind, id: session.id, state: session.state }));
} finally {
  await manager.close();
}
`,
    );
    const child = spawn(process.execPath, [TSX, script, file, op.id, site.url], {
      env: { ...process.env, AUTH_SESSIONS_KEY: KEY, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      seen: 'waiting_for_input',
      kind: 'otp',
      id: 'eve',
      state: 'active',
    });
    expect(await m.result(op.id)).toMatchObject({ id: 'eve', state: 'active' });
    expect((await m.get('eve'))!.input).toBeUndefined();
    expect(
      await m.run('eve', ({ page }) =>
        page.goto(`${site.url}/account`).then(() => page.textContent('#user')),
      ),
    ).toBe('eve');
  }, 150_000);

  it('e-mailed code: a wrong code, then the right one on the next attempt', async () => {
    const m = manager();
    const op = await m.startCreate('demo-2fa', { credentials: EVE });
    const first = await m.operation(op.id, { wait: true, timeoutMs: 60_000 });
    expect(first?.status).toBe('waiting_for_input');
    const right = await inbox('eve');
    await m.resume(op.id, right === '000000' ? '111111' : '000000');
    const second = await m.operation(op.id, { wait: true, timeoutMs: 60_000 });
    expect(second?.status).toBe('waiting_for_input');
    expect(second?.request?.id).not.toBe(first?.request?.id);
    await m.resume(op.id, await inbox('eve'));
    expect(await m.result(op.id)).toMatchObject({ state: 'active' });
  }, 120_000);

  it('no answer within inputTimeout ends in INPUT_TIMEOUT; cancel mid-wait leaves nothing behind', async () => {
    const m = manager();
    const timed = await m.startCreate('demo-2fa', { credentials: EVE, inputTimeout: 1_500 });
    expect((await rejection(m.result(timed.id, { timeoutMs: 60_000 }))).code).toBe('INPUT_TIMEOUT');
    expect(await m.get(timed.sessionId)).toMatchObject({
      state: 'failed',
      failure: { code: 'INPUT_TIMEOUT' },
    });
    expect(provider.stats().openContexts).toBe(0);

    const op = await m.startCreate('demo-2fa', { credentials: EVE });
    expect((await m.operation(op.id, { wait: true, timeoutMs: 60_000 }))?.status).toBe('waiting_for_input');
    expect(provider.stats().openContexts).toBe(1);
    expect(await m.cancel(op.id)).toMatchObject({ status: 'canceled' });
    expect(await m.get(op.sessionId)).toBeUndefined();
    expect(provider.stats().openContexts).toBe(0);
  }, 120_000);
});
