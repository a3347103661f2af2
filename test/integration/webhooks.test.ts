/**
 * Webhooks across processes sharing one store: a process killed (SIGKILL) after an event is in the outbox
 * and before its delivery loses nothing, and two processes racing for the same entries deliver each once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Keyv from 'keyv';
import { createClient } from 'redis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthSessionManager, createSqliteStore } from '../../src/index.js';
import { createRedisStore } from '../../src/redis/index.js';
import { storeAdapterFor } from '../../src/store/registry.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { OUTBOX_PREFIX, type OutboxEntry } from '../../src/webhooks/outbox.js';
import { CLAIM_MARGIN_MS } from '../../src/webhooks/webhooks.js';
import { siteAuth, TEST_KEY } from '../unit/helpers.js';
import { newWebhookSecret, type Receiver, startReceiver } from '../webhook-receiver.js';
import type { WebhookWorkerConfig, WebhookWorkerMessage } from './fixtures/webhook-worker.js';
import { ForkedWorker } from './forked-worker.js';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');

const WORKER = fileURLToPath(new URL('./fixtures/webhook-worker.ts', import.meta.url));
const TIMEOUT_MS = 2_000;

/** Waits for real I/O (other processes, HTTP); never for time to pass. */
const until = (fn: () => unknown | Promise<unknown>, timeout = 30_000) =>
  vi.waitFor(fn, { timeout, interval: 20 });

class Worker extends ForkedWorker<WebhookWorkerMessage> {
  constructor(config: WebhookWorkerConfig) {
    super(WORKER, config);
  }
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** One shared store: how this process opens it, and what a worker is told to open. */
interface Shared {
  readonly open: () => Keyv;
  readonly worker: Pick<WebhookWorkerConfig, 'sqliteFile' | 'redisUrl' | 'namespace'>;
}

type Backend = 'sqlite' | 'redis';

async function fixture(
  backend: Backend = 'sqlite',
): Promise<{ file: Shared; receiver: Receiver; secret: string }> {
  const secret = newWebhookSecret();
  const receiver = await startReceiver(secret);
  cleanups.push(() => receiver.close());
  if (backend === 'redis') {
    const namespace = `auth-sessions-test-webhooks-${randomUUID()}`;
    cleanups.push(async () => {
      const redis = createClient({ url: REDIS_URL });
      await redis.connect();
      for await (const keys of redis.scanIterator({ MATCH: `${namespace}*` })) {
        if (keys.length) await redis.del(keys);
      }
      await redis.quit();
    });
    return {
      file: {
        open: () => createRedisStore(REDIS_URL, { namespace }),
        worker: { redisUrl: REDIS_URL, namespace },
      },
      receiver,
      secret,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'auth-sessions-webhooks-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sqliteFile = join(dir, 'sessions.sqlite');
  return { file: { open: () => createSqliteStore(sqliteFile), worker: { sqliteFile } }, receiver, secret };
}

/** The outbox entries in the shared store now, read through a connection of this process. */
async function outboxIn(file: Shared): Promise<OutboxEntry[]> {
  const keyv = file.open();
  try {
    const out: OutboxEntry[] = [];
    for await (const [, raw] of storeAdapterFor(keyv).scan(OUTBOX_PREFIX)) out.push(JSON.parse(raw));
    return out;
  } finally {
    await keyv.disconnect();
  }
}

/** A manager of this process on the SQLite file, with webhooks, on a fake clock starting at `start`. */
function managerOn(file: Shared, url: string, secret: string, start: number) {
  const clock = new FakeClock(start);
  const site = new FakeSite({ clock });
  site.addUser('alice', 'Alice-parent-pw-5tGb');
  const browser = new FakeBrowserProvider({ sites: [site] });
  const store = file.open();
  const manager = new AuthSessionManager({
    auths: [siteAuth(site)],
    store,
    key: TEST_KEY,
    browser,
    clock,
    webhooks: [{ url, secret, timeoutMs: TIMEOUT_MS }],
  });
  const warnings: string[] = [];
  manager.on('warning', (w) => warnings.push(w.error.message));
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await manager.close();
      await browser.close();
      await store.disconnect();
    })();
    return closing;
  };
  cleanups.push(close);
  return { clock, manager, warnings, close };
}

