/**
 * The secrets canary: a full lifecycle (create with a TOTP secret and a proxy with a password, run, refresh,
 * expire, update, OTP through startCreate/resume, record, export/import, queue, rotate, delete) with a logger
 * at its most verbose level, then a search for every secret, raw, base64 (any alignment), base64url, hex and
 * URL-encoded, in logs, events, history, errors (message, stack, cause chain), process warnings, and the
 * `util.inspect` and `JSON.stringify` of everything the API returned. The only API that returns secrets on
 * purpose, `exportState`, is left out of the search (and its cookies join the canary list).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  type AuthSessionEventName,
  type AuthSessionLogger,
  AuthSessionManager,
  createMemoryStore,
  defineAuth,
} from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';
import { TEST_KEY } from './helpers.js';

const ALICE_PW = 'Alice-pw-7Q9zK3xLm2Vb';
const ALICE_PW_NEW = 'Alice-new-pw-R4tY8uIo0p';
const ALICE_PW_WRONG = 'Alice-wrong-pw-Zx9Cv8Bn7M';
const BOB_PW = 'Bob-otp-pw-Kj6Hg5Fd4Sa';
const CAROL_PW = 'Carol-rec-pw-Qw2Er3Ty4U';
const DAVE_PW = 'Dave-leaky-pw-Mn5Bv6Cx7Z';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
const PROXY_PW = 'Proxy-pw-Lk8Jh7Gf6Ds5';
const PROXY = `http://proxyuser:${PROXY_PW}@proxy.test:3128`;
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

/** Every event name; the Record type makes this fail to compile when an event is added and not listed here. */
const EVERY_EVENT: Record<AuthSessionEventName, true> = {
  created: true,
  failed: true,
  checked: true,
  refreshed: true,
  expired: true,
  updated: true,
  deleted: true,
  transition: true,
  'run:start': true,
  'run:end': true,
  'input:requested': true,
  'input:answered': true,
  'queue:paused': true,
  'queue:resumed': true,
  expiring: true,
  'health:round': true,
  warning: true,
};

const secrets = new Map<string, string>([
  ['alice password', ALICE_PW],
  ['alice new password', ALICE_PW_NEW],
  ['alice wrong password', ALICE_PW_WRONG],
  ['bob password', BOB_PW],
  ['carol password', CAROL_PW],
  ['dave password', DAVE_PW],
  ['TOTP secret', TOTP_SECRET],
  ['proxy password', PROXY_PW],
  ['webhook secret', WEBHOOK_SECRET],
  ['webhook secret (key part)', WEBHOOK_SECRET.slice('whsec_'.length)],
  ['encryption key', TEST_KEY],
  ['encryption key (hex)', Buffer.from(TEST_KEY, 'base64').toString('hex')],
]);

const logs: unknown[] = [];
const events: unknown[] = [];
const warnings: unknown[] = [];
const errors: unknown[] = [];
const returned: unknown[] = [];
const histories: unknown[] = [];
/** Every webhook request received (headers and body), as sent. */
const webhookRequests: string[] = [];
const webhookReceiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    webhookRequests.push(`${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString('utf8')}`);
    res.writeHead(204).end();
  });
});

