import { randomBytes } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type AuthDefinition,
  AuthSessionManager,
  createMemoryStore,
  defineAuth,
  isAuthSessionError,
} from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from '../../src/testing/index.js';

// The manager is typed from its auths (the `@ts-expect-error` lines are checked by `tsc --noEmit`), the
// credentials schema may be any Standard Schema validator, and misspelt option names are refused.

function setup() {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, origin: 'https://crm.example' });
  site.addUser('alice', 'pw');
  return { clock, site, browser: new FakeBrowserProvider({ site }) };
}

const key = randomBytes(32).toString('base64');

describe('a manager typed from its auths', () => {
  it('knows auth names, credentials shapes and which auths record', async () => {
    const { clock, site, browser } = setup();
    const crm = defineAuth({
      name: 'crm',
      type: 'credentials',
      credentials: z.object({ username: z.string(), password: z.string(), tries: z.number().default(1) }),
      ...fakeSiteAuth(site),
    });
    const portal = defineAuth({
      name: 'portal',
      type: 'recorder',
      startUrl: `${site.origin}/login`,
      finishUrl: `${site.origin}/account`,
      check: () => true,
    });
    const manager = new AuthSessionManager({
      auths: [crm, portal],
      store: createMemoryStore(),
      key,
      browser,
      clock,
    });
    try {
      expectTypeOf(manager.authNames).toEqualTypeOf<readonly ('crm' | 'portal')[]>();
      // The schema's input type: `tries` has a default, so it may be left out.
      const session = await manager.create('crm', { credentials: { username: 'alice', password: 'pw' } });
      expect(session.state).toBe('active');
      const credentials = { username: 'alice', password: 'pw' };
      // @ts-expect-error an auth name the manager does not serve
      const wrongName = manager.create('CRM', { credentials });
      await expect(wrongName).rejects.toThrow(/Unknown auth "CRM"/);
      // @ts-expect-error a recorder-based auth has no create
      await expect(manager.create('portal', { credentials: {} })).rejects.toThrow(/recorder-based/);
      // @ts-expect-error a wrong credentials shape
      await expect(manager.create('crm', { credentials: { username: 'alice' } })).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      // @ts-expect-error a credentials-based auth is not recorded
      await expect(manager.record('crm', { headless: true })).rejects.toThrow();
      // @ts-expect-error credentials of the wrong type in update
      await expect(manager.update(session.id, { credentials: { username: 1 } })).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      // @ts-expect-error an unknown auth in a list filter
      expect(await manager.list({ auth: 'nope' })).toEqual([]);
      const untyped: AuthSessionManager = manager;
      expect(untyped.authNames).toEqual(['crm', 'portal']);
    } finally {
      await manager.close();
    }
  });

  it('hooks receive the schema output; a manager of AuthDefinition[] takes any name', async () => {
    const { clock, site, browser } = setup();
    const hooks = fakeSiteAuth(site);
    let tries: number | undefined;
    const crm = defineAuth({
      name: 'crm',
      type: 'credentials',
      credentials: z.object({ username: z.string(), password: z.string(), tries: z.number().default(3) }),
      async create(ctx) {
        expectTypeOf(ctx.credentials).toEqualTypeOf<{ username: string; password: string; tries: number }>();
        tries = ctx.credentials.tries;
        await hooks.create(ctx);
      },
      check: hooks.check,
    });
    const auths: AuthDefinition[] = [crm];
    const manager = new AuthSessionManager({ auths, store: createMemoryStore(), key, browser, clock });
    try {
      expectTypeOf(manager.create).parameter(0).toEqualTypeOf<string>();
      await manager.create('crm', { credentials: { username: 'alice', password: 'pw' } });
      expect(tries).toBe(3);
    } finally {
      await manager.close();
    }
  });
});

