import type Keyv from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  AuthSessionManager,
  type AuthSessionManagerOptions,
  createMemoryStore,
  defineAuth,
  type WebhookEndpoint,
} from '../../src/index.js';
import { EventBus } from '../../src/monitor/events.js';
import type { StoreAdapter } from '../../src/store/contract.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';
import { Keyring } from '../../src/vault/keyring.js';
import { retryDelay } from '../../src/webhooks/backoff.js';
import { resolveWebhooks } from '../../src/webhooks/options.js';
import { OUTBOX_PREFIX, type OutboxEntry } from '../../src/webhooks/outbox.js';
import { Webhooks } from '../../src/webhooks/webhooks.js';
import { rejection } from '../shared.js';
import { newWebhookSecret, type Receiver, startReceiver } from '../webhook-receiver.js';
import { managerOver, siteAuth, TEST_KEY } from './helpers.js';

const ALICE_PW = 'Alice-webhook-pw-Q8zK3xLm2V';
const ALICE_PW_NEW = 'Alice-webhook-new-pw-R4tY8u';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Setup {
  clock: FakeClock;
  site: FakeSite;
  keyv: Keyv;
  manager: AuthSessionManager;
  receiver: Receiver;
  secret: string;
  warnings: Array<{ session?: { id: string }; error: { code: string; message: string } }>;
  /** The outbox entries in the store now. */
  outbox(): Promise<OutboxEntry[]>;
}

async function setup(
  endpoint: Partial<WebhookEndpoint> = {},
  options: Partial<AuthSessionManagerOptions> = {},
): Promise<Setup> {
  const secret = newWebhookSecret();
  const receiver = await startReceiver(secret);
  // Near the real time: receivers reject signatures whose timestamp is more than 5 minutes off.
  const clock = new FakeClock(Date.now());
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', ALICE_PW);
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 16 });
  const keyv = createMemoryStore();
  const manager = managerOver(
    { site, browser, clock },
    { store: keyv, webhooks: [{ url: receiver.url, secret, ...endpoint }], ...options },
  );
  const warnings: Setup['warnings'] = [];
  manager.on('warning', (w) => warnings.push(w));
  cleanups.push(
    () => receiver.close(),
    () => browser.close(),
    () => manager.close(),
  );
  const adapter = storeAdapterFor(keyv);
  return {
    clock,
    site,
    keyv,
    manager,
    receiver,
    secret,
    warnings,
    async outbox() {
      const out: OutboxEntry[] = [];
      for await (const [, raw] of adapter.scan(OUTBOX_PREFIX)) out.push(JSON.parse(raw));
      return out;
    },
  };
}

/** Waits for real I/O (HTTP to the local receiver, store calls); fake time does not move. */
const until = (fn: () => unknown | Promise<unknown>) => vi.waitFor(fn, { timeout: 10_000, interval: 5 });

/**
 * `until` after moving the fake clock: an attempt sets its retry timer once its outcome is written, and a
 * test that saw the write may move the clock before the timer is set. The retry is due at an absolute time,
 * so that timer is then due at once; `advance(0)` on each poll fires it.
 */
const untilAfterAdvance = (clock: { advance(ms: number): void }, fn: () => unknown | Promise<unknown>) =>
  until(() => {
    clock.advance(0);
    return fn();
  });

