/**
 * Shared pieces of the integration tests: a fake-site auth whose logins can be held at a gate (to stall a
 * refresh inside the lock), and small promise utilities.
 */
import type Keyv from 'keyv';
import { z } from 'zod';
import {
  type AuthSessionEvents,
  AuthSessionManager,
  type AuthSessionManagerOptions,
  defineAuth,
} from '../../src/index.js';
import type { AuthSessionLock } from '../../src/lock/lock.js';
import type { SessionRecord } from '../../src/session/record.js';
import { SessionStore } from '../../src/store/session-store.js';
import { FakeBrowserProvider, type FakeSite } from '../../src/testing/index.js';
import { codeOf, type Deferred, deferred } from '../shared.js';
import { TEST_KEY } from '../unit/helpers.js';

export { codeOf, deferred, TEST_KEY };

/** A gate a login can be held at: `hold()` makes the next logins wait until `open()`. */
export class LoginGate {
  #open: Deferred | undefined;
  #entered = deferred();

  hold(): void {
    this.#open = deferred();
    this.#entered = deferred();
  }

  /** Resolves once a login reached the gate while held. */
  get entered(): Promise<void> {
    return this.#entered.promise;
  }

  open(): void {
    this.#open?.resolve();
    this.#open = undefined;
  }

  async pass(): Promise<void> {
    const gate = this.#open;
    if (!gate) return;
    this.#entered.resolve();
    await gate.promise;
  }
}

export interface GatedWorker {
  readonly manager: AuthSessionManager;
  readonly gate: LoginGate;
  /** The `sid` cookie of every login this worker made, in order. */
  readonly sids: string[];
  readonly events: { refreshed: number; warnings: unknown[] };
}

/**
 * A "worker": a manager over the given store and lock, with the fake browser on `site`, whose logins pass a
 * gate and record the session cookie they obtained.
 */
export function gatedWorker(
  site: FakeSite,
  store: Keyv,
  lock: AuthSessionLock,
  options: Partial<AuthSessionManagerOptions> = {},
): GatedWorker {
  const gate = new LoginGate();
  const sids: string[] = [];
  const auth = defineAuth({
    name: 'site',
    type: 'credentials',
    credentials: z.object({ username: z.string(), password: z.string() }),
    retryDelay: 0,
    async create({ page, context, credentials }) {
      await gate.pass();
      await page.goto(`${site.origin}/login`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      await page.click('#login');
      await page.waitForURL(/\/account$/, { timeout: 1000 });
      const sid = (await context.cookies()).find((c) => c.name === 'sid')?.value;
      if (sid) sids.push(sid);
    },
    async check({ page }) {
      await page.goto(`${site.origin}/account`);
      return (await page.textContent('#user')) !== null;
    },
  });
  const manager = new AuthSessionManager({
    auths: [auth],
    store,
    lock,
    key: TEST_KEY,
    browser: new FakeBrowserProvider({ site, maxContexts: 64 }),
    lockLeaseMs: 30_000,
    lockWaitMs: 30_000,
    ...options,
  });
  const events = { refreshed: 0, warnings: [] as unknown[] };
  manager.on('refreshed', () => events.refreshed++);
  manager.on('warning', (e: AuthSessionEvents['warning']) => events.warnings.push(e));
  return { manager, gate, sids, events };
}

/** The `sid` cookie of the state stored for a session (read by running a task with it). */
/** Resolves when the manager's next check fails (its run then goes for the refresh lock). */
export function nextFailedCheck(manager: AuthSessionManager): Promise<void> {
  return new Promise((resolve) => {
    const listener = ({ ok }: { ok: boolean }) => {
      if (ok) return;
      manager.off('checked', listener);
      resolve();
    };
    manager.on('checked', listener);
  });
}

export async function storedSid(manager: AuthSessionManager, id: string): Promise<string | undefined> {
  const cookies = await manager.run(id, ({ context }) => context.cookies(), { forceCheck: false });
  return cookies.find((c) => c.name === 'sid')?.value;
}

/**
 * Races `count` writers on one stored session, each with its own connection (like separate processes), all
 * fenced on the generation they read; each labels the record with its index. Returns what each got
 * (`undefined` = it won, else the error code), the record they started from and the record stored after.
 */
export async function raceFencedWriters(
  newStore: () => Keyv,
  id: string,
  count: number,
): Promise<{ outcomes: (string | undefined)[]; base: SessionRecord; stored: SessionRecord | undefined }> {
  const writers = Array.from({ length: count }, () => new SessionStore(newStore()));
  // Connected and warm, so that all of them read before any of them writes.
  const [base] = (await Promise.all(writers.map((writer) => writer.read(id)))) as SessionRecord[];
  if (!base) throw new Error('no record');
  const outcomes = await Promise.all(
    writers.map((writer, i) =>
      codeOf(
        writer.write(
          {
            ...base,
            revision: base.revision + 1,
            generation: base.generation + 1,
            labels: { writer: String(i) },
          },
          { generation: base.generation },
        ),
      ),
    ),
  );
  return { outcomes, base, stored: await writers[0]!.read(id) };
}

/** Races `count` creators of one new id (a copy of `template`), each with its own connection. */
export async function raceCreators(
  newStore: () => Keyv,
  template: SessionRecord,
  count: number,
): Promise<(string | undefined)[]> {
  const creators = Array.from({ length: count }, () => new SessionStore(newStore()));
  await Promise.all(creators.map((creator) => creator.read('one-id')));
  return Promise.all(
    creators.map((creator, i) =>
      codeOf(
        creator.write(
          { ...template, id: 'one-id', revision: 0, labels: { creator: String(i) } },
          { revision: -1 },
        ),
      ),
    ),
  );
}