function logger(): AuthSessionLogger {
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => logs.push({ level, obj, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Runs `fn`, keeps what it returns (or the error it throws) for the search. */
async function keep<T>(fn: () => Promise<T> | T): Promise<T | undefined> {
  try {
    const value = await fn();
    returned.push(value);
    return value;
  } catch (err) {
    errors.push(err);
    return undefined;
  }
}

/** Every way a secret could show: raw, URL-encoded, hex, base64 and base64url at each byte alignment. */
function variants(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out = new Set([
    secret,
    encodeURIComponent(secret),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ]);
  for (let offset = 0; offset < 3; offset++) {
    const b64 = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // Keep only the characters that depend on the secret's bytes alone.
    const start = offset === 0 ? 0 : 4;
    const end = (offset + bytes.length) % 3 === 0 ? b64.length : b64.length - 4;
    const core = b64.slice(start, end);
    if (core.length >= 8) {
      out.add(core);
      out.add(core.replaceAll('+', '-').replaceAll('/', '_'));
    }
  }
  return [...out];
}

/** Every string an error shows: message, stack, inspect, JSON, down the cause chain. */
function errorText(err: unknown, seen = new Set<unknown>()): string {
  if (err === null || err === undefined || seen.has(err)) return '';
  seen.add(err);
  const parts = [inspect(err, { depth: Number.POSITIVE_INFINITY }), safeJson(err)];
  if (err instanceof Error) {
    parts.push(err.message, err.stack ?? '', String(err));
    parts.push(errorText((err as { cause?: unknown }).cause, seen));
    if (err instanceof AggregateError) for (const e of err.errors) parts.push(errorText(e, seen));
  }
  return parts.join('\n');
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (err) {
    return `unserialisable: ${String(err)}`;
  }
}

function text(value: unknown): string {
  return `${inspect(value, { depth: Number.POSITIVE_INFINITY, maxArrayLength: null, maxStringLength: null })}\n${safeJson(value)}`;
}

function leaks(where: string, haystack: string): string[] {
  const found: string[] = [];
  for (const [name, secret] of secrets) {
    if (secret.length < 6) continue;
    for (const v of variants(secret)) {
      if (haystack.includes(v)) {
        found.push(`${name} (${v === secret ? 'raw' : 'encoded'}) in ${where}`);
        break;
      }
    }
  }
  return found;
}

let manager: AuthSessionManager;
let browser: FakeBrowserProvider;
const onWarning = (w: Error) => warnings.push(w);
const cookieValues = new Set<string>();

beforeAll(async () => {
  process.on('warning', onWarning);
  await new Promise<void>((resolve) => webhookReceiver.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(webhookReceiver.address() as AddressInfo).port}/hooks`;
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', ALICE_PW);
  site.addUser('bob', BOB_PW, { otp: 'code' });
  site.addUser('carol', CAROL_PW);
  site.addUser('dave', DAVE_PW);
  // Every cookie value the site ever sets joins the canary list.
  const handle = site.handle.bind(site);
  site.handle = (request) => {
    const response = handle(request);
    for (const c of response.cookies) if (c.value) cookieValues.add(c.value);
    return response;
  };
  browser = new FakeBrowserProvider({ sites: [site], maxContexts: 8 });

  const credentials = z.object({
    username: z.string(),
    password: z.string(),
    totpSecret: z.string().optional(),
  });
  const hooks = fakeSiteAuth(site, { timeout: 1_000 });
  const crm = defineAuth({
    name: 'crm',
    type: 'credentials',
    credentials,
    retryDelay: 0,
    async create(ctx) {
      // Exercise the TOTP secret as a real 2FA login would (the fake site has no TOTP step of its own).
      if (ctx.credentials.totpSecret) expect(await ctx.totp()).toMatch(/^\d{6}$/);
      await hooks.create(ctx);
    },
    check: hooks.check,
  });
  const otp = defineAuth({
    name: 'otp',
    type: 'credentials',
    credentials,
    retryDelay: 0,
    // A wrong code fails the operation at once (with 2 attempts, the login would ask for a new code).
    createAttempts: 1,
    ...fakeSiteAuth(site, { otp: 'requestInput', timeout: 1_000 }),
  });
  const portal = defineAuth({
    name: 'portal',
    type: 'recorder',
    startUrl: `${site.origin}/login`,
    finishUrl: `${site.origin}/account`,
    retryDelay: 0,
    check: hooks.check,
  });
  // A login hook whose errors quote the password (raw, URL-encoded, in a nested cause) and the proxy URL
  // with its password: what it throws must be scrubbed before the library keeps, throws or logs it.
  let leakyFails = false;
  const leaky = defineAuth({
    name: 'leaky',
    type: 'credentials',
    credentials,
    retryDelay: 0,
    createAttempts: 1,
    async create(ctx) {
      if (leakyFails || ctx.credentials.username !== 'dave') {
        const cause = new Error(
          `proxy ${PROXY} said no to password=${encodeURIComponent(ctx.credentials.password)}`,
        );
        const err = new Error(`bad password ${ctx.credentials.password}`, { cause });
        Object.assign(err, { details: { tried: [ctx.credentials.password] } });
        throw err;
      }
      await hooks.create(ctx);
    },
    check: hooks.check,
  });
  manager = new AuthSessionManager({
    auths: [crm, otp, portal, leaky],
    store: createMemoryStore(),
    key: TEST_KEY,
    browser,
    clock,
    logger: logger(),
    webhooks: [{ url: webhookUrl, secret: WEBHOOK_SECRET }],
  });
  for (const name of Object.keys(EVERY_EVENT) as AuthSessionEventName[]) {
    manager.on(name, (payload: unknown) => events.push({ name, payload }));
  }
  const task = async ({ page, context }: { page: Page; context: { cookies(): Promise<unknown> } }) => {
    await page.goto(`${site.origin}/account`);
    returned.push(await context.cookies().then(() => 'cookies read (not kept)'));
    return page.textContent('#user');
  };

  // Credentials-based: create with TOTP secret and an authenticated proxy, run, refresh, expire, update.
  const alice = (await keep(() =>
    manager.create('crm', {
      id: 'alice-1',
      credentials: { username: 'alice', password: ALICE_PW, totpSecret: TOTP_SECRET },
      proxy: PROXY,
      labels: { customer: 'acme' },
    }),
  ))!;
  expect(alice.state).toBe('active');
  const queue = manager.queue(alice.id);
  await keep(() => queue.add(task));
  await keep(() => manager.run(alice.id, task));
  site.logoutAll();
  await keep(() => manager.run(alice.id, task)); // refresh
  site.changePassword('alice', ALICE_PW_NEW);
  site.logoutAll();
  await keep(() => manager.run(alice.id, task)); // expires: SESSION_EXPIRED
  await keep(() => manager.validate(alice.id));
  await keep(() =>
    manager.update(alice.id, {
      credentials: { username: 'alice', password: ALICE_PW_WRONG, totpSecret: TOTP_SECRET },
    }),
  );
  await keep(() =>
    manager.update(alice.id, {
      credentials: { username: 'alice', password: ALICE_PW_NEW, totpSecret: TOTP_SECRET },
    }),
  );
  await keep(() => manager.validate(alice.id));
  await keep(() => manager.update(alice.id, { proxy: PROXY, labels: { customer: 'acme', tier: 'gold' } }));
  // Bad input: credentials of the wrong shape, a wrong password at creation.
  await keep(() =>
    manager.create('crm', { credentials: { username: 'alice', password: 42, totpSecret: TOTP_SECRET } }),
  );
  await keep(() =>
    manager.create('crm', { id: 'alice-bad', credentials: { username: 'alice', password: ALICE_PW_WRONG } }),
  );
  await keep(() => manager.run('no-such-session', task));

  // OTP through startCreate → resume → result, once right and once wrong.
  const op = (await keep(() =>
    manager.startCreate('otp', { id: 'bob-1', credentials: { username: 'bob', password: BOB_PW } }),
  ))!;
  const waiting = (await keep(() => manager.operation(op.id, { wait: true })))!;
  expect(waiting.status).toBe('waiting_for_input');
  await keep(() => manager.resume(op.id, site.lastCode('bob')!, { requestId: waiting.request!.id }));
  expect((await keep(() => manager.result(op.id)))?.state).toBe('active');
  await keep(() => manager.operation(op.id));
  const op2 = (await keep(() =>
    manager.startCreate('otp', { id: 'bob-2', credentials: { username: 'bob', password: BOB_PW } }),
  ))!;
  await keep(() => manager.operation(op2.id, { wait: true }));
  await keep(() => manager.resume(op2.id, '000000'));
  await keep(() => manager.result(op2.id));
  await keep(() => manager.operation(op2.id));

  // Recorder: a scripted person logs in; then export and import its state.
  const recorded = (await keep(() =>
    manager.record('portal', {
      id: 'carol-1',
      onPage: async (page: Page) => {
        await page.fill('#username', 'carol');
        await page.fill('#password', CAROL_PW);
        await page.click('#login');
      },
    }),
  ))!;
  expect(recorded.state).toBe('active');
  await keep(() => manager.run(recorded.id, task));
  // exportState returns the secret state on purpose: not searched, but its cookie values join the canary.
  for (const id of [recorded.id, alice.id]) {
    const state = await manager.exportState(id);
    for (const c of state.cookies ?? []) if (c.value) cookieValues.add(c.value);
    if (id === recorded.id) {
      await keep(() =>
        manager.importState('portal', state, { id: 'carol-imported', labels: { from: 'export' } }),
      );
      await keep(() => manager.importState('portal', JSON.stringify(state), { id: 'carol-imported-2' }));
    }
  }
  await keep(() => manager.run('carol-imported', task));
  await keep(() => manager.importState('portal', '{"cookies": "not a list"}', { id: 'broken' }));
  await keep(() => manager.importState('portal', '{not json', { id: 'broken-2' }));

  // Hook errors quoting the credentials: at creation (CREATE_FAILED) and at a refresh (SESSION_EXPIRED).
  await keep(() =>
    manager.create('leaky', {
      id: 'dave-bad',
      credentials: { username: 'dave!', password: DAVE_PW },
      proxy: PROXY,
    }),
  );
  await keep(() =>
    manager.create('leaky', {
      id: 'dave-1',
      credentials: { username: 'dave', password: DAVE_PW },
      proxy: PROXY,
    }),
  );
  leakyFails = true;
  site.logoutAll();
  await keep(() => manager.run('dave-1', task));
  await keep(() => manager.validate('dave-1'));

  // Read everything back the ways an operator would.
  await keep(() => manager.list());
  await keep(() => manager.list({ auth: 'crm', labels: { customer: 'acme' } }));
  for (const id of [
    'alice-1',
    'alice-bad',
    'bob-1',
    'bob-2',
    'carol-1',
    'carol-imported',
    'dave-bad',
    'dave-1',
  ]) {
    await keep(() => manager.get(id));
    await manager.flushHistory();
    histories.push(await manager.history(id));
  }
  await keep(() => manager.stats());
  await keep(() => manager.describeAuth('crm'));
  await keep(() => manager.rotateKey());
  await keep(() => manager.delete('carol-imported-2'));
  returned.push(manager, manager.authNames);
  await manager.flushHistory();
  // Every event that maps to a webhook has reached the receiver.
  const webhookEvents = ['created', 'refreshed', 'expired', 'failed', 'input:requested', 'deleted'];
  const sent = events.filter((e) => webhookEvents.includes((e as { name: string }).name)).length;
  await vi.waitFor(() => expect(webhookRequests.length).toBeGreaterThanOrEqual(sent), { timeout: 10_000 });
  for (const c of cookieValues) secrets.set(`cookie value ${c.slice(0, 4)}…`, c);
});

afterAll(async () => {
  process.off('warning', onWarning);
  await manager?.close();
  await browser?.close();
  webhookReceiver.closeAllConnections();
  await new Promise((resolve) => webhookReceiver.close(resolve));
});

describe('secrets canary', () => {
  it('went through the whole lifecycle', () => {
    const names = new Set(events.map((e) => (e as { name: string }).name));
    for (const name of [
      'created',
      'failed',
      'checked',
      'refreshed',
      'expired',
      'updated',
      'deleted',
      'transition',
      'run:start',
      'run:end',
      'input:requested',
      'input:answered',
      'queue:paused',
      'queue:resumed',
    ]) {
      expect(names, name).toContain(name);
    }
    const levels = new Set(logs.map((l) => (l as { level: string }).level));
    expect([...levels].sort()).toEqual(['debug', 'info', 'warn']);
    // The errors the bad inputs were meant to cause did happen.
    const codes = errors.map((e) => (e as { code?: string }).code);
    for (const code of ['SESSION_EXPIRED', 'CREATE_FAILED', 'INVALID_CREDENTIALS', 'SESSION_NOT_FOUND']) {
      expect(codes, code).toContain(code);
    }
    expect(errors.length).toBeGreaterThanOrEqual(7);
    expect(cookieValues.size).toBeGreaterThan(5);
    expect(histories.flat().length).toBeGreaterThan(10);
  });

  it('no secret in logs', () => {
    expect(leaks('logs', text(logs))).toEqual([]);
  });

  it('no secret in events', () => {
    expect(leaks('events', text(events))).toEqual([]);
  });

  it('no secret in history', () => {
    expect(leaks('history', text(histories))).toEqual([]);
  });

  it('no secret in errors: message, stack, cause chain, inspect, JSON', () => {
    const found = errors.flatMap((err, i) =>
      leaks(`error #${i} (${(err as { code?: string }).code})`, errorText(err)),
    );
    expect(found).toEqual([]);
  });

  it('no secret in util.inspect or JSON.stringify of anything returned (manager, infos, operations, stats…)', () => {
    const found = returned.flatMap((value, i) => leaks(`returned #${i}`, text(value)));
    expect(found).toEqual([]);
  });

  it('no secret in webhook requests (headers and bodies)', () => {
    expect(webhookRequests.length).toBeGreaterThan(10);
    expect(leaks('webhooks', webhookRequests.join('\n'))).toEqual([]);
  });

  it('no secret in process warnings', () => {
    expect(leaks('warnings', warnings.map((w) => errorText(w)).join('\n'))).toEqual([]);
  });

  it('the search itself works: a planted secret is found in every encoding', () => {
    const planted = 'planted-secret-value-123';
    secrets.set('planted', planted);
    try {
      for (const encoded of [
        planted,
        Buffer.from(`xx${planted}yy`).toString('base64'),
        Buffer.from(`x${planted}`).toString('base64url'),
        Buffer.from(planted).toString('hex'),
      ]) {
        expect(leaks('probe', `{"a":"${encoded}"}`)).toEqual([
          'planted (' + (encoded === planted ? 'raw' : 'encoded') + ') in probe',
        ]);
      }
    } finally {
      secrets.delete('planted');
    }
  });
});