describe('webhooks option', () => {
  const secret = newWebhookSecret();
  const invalid = (webhooks: unknown) => {
    try {
      resolveWebhooks(webhooks);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error('accepted');
  };

  it('is checked once, naming the option and never echoing the secret', () => {
    const badSecret = 'not-a-whsec-secret-Zx9Cv8Bn7M';
    const e = invalid([{ url: 'https://a.example/h', secret: badSecret }]);
    expect(e.code).toBe('INVALID_OPTIONS');
    expect(e.message).toContain('"webhooks[0].secret"');
    expect(e.message).not.toContain(badSecret);
    const short = `whsec_${Buffer.from('too short').toString('base64')}`;
    expect(invalid([{ url: 'https://a.example/h', secret: short }]).message).not.toContain(short);
    expect(invalid([{ url: 'ftp://a.example/h', secret }]).message).toContain('"webhooks[0].url"');
    expect(invalid([{ url: 'not a url', secret }]).message).toContain('"webhooks[0].url"');
    const withPassword = invalid([{ url: 'https://user:Pw-in-url-77@a.example/h', secret }]);
    expect(withPassword.message).not.toContain('Pw-in-url-77');
    expect(invalid([{ url: 'https://a.example/h', secret, events: ['session.gone'] }]).message).toContain(
      'session.expired',
    );
    expect(invalid([{ url: 'https://a.example/h', secret, event: [] }]).message).toContain('Did you mean');
    expect(invalid({ url: 'https://a.example/h', secret }).message).toContain('"webhooks"');
    const twice = invalid([
      { url: 'https://a.example/h', secret },
      { url: 'https://a.example/h', secret },
    ]);
    expect(twice.message).toContain('twice');
    expect(invalid([{ url: 'https://a.example/h', secret, retryWindowMs: 0 }]).message).toContain(
      'retryWindowMs',
    );
    expect(resolveWebhooks([{ url: 'https://a.example/h', secret }])[0]!.events.size).toBe(7);
  });

  it('is refused by the manager constructor with INVALID_OPTIONS', () => {
    const site = new FakeSite();
    expect(
      () =>
        new AuthSessionManager({
          auths: [siteAuth(site)],
          store: createMemoryStore(),
          key: TEST_KEY,
          browser: new FakeBrowserProvider({ sites: [site] }),
          webhooks: [{ url: 'https://a.example/h', secret: 'whsec_nope' }],
        }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});

describe('delivery', () => {
  it('signs every event per Standard Webhooks; one webhook-id per event; never a secret', async () => {
    const h = await setup();
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1); // check fails → refreshed
    h.site.changePassword('alice', ALICE_PW_NEW);
    h.site.logoutAll();
    expect((await rejection(h.manager.run(s.id, () => 1))).code).toBe('SESSION_EXPIRED');
    await h.manager.delete(s.id);
    const failed = await rejection(
      h.manager.create('site', { credentials: { username: 'alice', password: 'Wrong-pw-Zx9Cv8' } }),
    );
    expect(failed.code).toBe('CREATE_FAILED');

    await until(() => expect(h.receiver.delivered().size).toBe(5));
    expect(h.receiver.received.every((r) => r.verified)).toBe(true);
    expect([...h.receiver.delivered().values()]).toEqual([1, 1, 1, 1, 1]);
    const bodies = h.receiver.bodies();
    expect(bodies.map((b) => b.type).sort()).toEqual(
      ['session.created', 'session.deleted', 'session.expired', 'session.failed', 'session.refreshed'].sort(),
    );
    const expired = bodies.find((b) => b.type === 'session.expired')!;
    expect(expired.data.session).toMatchObject({ id: s.id, state: 'expired', auth: 'site' });
    expect(expired.data.error).toEqual({ code: 'CREATE_FAILED', message: expect.any(String) });
    expect(Date.parse(expired.timestamp)).toBeGreaterThan(0);
    expect(bodies.find((b) => b.type === 'session.failed')!.data.error).toMatchObject({
      code: 'CREATE_FAILED',
    });
    for (const r of h.receiver.received) {
      expect(r.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(r.headers['webhook-signature']).toMatch(/^v1,/);
      expect(r.headers['webhook-timestamp']).toBe(String(Math.floor(h.clock.now() / 1000)));
      // Canary: no password, no signing secret, no cookie value anywhere in what was sent.
      const sent = r.body + JSON.stringify(r.headers);
      for (const secret of [ALICE_PW, ALICE_PW_NEW, 'Wrong-pw-Zx9Cv8', h.secret, h.secret.slice(6)]) {
        expect(sent).not.toContain(secret);
      }
      expect(sent).not.toMatch(/cookie|password/i);
    }
    await until(async () => expect(await h.outbox()).toEqual([]));
    expect(h.warnings).toEqual([]);
  });

  it('writes the event to the outbox before the call that caused it returns', async () => {
    const h = await setup();
    h.receiver.answer = () => 'hold'; // the receiver never answers: nothing can be delivered yet
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    const afterCreate = await h.outbox();
    expect(afterCreate.map((e) => e.type)).toEqual(['session.created']);
    h.site.changePassword('alice', ALICE_PW_NEW);
    h.site.logoutAll();
    expect((await rejection(h.manager.run(s.id, () => 1))).code).toBe('SESSION_EXPIRED');
    const afterRun = await h.outbox();
    expect(afterRun.map((e) => e.type).sort()).toEqual(['session.created', 'session.expired']);
    // The body and the entry hold no secret either.
    expect(JSON.stringify(afterRun)).not.toContain(ALICE_PW);
    expect(JSON.stringify(afterRun)).not.toContain(h.secret.slice(6));
  });

  it('only sends the types an endpoint asks for', async () => {
    const h = await setup({ events: ['session.deleted'] });
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    await h.manager.delete(s.id);
    await until(() => expect(h.receiver.delivered().size).toBe(1));
    expect(h.receiver.bodies()[0]!.type).toBe('session.deleted');
    expect(h.receiver.received).toHaveLength(1);
  });

  it('two endpoints get the same event with the same webhook-id; one that fails holds back nothing', async () => {
    const otherSecret = newWebhookSecret();
    const other = await startReceiver(otherSecret);
    cleanups.push(() => other.close());
    other.answer = () => 500;
    const h = await setup({}, { webhooks: undefined });
    await h.manager.close();
    const manager = new AuthSessionManager({
      auths: [siteAuth(h.site)],
      store: h.keyv,
      key: TEST_KEY,
      browser: new FakeBrowserProvider({ sites: [h.site] }),
      clock: h.clock,
      webhooks: [
        { url: h.receiver.url, secret: h.secret },
        { url: other.url, secret: otherSecret },
      ],
    });
    cleanups.push(() => manager.close());
    await manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    await until(() => expect(h.receiver.delivered().size).toBe(1));
    await until(async () =>
      expect(await h.outbox()).toEqual([expect.objectContaining({ attempts: 1, lastError: 'HTTP 500' })]),
    );
    expect(other.received).toHaveLength(1);
    expect(other.received[0]!.verified).toBe(true);
    expect(other.received[0]!.id).toBe([...h.receiver.delivered().keys()][0]);
  });

  it('session.input_required carries the operation id (and no answer)', async () => {
    const secret = newWebhookSecret();
    const receiver = await startReceiver(secret);
    const clock = new FakeClock(Date.now());
    const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
    site.addUser('bob', 'Bob-otp-pw-Kj6Hg5Fd', { otp: 'code' });
    const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 8 });
    const schema = z.object({ username: z.string(), password: z.string() });
    const manager = new AuthSessionManager({
      auths: [
        defineAuth({
          name: 'otp',
          type: 'credentials',
          credentials: schema,
          retryDelay: 0,
          ...fakeSiteAuth(site, { otp: 'requestInput', timeout: 1_000 }),
        }),
      ],
      store: createMemoryStore(),
      key: TEST_KEY,
      browser,
      clock,
      webhooks: [{ url: receiver.url, secret }],
    });
    cleanups.push(
      () => receiver.close(),
      () => browser.close(),
      () => manager.close(),
    );
    const op = await manager.startCreate('otp', {
      credentials: { username: 'bob', password: 'Bob-otp-pw-Kj6Hg5Fd' },
    });
    await until(() => expect(receiver.bodies().map((b) => b.type)).toContain('session.input_required'));
    const body = receiver.bodies().find((b) => b.type === 'session.input_required')!;
    expect(body.data.operationId).toBe(op.id);
    expect(body.data.session).toMatchObject({ id: op.sessionId, state: 'pending' });
    expect(body.data.input).toMatchObject({ kind: 'otp' });
    const code = site.lastCode('bob')!;
    await manager.resume(op.id, code);
    await manager.result(op.id);
    await until(() => expect(receiver.bodies().map((b) => b.type)).toContain('session.created'));
    for (const r of receiver.received) {
      expect(r.body).not.toContain(code);
      expect(r.body).not.toContain('Bob-otp-pw-Kj6Hg5Fd');
    }
  });
});

describe('retries', () => {
  it('a receiver that answers 500 three times, then 200, gets the event (same webhook-id, backing off)', async () => {
    const h = await setup();
    h.receiver.answer = (_r, index) => (index < 3 ? 500 : 200);
    await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    await until(() => expect(h.receiver.received).toHaveLength(1));
    await until(async () =>
      expect((await h.outbox())[0]).toMatchObject({ attempts: 1, lastError: 'HTTP 500' }),
    );
    // Nothing more happens until the first delay (5 s, up to 10% more) passes.
    h.clock.advance(4_000);
    expect(h.receiver.received).toHaveLength(1);
    for (const [n, delay] of [
      [2, retryDelay(1, () => 0.999)],
      [3, retryDelay(2, () => 0.999)],
      [4, retryDelay(3, () => 0.999)],
    ] as const) {
      h.clock.advance(delay);
      await untilAfterAdvance(h.clock, () => expect(h.receiver.received).toHaveLength(n));
      if (n < 4) {
        await until(async () =>
          expect(await h.outbox()).toEqual([expect.objectContaining({ attempts: n, lastError: 'HTTP 500' })]),
        );
      }
    }
    await until(async () => expect(await h.outbox()).toEqual([]));
    expect(h.receiver.received.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(h.receiver.received.map((r) => r.id)).size).toBe(1);
    expect(h.receiver.received.every((r) => r.verified)).toBe(true);
    expect(h.receiver.delivered().size).toBe(1);
    expect(h.warnings.map((w) => w.error.message)).toEqual([]);
  });

  it('an attempt that gets no answer within timeoutMs is aborted and retried later', async () => {
    const h = await setup({ timeoutMs: 200 }); // real time: the request waits for real I/O
    h.receiver.answer = (_r, index) => (index === 0 ? 'hold' : 200);
    await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    await until(async () =>
      expect(await h.outbox()).toEqual([
        expect.objectContaining({ attempts: 1, lastError: 'no answer within 200 ms' }),
      ]),
    );
    h.clock.advance(retryDelay(1, () => 0.999));
    await untilAfterAdvance(h.clock, async () => expect(await h.outbox()).toEqual([]));
    expect(h.receiver.delivered().size).toBe(1);
    expect(h.receiver.received.map((r) => r.id)).toEqual([
      h.receiver.received[0]!.id,
      h.receiver.received[0]!.id,
    ]);
  });

  it('a receiver down longer than the retry window: a warning and a history entry, no crash', async () => {
    const h = await setup();
    const url = h.receiver.url;
    await h.receiver.close(); // connection refused from now on
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    expect(url).toContain('127.0.0.1');
    let attempts = 0;
    for (let round = 0; round < 30; round++) {
      await untilAfterAdvance(h.clock, async () => {
        const [entry] = await h.outbox();
        expect(entry === undefined || (entry.attempts > attempts && entry.claim === undefined)).toBe(true);
      });
      const [entry] = await h.outbox();
      if (entry === undefined) break;
      attempts = entry.attempts;
      expect(entry.lastError).toMatch(/^connection failed/);
      h.clock.advance(entry.nextAt - h.clock.now());
    }
    expect(await h.outbox()).toEqual([]);
    expect(attempts).toBeGreaterThanOrEqual(7);
    expect(h.warnings.map((w) => w.error.code)).toEqual(['WEBHOOK_UNDELIVERED']);
    expect(h.warnings[0]).toMatchObject({ session: { id: s.id }, error: { code: 'WEBHOOK_UNDELIVERED' } });
    expect(h.warnings[0]!.error.message).toContain('session.created');
    expect(h.warnings[0]!.error.message).toContain('60 min');
    expect(h.warnings[0]!.error.message).not.toContain(h.secret.slice(6));
    await h.manager.flushHistory();
    const history = await h.manager.history(s.id);
    expect(history.at(-1)).toMatchObject({
      kind: 'warning',
      outcome: 'failed',
      error: { code: 'WEBHOOK_UNDELIVERED' },
    });
    // Still working.
    expect((await h.manager.validate(s.id)).state).toBe('active');
  });
});

describe('close()', () => {
  it('aborts an in-flight POST and leaves the entry in the outbox, free for the next process', async () => {
    const h = await setup();
    h.receiver.answer = () => 'hold';
    await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    await until(() => expect(h.receiver.received).toHaveLength(1));
    expect((await h.outbox())[0]!.claim).toBeDefined();
    await h.manager.close();
    const left = await h.outbox();
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ type: 'session.created', attempts: 0 });
    expect(left[0]!.claim).toBeUndefined();
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('an entry forged in the store (no valid tag) is never signed and sent', async () => {
    const h = await setup();
    const adapter = storeAdapterFor(h.keyv);
    const s = await h.manager.create('site', { credentials: { username: 'alice', password: ALICE_PW } });
    await until(async () => expect(await h.outbox()).toEqual([]));
    const forged = {
      v: 1,
      id: 'msg_forged',
      endpoint: resolveWebhooks([{ url: h.receiver.url, secret: h.secret }])[0]!.id,
      type: 'session.expired',
      sessionId: s.id,
      body: '{"type":"session.expired"}',
      createdAt: h.clock.now(),
      deadline: h.clock.now() + 60_000,
      mac: { kid: 'k', tag: 'AAAA' },
      attempts: 0,
      nextAt: h.clock.now(),
    };
    await adapter.write(`${OUTBOX_PREFIX}${forged.endpoint}/msg_forged`, JSON.stringify(forged));
    h.clock.advance(30_000); // the periodic scan
    await until(() => expect(h.warnings.map((w) => w.error.code)).toContain('CORRUPT_RECORD'));
    expect(h.receiver.received.map((r) => r.id)).not.toContain('msg_forged');
  });
});

/**
 * A `Webhooks` on its own (no manager): events are emitted on `events` by the test. Closed after the test
 * (`beforeClose` first).
 */
function bareWebhooks(options: {
  url: string;
  secret: string;
  store?: StoreAdapter;
  storeTimeoutMs?: number;
  beforeClose?: () => void;
}) {
  const clock = new FakeClock(Date.now());
  const events = new EventBus();
  const closed = new AbortController();
  const keyring = new Keyring({ current: { kid: 'k1', key: Buffer.from(TEST_KEY, 'base64') } });
  const webhooks = new Webhooks({
    endpoints: resolveWebhooks([{ url: options.url, secret: options.secret }]),
    store: options.store ?? storeAdapterFor(createMemoryStore()),
    storeTimeoutMs: options.storeTimeoutMs ?? 10_000,
    clock,
    events,
    closed: closed.signal,
    keyring: async () => keyring,
  });
  cleanups.push(async () => {
    options.beforeClose?.();
    closed.abort();
    await webhooks.close();
  });
  const session = {
    id: 'rec-1',
    auth: 'portal',
    type: 'recorder' as const,
    state: 'active' as const,
    createdAt: new Date(clock.now()).toISOString(),
    updatedAt: new Date(clock.now()).toISOString(),
    labels: {},
    revision: 1,
  };
  return { clock, events, closed, webhooks, session };
}

describe('settled()', () => {
  it('waits for the writes started so far, not for those that keep starting beside it', async () => {
    const store = storeAdapterFor(createMemoryStore());
    // Each outbox write waits until the test lets it through (in order).
    const gates: Array<() => void> = [];
    const write: typeof store.write = async (key, value, ttlMs) => {
      await new Promise<void>((resolve) => gates.push(resolve));
      return store.write(key, value, ttlMs);
    };
    const gated = new Proxy(store, {
      get(target, name) {
        if (name === 'write') return write;
        const value = Reflect.get(target, name, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { clock, events, closed, webhooks, session } = bareWebhooks({
      // A receiver nobody listens on: delivery is not what this test is about (attempts fail and retry later).
      url: 'http://127.0.0.1:9/hook',
      secret: newWebhookSecret(),
      store: gated,
      storeTimeoutMs: 60_000,
      // On a failure too: nothing left held at a gate.
      beforeClose: () => {
        for (const open of gates) open();
      },
    });
    const expiresAt = new Date(clock.now() + 60_000).toISOString();
    events.emit('expiring', { session, expiresAt });
    await until(() => expect(gates).toHaveLength(1));
    let done = false;
    const settled = webhooks.settled().then(() => {
      done = true;
    });
    // Another call's event starts its write meanwhile, and stays unwritten.
    events.emit('expiring', { session, expiresAt });
    await until(() => expect(gates).toHaveLength(2));
    gates[0]!();
    // Bounded (the store's own timeout is a minute): the late write is still held at its gate.
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      settled.then(() => 'settled'),
      new Promise((resolve) => {
        bound = setTimeout(() => resolve('still waiting'), 2000);
      }),
    ]);
    clearTimeout(bound);
    expect(outcome).toBe('settled');
    expect(done).toBe(true);
    // close() still waits for every write, the late one included.
    closed.abort();
    let closedDone = false;
    const closing = webhooks.close().then(() => {
      closedDone = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closedDone).toBe(false);
    gates[1]!();
    await closing;
    expect(closedDone).toBe(true);
  });
});

describe('session.expiring', () => {
  it('maps the manager event `expiring` with its expiresAt', async () => {
    const secret = newWebhookSecret();
    const receiver = await startReceiver(secret);
    cleanups.push(() => receiver.close());
    const { clock, events, webhooks, session } = bareWebhooks({ url: receiver.url, secret });
    const expiresAt = new Date(clock.now() + 10 * 60_000).toISOString();
    events.emit('expiring', { session, expiresAt });
    await webhooks.settled();
    await until(() => expect(receiver.delivered().size).toBe(1));
    expect(receiver.bodies()[0]).toMatchObject({
      type: 'session.expiring',
      data: { session: { id: 'rec-1' }, expiresAt },
    });
  });
});
