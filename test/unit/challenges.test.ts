import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type AuthOperation,
  type AuthSessionEventName,
  AuthSessionManager,
  type CredentialsAuthDefinition,
  createMemoryStore,
  defineAuth,
} from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';
import { rejection } from '../shared.js';
import { TEST_KEY } from './helpers.js';

const schema = z.object({
  username: z.string(),
  password: z.string(),
  totpSecret: z.string().optional(),
});
type Creds = z.output<typeof schema>;
const bob = { username: 'bob', password: 'hunter2' };
const alice = { username: 'alice', password: 'pw-alice-1' };

/** An auth over the FakeSite whose create hook asks for the site's one-time code through requestInput. */
function otpAuth(site: FakeSite, extra: Partial<CredentialsAuthDefinition<typeof schema>> = {}) {
  return defineAuth({
    name: 'otp',
    type: 'credentials',
    credentials: schema,
    retryDelay: 0,
    ...fakeSiteAuth(site, { otp: 'requestInput', timeout: 1_000 }),
    ...extra,
  });
}

interface Setup {
  clock: FakeClock;
  site: FakeSite;
  browser: FakeBrowserProvider;
  keyv: Keyv;
  manager: AuthSessionManager;
  events: Array<{ name: AuthSessionEventName; payload: unknown }>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function setup(extra: Partial<CredentialsAuthDefinition<typeof schema>> = {}, keyv?: Keyv): Setup {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('bob', 'hunter2', { otp: 'code' });
  site.addUser('alice', 'pw-alice-1');
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 8 });
  const store = keyv ?? createMemoryStore();
  const manager = new AuthSessionManager({
    auths: [otpAuth(site, extra)],
    store,
    key: TEST_KEY,
    browser,
    clock,
  });
  const events: Setup['events'] = [];
  for (const name of ['input:requested', 'input:answered', 'created', 'failed', 'warning'] as const) {
    manager.on(name, (payload) => events.push({ name, payload }));
  }
  cleanups.push(
    () => manager.close(),
    () => browser.close(),
  );
  return { clock, site, browser, keyv: store, manager, events };
}

/** Waits (woken by the runner in this process) until the operation asks for input or ends. */
async function settled(manager: AuthSessionManager, id: string): Promise<AuthOperation> {
  const op = await manager.operation(id, { wait: true });
  if (!op) throw new Error('operation vanished');
  return op;
}

/** Every value in a Keyv memory store, as one string (to prove what is not there). */
async function dump(keyv: Keyv): Promise<string> {
  const parts: string[] = [];
  for await (const [key, value] of keyv.iterator!(undefined) as AsyncGenerator<[string, unknown]>) {
    parts.push(`${key}=${JSON.stringify(value)}`);
  }
  return parts.join('\n');
}

function wrongCode(right: string | undefined): string {
  return right === '000000' ? '111111' : '000000';
}