describe('credentials as any Standard Schema validator', () => {
  const valibotAuth = (site: FakeSite) =>
    defineAuth({
      name: 'crm',
      type: 'credentials',
      credentials: v.object({ username: v.pipe(v.string(), v.minLength(1)), password: v.string() }),
      ...fakeSiteAuth(site),
    });

  it('valibot: valid credentials log in; invalid ones are INVALID_CREDENTIALS naming paths, never values', async () => {
    const { clock, site, browser } = setup();
    const manager = new AuthSessionManager({
      auths: [valibotAuth(site)],
      store: createMemoryStore(),
      key,
      browser,
      clock,
    });
    try {
      const s = await manager.create('crm', { credentials: { username: 'alice', password: 'pw' } });
      expect(s.state).toBe('active');
      const err = await manager
        .create('crm', { credentials: { username: '', password: 'hunter2-secret' } })
        .catch((e: unknown) => e);
      expect(isAuthSessionError(err) && err.code).toBe('INVALID_CREDENTIALS');
      expect((err as Error).message).toMatch(/check username/);
      expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain('hunter2-secret');
      // @ts-expect-error the valibot schema's input type is checked too
      await expect(manager.create('crm', { credentials: { username: 'a' } })).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      // No zod shape to read: the CLI asks for the credentials as JSON.
      expect(manager.describeAuth('crm').credentialFields).toBeUndefined();
    } finally {
      await manager.close();
    }
  });

  it('an async validator is awaited, and one that throws is a refusal without its message', async () => {
    const { clock, site, browser } = setup();
    const hooks = fakeSiteAuth(site);
    const asyncSchema: StandardSchemaV1<{ username: string }, { username: string; password: string }> = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: async (value: unknown) =>
          typeof value === 'object' && value !== null && 'username' in value
            ? { value: { ...(value as object), password: 'pw' } as { username: string; password: string } }
            : value === 'boom'
              ? (() => {
                  throw new Error('leaks boom-secret');
                })()
              : { issues: [{ message: 'no username', path: [{ key: 'username' }] }] },
      },
    };
    const crm = defineAuth({ name: 'crm', type: 'credentials', credentials: asyncSchema, ...hooks });
    const manager = new AuthSessionManager({ auths: [crm], store: createMemoryStore(), key, browser, clock });
    try {
      expect((await manager.create('crm', { credentials: { username: 'alice' } })).state).toBe('active');
      // @ts-expect-error missing username
      const missing = manager.create('crm', { credentials: {} });
      await expect(missing).rejects.toThrow(/check username$/);
      // @ts-expect-error not an object
      const boom = manager.create('crm', { credentials: 'boom' });
      const thrown = await boom.catch((e: unknown) => e);
      expect(isAuthSessionError(thrown) && thrown.code).toBe('INVALID_CREDENTIALS');
      expect(String(thrown)).not.toContain('boom-secret');
    } finally {
      await manager.close();
    }
  });

  it('defineAuth refuses a credentials value that is no Standard Schema', () => {
    expect(() =>
      // @ts-expect-error not a schema
      defineAuth({
        name: 'x',
        type: 'credentials',
        credentials: { parse() {} },
        create() {},
        check: () => true,
      }),
    ).toThrow(/Standard Schema v1/);
  });
});

describe('unknown option names', () => {
  it('are INVALID_OPTIONS with the closest known name, for the manager, defineAuth and each call', async () => {
    const { clock, site, browser } = setup();
    const hooks = fakeSiteAuth(site);
    expect(() =>
      // @ts-expect-error misspelt
      defineAuth({
        name: 'x',
        type: 'credentials',
        credentials: z.object({}),
        ...hooks,
        checkIntervall: 1,
      }),
    ).toThrow(/unknown option "checkIntervall"\. Did you mean "checkInterval"\?/);
    expect(() =>
      // @ts-expect-error misspelt
      defineAuth({
        name: 'p',
        type: 'recorder',
        startUrl: 'https://a.example/',
        finishUrl: 'x',
        check: hooks.check,
        finishURL: 'x',
      }),
    ).toThrow(/Did you mean "finishUrl"\?/);
    const crm = defineAuth({
      name: 'crm',
      type: 'credentials',
      credentials: z.object({ username: z.string(), password: z.string() }),
      ...hooks,
    });
    expect(
      () =>
        new AuthSessionManager({
          auths: [crm],
          store: createMemoryStore(),
          key,
          browser,
          clock,
          // @ts-expect-error misspelt
          lockWaitMS: 1,
        }),
    ).toThrow(/Did you mean "lockWaitMs"\?/);
    const manager = new AuthSessionManager({ auths: [crm], store: createMemoryStore(), key, browser, clock });
    try {
      const credentials = { username: 'alice', password: 'pw' };
      const refused = await manager
        // @ts-expect-error misspelt
        .create('crm', { credentials, lables: { a: 'b' } })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'INVALID_OPTIONS' });
      expect((refused as Error).message).toMatch(
        /create\(auth, options\): unknown option "lables"\. Did you mean "labels"\?/,
      );
      const s = await manager.create('crm', { credentials });
      // @ts-expect-error misspelt
      await expect(manager.run(s.id, () => 1, { checkIntervall: 5 })).rejects.toThrow(
        /Did you mean "checkInterval"/,
      );
      // @ts-expect-error misspelt
      await expect(manager.update(s.id, { label: {} })).rejects.toThrow(/Did you mean "labels"/);
      // @ts-expect-error misspelt
      await expect(manager.validate(s.id, { forcecheck: true })).rejects.toThrow(/Did you mean "forceCheck"/);
      // @ts-expect-error misspelt
      await expect(manager.startCreate('crm', { credentials, pollIntervall: 5 })).rejects.toThrow(
        /"pollInterval"/,
      );
      // @ts-expect-error misspelt
      await expect(manager.list({ status: 'active' })).rejects.toThrow(/unknown option "status"/);
      // Known options still pass, including the ones start… hands on internally.
      const op = await manager.startCreate('crm', { credentials, id: 'op-1', pollInterval: 5 });
      expect((await manager.result(op.id)).state).toBe('active');
      expect(await manager.run(s.id, () => 1, { checkInterval: 5 })).toBe(1);
    } finally {
      await manager.close();
    }
  });
});
