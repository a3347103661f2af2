/**
 * A check that returns anything but a boolean is a programming error (INVALID_HOOK_RESULT), not "logged
 * out": no refresh, no expiry. Errors about a session carry its id.
 */
import { describe, expect, it } from 'vitest';
import { harness } from './helpers.js';

const ALICE = { username: 'alice', password: 'pw-alice-1' };

async function rejection(
  p: Promise<unknown>,
): Promise<{ code?: string; message: string; sessionId?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string; sessionId?: string };
  }
  throw new Error('expected a rejection');
}

describe('check results', () => {
  it.each([
    [1, 'a number (1)'],
    ['yes', 'a string of 3 characters'],
    [undefined, 'undefined'],
    [null, 'null'],
    [{}, 'an object'],
  ])(
    'a check returning %j fails the run with INVALID_HOOK_RESULT, saying %s; the session stays active',
    async (value, said) => {
      let answer: unknown = true;
      const h = harness({ auth: { check: async () => answer } });
      const s = await h.manager.create('site', { credentials: ALICE });
      const logins = h.site.counters.logins;
      answer = value;
      const err = await rejection(h.manager.run(s.id, async () => 'task ran'));
      expect(err).toMatchObject({ code: 'INVALID_HOOK_RESULT', sessionId: s.id });
      expect(err.message).toContain(said);
      if (typeof value === 'string') expect(err.message).not.toContain(value);
      expect((await h.manager.get(s.id))?.state).toBe('active');
      expect(h.site.counters.logins).toBe(logins);
      expect(h.count('refreshed') + h.count('expired')).toBe(0);
      // Fixed: it runs again, no login needed.
      answer = true;
      await expect(h.manager.run(s.id, async () => 'ok')).resolves.toBe('ok');
      await h.manager.close();
    },
  );

  it('false stays "logged out": refresh, then expiry when that fails too', async () => {
    let answer = true;
    const h = harness({ auth: { check: async () => answer } });
    const s = await h.manager.create('site', { credentials: ALICE });
    answer = false;
    const err = await rejection(h.manager.run(s.id, async () => 1));
    expect(err).toMatchObject({ code: 'SESSION_EXPIRED', sessionId: s.id });
    expect((await h.manager.get(s.id))?.state).toBe('expired');
  });

  it('at creation, a non-boolean check is INVALID_HOOK_RESULT at once (no second login attempt)', async () => {
    const h = harness({ auth: { check: async () => 1, createAttempts: 3 } });
    const err = await rejection(h.manager.create('site', { id: 'acme', credentials: ALICE }));
    expect(err).toMatchObject({ code: 'INVALID_HOOK_RESULT', sessionId: 'acme' });
    expect(h.site.counters.logins).toBe(1);
    await h.manager.close();
  });
});

describe('session ids on errors', () => {
  it('CREATE_FAILED carries the id of the failed session kept in the store', async () => {
    const h = harness();
    const err = await rejection(
      h.manager.create('site', { credentials: { username: 'alice', password: 'wrong' } }),
    );
    expect(err.code).toBe('CREATE_FAILED');
    expect(err.sessionId).toEqual(expect.any(String));
    expect((await h.manager.get(err.sessionId as string))?.state).toBe('failed');
    await h.manager.close();
  });
});