describe('start → resume → result', () => {
  it('waits for input, shows the request on the session, resumes and ends active', async () => {
    const h = setup();
    const op = await h.manager.startCreate('otp', { credentials: bob, labels: { team: 'a' } });
    expect(op).toMatchObject({ kind: 'create', status: 'running', auth: 'otp' });
    expect(op.id).toMatch(/^[0-9a-f-]{36}$/);

    const waiting = await settled(h.manager, op.id);
    expect(waiting.status).toBe('waiting_for_input');
    expect(waiting.request).toMatchObject({ kind: 'otp', message: 'Enter the code sent to you' });
    expect(waiting.session).toMatchObject({ id: op.sessionId, state: 'pending' });

    const info = await h.manager.get(op.sessionId);
    expect(info).toMatchObject({
      state: 'pending',
      input: { id: waiting.request!.id, kind: 'otp', message: 'Enter the code sent to you' },
    });
    expect(h.browser.stats().openContexts).toBe(1);

    const code = h.site.lastCode('bob')!;
    await h.manager.resume(op.id, code, { requestId: waiting.request!.id });
    const session = await h.manager.result(op.id);
    expect(session).toMatchObject({ id: op.sessionId, state: 'active', labels: { team: 'a' } });
    expect((await h.manager.get(op.sessionId))!.input).toBeUndefined();
    const done = await h.manager.operation(op.id);
    expect(done).toMatchObject({ status: 'succeeded', session: { state: 'active' } });
    expect(done!.request).toBeUndefined();

    const requested = h.events.filter((e) => e.name === 'input:requested');
    expect(requested).toHaveLength(1);
    expect(requested[0]!.payload).toMatchObject({ operationId: op.id, request: { kind: 'otp' } });
    expect(h.events.filter((e) => e.name === 'input:answered')).toHaveLength(1);
    // The answer is nowhere: not in events, views or the store (it was deleted once taken).
    expect(JSON.stringify(h.events)).not.toContain(code);
    expect(JSON.stringify([waiting, done])).not.toContain(code);
    const stored = await dump(h.keyv);
    expect(stored).not.toContain(code);
    expect(stored).not.toContain('hunter2');
    expect(stored).not.toContain(`operation/${op.id}/answer`);
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
  });

  it('a wrong code fails the attempt; the next attempt asks again and the right code wins', async () => {
    const h = setup({ createAttempts: 2 });
    const op = await h.manager.startCreate('otp', { credentials: bob });
    const first = await settled(h.manager, op.id);
    await h.manager.resume(op.id, wrongCode(h.site.lastCode('bob')));
    const second = await settled(h.manager, op.id);
    expect(second.status).toBe('waiting_for_input');
    expect(second.request!.id).not.toBe(first.request!.id);
    // The first request is gone: answering it again is refused.
    const stale = await rejection(h.manager.resume(op.id, '123456', { requestId: first.request!.id }));
    expect(stale.code).toBe('INVALID_STATE');
    await h.manager.resume(op.id, h.site.lastCode('bob')!);
    expect(await h.manager.result(op.id)).toMatchObject({ state: 'active' });
    expect(h.site.counters.failedLogins).toBe(1);
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it('wrong codes on every attempt fail the operation and leave a failed session', async () => {
    const h = setup({ createAttempts: 2 });
    const op = await h.manager.startCreate('otp', { credentials: bob });
    for (let i = 0; i < 2; i++) {
      const waiting = await settled(h.manager, op.id);
      expect(waiting.status).toBe('waiting_for_input');
      await h.manager.resume(op.id, wrongCode(h.site.lastCode('bob')));
    }
    const err = await rejection(h.manager.result(op.id));
    expect(err.code).toBe('CREATE_FAILED');
    expect(await h.manager.operation(op.id)).toMatchObject({
      status: 'failed',
      error: { code: 'CREATE_FAILED' },
      session: { state: 'failed' },
    });
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it('an unanswered request ends with INPUT_TIMEOUT; the wait does not count against createTimeout', async () => {
    const h = setup({ createTimeout: 10_000 });
    const op = await h.manager.startCreate('otp', { credentials: bob, inputTimeout: 60_000 });
    await settled(h.manager, op.id);
    const result = h.manager.result(op.id);
    result.catch(() => {});
    // Far past createTimeout: still waiting, because time waiting for input is not hook time.
    await h.clock.advanceAsync(30_000);
    expect((await h.manager.operation(op.id))!.status).toBe('waiting_for_input');
    await h.clock.advanceAsync(30_000);
    const err = await rejection(result);
    expect(err.code).toBe('INPUT_TIMEOUT');
    expect(await h.manager.operation(op.id)).toMatchObject({
      status: 'failed',
      error: { code: 'INPUT_TIMEOUT' },
    });
    expect(await h.manager.get(op.sessionId)).toMatchObject({
      state: 'failed',
      failure: { code: 'INPUT_TIMEOUT' },
    });
    expect((await h.manager.get(op.sessionId))!.input).toBeUndefined();
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it('the hook timer runs again after the answer: a hook slow after the input times out', async () => {
    const h = setup({
      createTimeout: 10_000,
      async create({ requestInput, signal }) {
        await requestInput({ kind: 'otp', message: 'Code?' });
        await new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    });
    const op = await h.manager.startCreate('otp', { credentials: alice, createAttempts: 1 });
    await settled(h.manager, op.id);
    await h.clock.advanceAsync(9_000);
    await h.manager.resume(op.id, 'x');
    const result = h.manager.result(op.id);
    result.catch(() => {});
    await h.clock.advanceAsync(10_000);
    expect((await rejection(result)).code).toBe('HOOK_TIMEOUT');
  });

  it('cancel mid-wait closes the browser and deletes the session being created', async () => {
    const h = setup();
    const op = await h.manager.startCreate('otp', { credentials: bob });
    await settled(h.manager, op.id);
    expect(h.browser.stats().openContexts).toBe(1);
    const canceled = await h.manager.cancel(op.id);
    expect(canceled).toMatchObject({ status: 'canceled', error: { code: 'ABORTED' } });
    expect(canceled.session).toBeUndefined();
    expect(await h.manager.get(op.sessionId)).toBeUndefined();
    expect(h.browser.stats()).toMatchObject({ openContexts: 0, openPages: 0 });
    expect((await rejection(h.manager.result(op.id))).code).toBe('ABORTED');
    // Nothing of the operation but its final view is left in the store.
    expect(await dump(h.keyv)).not.toMatch(/operation\/[^/\n]+\/(answer|cancel)/);
  });

  it('cancel of an update restores the session exactly as it was', async () => {
    const h = setup();
    const s = await h.manager.create('otp', {
      credentials: bob,
      onInput: async () => h.site.lastCode('bob')!,
    });
    const before = (await h.manager.get(s.id))!;
    const op = await h.manager.startUpdate(s.id, { credentials: { ...bob }, labels: { changed: 'yes' } });
    expect(op.kind).toBe('update');
    expect(await settled(h.manager, op.id)).toMatchObject({
      status: 'waiting_for_input',
      session: { state: 'pending' },
    });
    expect((await h.manager.cancel(op.id)).status).toBe('canceled');
    const after = (await h.manager.get(s.id))!;
    expect(after).toMatchObject({ state: 'active', labels: before.labels });
    expect(after.input).toBeUndefined();
    expect(h.browser.stats().openContexts).toBe(0);
    // Still usable with its old login.
    expect(await h.manager.run(s.id, () => 'ok')).toBe('ok');
  });

  it('startUpdate with new credentials logs in again through resume', async () => {
    const h = setup();
    const s = await h.manager.create('otp', {
      credentials: bob,
      onInput: async () => h.site.lastCode('bob')!,
    });
    const op = await h.manager.startUpdate(s.id, { credentials: bob });
    await settled(h.manager, op.id);
    await h.manager.resume(op.id, h.site.lastCode('bob')!);
    expect(await h.manager.result(op.id)).toMatchObject({ id: s.id, state: 'active' });
    expect(h.site.counters.logins).toBe(2);
  });

  it('an operation without input simply succeeds', async () => {
    const h = setup();
    const op = await h.manager.startCreate('otp', { credentials: alice, id: 'alice-1' });
    expect(op.sessionId).toBe('alice-1');
    expect(await h.manager.result(op.id)).toMatchObject({ id: 'alice-1', state: 'active' });
    expect((await h.manager.operation(op.id))!.status).toBe('succeeded');
    expect(h.events.some((e) => e.name === 'input:requested')).toBe(false);
  });

  it('rejects bad calls with typed errors', async () => {
    const h = setup();
    expect((await rejection(h.manager.startCreate('nope', { credentials: bob }))).code).toBe('UNKNOWN_AUTH');
    expect((await rejection(h.manager.startCreate('otp', { credentials: { username: 1 } }))).code).toBe(
      'INVALID_CREDENTIALS',
    );
    expect((await rejection(h.manager.startCreate('otp', { credentials: bob, inputTimeout: -1 }))).code).toBe(
      'INVALID_OPTIONS',
    );
    expect((await rejection(h.manager.resume('no-such-operation', '1'))).code).toBe('OPERATION_NOT_FOUND');
    expect((await rejection(h.manager.result('no-such-operation'))).code).toBe('OPERATION_NOT_FOUND');
    expect((await rejection(h.manager.cancel('../../etc/passwd'))).code).toBe('OPERATION_NOT_FOUND');
    expect(await h.manager.operation('no-such-operation')).toBeUndefined();

    const op = await h.manager.startCreate('otp', { credentials: bob, id: 'bob-1' });
    expect((await rejection(h.manager.startCreate('otp', { credentials: bob, id: 'bob-1' }))).code).toBe(
      'SESSION_EXISTS',
    );
    expect((await rejection(h.manager.startUpdate('bob-1', { credentials: bob }))).code).toBe(
      'SESSION_EXISTS',
    );
    await settled(h.manager, op.id);
    // Another process (no run here) is refused by the pending record.
    const other = new AuthSessionManager({
      auths: [otpAuth(h.site)],
      store: h.keyv,
      key: TEST_KEY,
      clock: h.clock,
    });
    cleanups.push(() => other.close());
    expect((await rejection(other.startUpdate('bob-1', { credentials: bob }))).code).toBe('INVALID_STATE');
    const notString = await rejection(h.manager.resume(op.id, 42 as unknown as string));
    expect(notString.code).toBe('INVALID_OPTIONS');
    await h.manager.cancel(op.id);
    expect((await rejection(h.manager.resume(op.id, '1'))).code).toBe('INVALID_STATE');
  });

  it('choices: an answer outside them is refused without quoting it', async () => {
    const h = setup({
      async create({ requestInput }) {
        const how = await requestInput({
          kind: 'choice',
          message: 'Where to send the code?',
          choices: ['sms', 'mail'],
        });
        if (how !== 'mail') throw new Error('unexpected');
      },
      async check() {
        return true;
      },
    });
    const op = await h.manager.startCreate('otp', { credentials: alice });
    expect((await settled(h.manager, op.id)).request).toMatchObject({ choices: ['sms', 'mail'] });
    const err = await rejection(h.manager.resume(op.id, 'pigeon-secret'));
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.message).not.toContain('pigeon-secret');
    await h.manager.resume(op.id, 'mail');
    expect(await h.manager.result(op.id)).toMatchObject({ state: 'active' });
  });
});

describe('across managers sharing a store', () => {
  it('a second manager sees the request, answers it and gets the result through the store', async () => {
    const shared = new Map();
    // Two Keyv instances over one map: no in-process notification between them, only the store.
    const a = setup({}, new Keyv({ store: shared, namespace: 'auth-sessions' }));
    const b = new AuthSessionManager({
      auths: [otpAuth(a.site)],
      store: new Keyv({ store: shared, namespace: 'auth-sessions' }),
      key: TEST_KEY,
      browser: new FakeBrowserProvider({ sites: [a.site] }),
      clock: a.clock,
    });
    cleanups.push(() => b.close());

    const op = await a.manager.startCreate('otp', { credentials: bob });
    await settled(a.manager, op.id);
    const seen = await b.operation(op.id);
    expect(seen).toMatchObject({ status: 'waiting_for_input', request: { kind: 'otp' } });
    expect(await b.get(op.sessionId)).toMatchObject({ state: 'pending', input: { kind: 'otp' } });

    await b.resume(op.id, a.site.lastCode('bob')!);
    // Answered but not yet taken: the operation reads as running.
    expect((await b.operation(op.id))!.status).toBe('running');
    const result = b.result(op.id);
    await a.clock.advanceAsync(2_000); // the runner's and b's polls
    expect(await result).toMatchObject({ id: op.sessionId, state: 'active' });
    expect(a.browser.stats().openContexts).toBe(0);
  });

  it('a second manager cancels: the runner sees the flag and cleans up', async () => {
    const shared = new Map();
    const a = setup({}, new Keyv({ store: shared, namespace: 'auth-sessions' }));
    const b = new AuthSessionManager({
      auths: [otpAuth(a.site)],
      store: new Keyv({ store: shared, namespace: 'auth-sessions' }),
      key: TEST_KEY,
      browser: new FakeBrowserProvider({ sites: [a.site] }),
      clock: a.clock,
    });
    cleanups.push(() => b.close());
    const op = await a.manager.startCreate('otp', { credentials: bob });
    await settled(a.manager, op.id);
    const canceling = b.cancel(op.id);
    await a.clock.advanceAsync(2_000);
    expect(await canceling).toMatchObject({ status: 'canceled' });
    expect(await b.get(op.sessionId)).toBeUndefined();
    expect(a.browser.stats().openContexts).toBe(0);
    expect((await rejection(b.result(op.id))).code).toBe('ABORTED');
  });

  it('a manager with another key cannot answer (the answer is sealed)', async () => {
    const shared = new Map();
    const a = setup({ createAttempts: 1 }, new Keyv({ store: shared, namespace: 'auth-sessions' }));
    const b = new AuthSessionManager({
      auths: [otpAuth(a.site)],
      store: new Keyv({ store: shared, namespace: 'auth-sessions' }),
      key: Buffer.alloc(32, 7).toString('base64'),
      browser: new FakeBrowserProvider({ sites: [a.site] }),
      clock: a.clock,
    });
    cleanups.push(() => b.close());
    const op = await a.manager.startCreate('otp', { credentials: bob });
    await settled(a.manager, op.id);
    await b.resume(op.id, a.site.lastCode('bob')!);
    const result = a.manager.result(op.id);
    result.catch(() => {});
    await a.clock.advanceAsync(1_000);
    expect((await rejection(result)).code).toBe('DECRYPT_FAILED');
    expect(a.browser.stats().openContexts).toBe(0);
  });
});

describe('one-call forms and background refresh', () => {
  it('create without onInput fails with INPUT_REQUIRED and a clear message', async () => {
    const h = setup();
    const err = await rejection(h.manager.create('otp', { credentials: bob }));
    expect(err.code).toBe('INPUT_REQUIRED');
    expect(err.message).toContain('startCreate');
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it('create with onInput answers in the call; the session shows the request meanwhile', async () => {
    const h = setup();
    const seen: unknown[] = [];
    const s = await h.manager.create('otp', {
      credentials: bob,
      id: 'bob-call',
      onInput: async (request, signal) => {
        expect(signal).toBeInstanceOf(AbortSignal);
        seen.push(request, (await h.manager.get('bob-call'))!.input);
        return h.site.lastCode('bob')!;
      },
    });
    expect(s.state).toBe('active');
    expect(seen[0]).toMatchObject({ kind: 'otp', message: 'Enter the code sent to you' });
    expect(seen[1]).toMatchObject({ id: (seen[0] as { id: string }).id, kind: 'otp' });
  });

  it('onInput is bounded by inputTimeout too', async () => {
    const h = setup({ createAttempts: 1 });
    const created = h.manager.create('otp', {
      credentials: bob,
      inputTimeout: 5_000,
      onInput: (_request, signal) =>
        new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    } as Parameters<AuthSessionManager['create']>[1]);
    created.catch(() => {});
    await h.clock.advanceAsync(5_000);
    expect((await rejection(created)).code).toBe('INPUT_TIMEOUT');
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it("the auth's inputTimeout applies when the call sets none", async () => {
    // `inputTimeout` on the definition (typed once AuthOptions declares it).
    const h = setup({ inputTimeout: 2_000 } as Partial<CredentialsAuthDefinition<typeof schema>>);
    const op = await h.manager.startCreate('otp', { credentials: bob, createAttempts: 1 });
    await settled(h.manager, op.id);
    const result = h.manager.result(op.id);
    result.catch(() => {});
    await h.clock.advanceAsync(2_000);
    expect((await rejection(result)).code).toBe('INPUT_TIMEOUT');
  });

  it('a refresh that asks for input has nobody to answer: INPUT_REQUIRED expires the session', async () => {
    const h = setup();
    const s = await h.manager.create('otp', {
      credentials: bob,
      onInput: async () => h.site.lastCode('bob')!,
    });
    h.site.expireSessions();
    const err = await rejection(h.manager.run(s.id, () => 1));
    expect(err.code).toBe('SESSION_EXPIRED');
    expect(await h.manager.get(s.id)).toMatchObject({
      state: 'expired',
      failure: { code: 'INPUT_REQUIRED' },
    });
    expect(h.browser.stats().openContexts).toBe(0);
  });

  it('totp() in create and in a background refresh needs no person', async () => {
    const { generate } = await import('otplib');
    const codes: Array<{ code: string; at: number }> = [];
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    let h: Setup | undefined;
    h = setup({
      async create({ page, credentials, totp }) {
        codes.push({ code: await totp(), at: h!.clock.now() });
        await fakeSiteAuth(h!.site).create({ page, credentials: credentials as Creds });
      },
    });
    const s = await h.manager.create('otp', { credentials: { ...alice, totpSecret: secret } });
    h.site.expireSessions();
    await h.manager.run(s.id, () => 1);
    expect(await h.manager.get(s.id)).toMatchObject({ state: 'active' });
    expect(codes).toHaveLength(2);
    for (const { code, at } of codes) {
      expect(code).toBe(await generate({ secret, epoch: Math.floor(at / 1000) }));
    }
    expect(JSON.stringify(await dump(h.keyv))).not.toContain(secret);
  });
});
