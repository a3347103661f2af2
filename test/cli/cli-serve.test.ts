import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliIo, COMMAND_HANDLERS } from '../../src/cli/commands.js';
import { painter } from '../../src/cli/output.js';
import { harness } from '../unit/helpers.js';

// `auth-sessions serve`: listens, prints the console URL and a sign-in URL with this run's token, serves
// until Ctrl-C, then closes.

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function io(signal: AbortSignal, env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d) => {
    out += String(d);
  });
  return {
    io: { stdin: new PassThrough(), stdout, stderr, env, cwd: process.cwd(), signal } as unknown as CliIo,
    output: () => out,
  };
}

describe('auth-sessions serve', () => {
  it('prints a sign-in URL that works, and stops on Ctrl-C', async () => {
    const h = harness();
    cleanups.push(() => h.manager.close());
    await h.manager.create('site', {
      id: 'acme-1',
      credentials: { username: 'alice', password: 'pw-alice-1' },
    });
    const ctrlC = new AbortController();
    const { io: cliIo, output } = io(ctrlC.signal);
    const done = COMMAND_HANDLERS.serve({
      io: cliIo,
      manager: h.manager,
      json: false,
      paint: painter(false),
      positionals: {},
      values: { port: '0', host: '127.0.0.1' },
      now: Date.now(),
    });
    let signInUrl: string | undefined;
    for (let i = 0; i < 200 && signInUrl === undefined; i++) {
      signInUrl = /open (http:\/\/\S+)/.exec(output())?.[1];
      if (signInUrl === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    expect(signInUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{40,}$/);
    const signIn = await fetch(signInUrl!, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(new URL('/', signInUrl).href, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('acme-1');
    // A token of another run is refused.
    expect(
      (await fetch(new URL('/?token=some-other-token-xxxxxxxx', signInUrl).href, { redirect: 'manual' }))
        .status,
    ).toBe(401);
    ctrlC.abort();
    expect(await done).toBe(0);
    await expect(fetch(new URL('/', signInUrl).href)).rejects.toThrow();
  });

  it('refuses a bad port', async () => {
    const h = harness();
    cleanups.push(() => h.manager.close());
    const { io: cliIo } = io(new AbortController().signal);
    await expect(
      COMMAND_HANDLERS.serve({
        io: cliIo,
        manager: h.manager,
        json: false,
        paint: painter(false),
        positionals: {},
        values: { port: '99999' },
        now: Date.now(),
      }),
    ).rejects.toThrow(/--port/);
  });
});