describe('webhooks across processes sharing one store', () => {
  it('a process killed after `expired` is in the outbox and before delivery: another delivers it, once per webhook-id', async () => {
    const { file, receiver, secret } = await fixture();
    receiver.answer = () => 'hold'; // the POSTs of the doomed process never get an answer
    const worker = new Worker({
      mode: 'expire',
      ...file.worker,
      key: TEST_KEY,
      url: receiver.url,
      secret,
      timeoutMs: TIMEOUT_MS,
      clockOffsetMs: 0,
    });
    cleanups.push(() => worker.child.kill('SIGKILL'));
    const { sessionId } = await worker.next('expired');
    worker.child.kill('SIGKILL');
    await worker.exited;
    expect(receiver.delivered().size).toBe(0); // nothing was delivered before the crash

    const left = await outboxIn(file);
    expect(left.map((e) => e.type).sort()).toEqual(['session.created', 'session.expired']);
    const expiredId = left.find((e) => e.type === 'session.expired')!.id;

    // The receiver is back; the killed process's connections are gone.
    receiver.release();
    receiver.answer = () => 200;
    // Another process starts after the dead one's claims lapsed (a claim lasts timeoutMs + margin).
    const other = managerOn(file, receiver.url, secret, Date.now() + TIMEOUT_MS + CLAIM_MARGIN_MS + 5_000);
    await until(async () => expect(await outboxIn(file)).toEqual([]));
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    const delivered = receiver.delivered();
    expect([...delivered.values()]).toEqual([1, 1]);
    expect(delivered.get(expiredId)).toBe(1);
    const expired = receiver.bodies().find((b) => b.type === 'session.expired')!;
    expect(expired.data.session).toMatchObject({ id: sessionId, state: 'expired' });
    expect(expired.data.error).toMatchObject({ code: 'CREATE_FAILED' });
    // A held attempt of the dead process carried the same webhook-id as the delivery (a receiver dedupes on it).
    expect(receiver.received.filter((r) => r.id === expiredId).length).toBeGreaterThanOrEqual(1);
    // Later scans find nothing more to send.
    other.clock.advance(5 * 60_000);
    await other.close();
    expect(receiver.delivered()).toEqual(delivered);
    expect(other.warnings).toEqual([]);
    for (const r of receiver.received) expect(r.body).not.toContain('Alice-worker-pw');
  }, 120_000);

  const twoProcesses = async (backend: Backend) => {
    const { file, receiver, secret } = await fixture(backend);
    receiver.answer = () => 503; // first attempts fail: the entries wait in the outbox, due in ~5 s
    const first = managerOn(file, receiver.url, secret, Date.now());
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await first.manager.create('site', {
        credentials: { username: 'alice', password: 'Alice-parent-pw-5tGb' },
        id: `s-${randomUUID()}`,
      });
      ids.push(s.id);
    }
    await until(async () => {
      const entries = await outboxIn(file);
      expect(entries).toHaveLength(12);
      expect(entries.every((e) => e.attempts === 1 && e.claim === undefined)).toBe(true);
    });
    await first.close();
    receiver.answer = () => 200;
    const before = receiver.received.length;

    // Two processes whose clocks are a minute on (the retries are due): both scan at start, and race.
    const config: WebhookWorkerConfig = {
      mode: 'deliver',
      ...file.worker,
      key: TEST_KEY,
      url: receiver.url,
      secret,
      timeoutMs: TIMEOUT_MS,
      clockOffsetMs: 60_000,
    };
    const workers = [new Worker(config), new Worker(config)];
    cleanups.push(() => Promise.all(workers.map((w) => w.stop())));
    await Promise.all(workers.map((w) => w.next('ready')));
    await until(async () => expect(await outboxIn(file)).toEqual([]));
    await Promise.all(workers.map((w) => w.stop()));

    const delivered = receiver.delivered();
    expect(delivered.size).toBe(12);
    expect([...delivered.values()].every((n) => n === 1)).toBe(true);
    // Every request after the outage was a delivery: no entry was sent twice by the two processes.
    expect(receiver.received.slice(before).every((r) => r.status === 200 && r.verified)).toBe(true);
    expect(receiver.received.length - before).toBe(12);
    expect(
      receiver
        .bodies()
        .map((b) => (b.data.session as { id: string }).id)
        .sort(),
    ).toEqual([...ids].sort());
  };

  it('two processes sharing a SQLite file deliver each event once', () => twoProcesses('sqlite'), 120_000);
  it.skipIf(!redisUp)(
    'two processes sharing Redis deliver each event once',
    () => twoProcesses('redis'),
    120_000,
  );
});
