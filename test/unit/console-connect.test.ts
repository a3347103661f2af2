import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineAuth } from '../../src/index.js';
import type { ConnectOptions } from '../../src/server/connect/index.js';
import { createConsole } from '../../src/server/index.js';
import { harness } from './helpers.js';

// How the console wires the connect pages (a stand-in here, for the wiring alone): built on first use with
// the console's public URL, mounted under `<basePath>/connect` without the console's cookie, `connectLink`
// delegated, "Record again" redirecting to a link for the session, closed with the console.

const made: Array<{ options: ConnectOptions; closed: boolean; links: unknown[] }> = [];
vi.mock('../../src/server/connect/index.js', () => ({
  createConnect: (_manager: unknown, options: ConnectOptions) => {
    const entry = { options, closed: false, links: [] as unknown[] };
    made.push(entry);
    const app = new Hono();
    app.get('/l/:token', (c) => c.text(`connect page ${c.req.param('token')} at ${c.req.path}`));
    return {
      app,
      async connectLink(target: unknown, linkOptions?: unknown) {
        entry.links.push([target, linkOptions]);
        return {
          url: `${options.publicUrl()}${options.mountPath}/l/abc`,
          expiresAt: '2030-01-01T00:00:00.000Z',
        };
      },
      async close() {
        entry.closed = true;
      },
    };
  },
}));

const TOKEN = 'console-token-0123456789abcdef';
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  made.length = 0;
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('console ⇄ connect pages', () => {
  it('builds them lazily, mounts them without the console cookie, delegates links and closes them', async () => {
    const h = harness();
    cleanups.push(() => h.manager.close());
    const web = createConsole(h.manager, {
      token: TOKEN,
      basePath: '/ops',
      publicUrl: 'https://ops.example/ops/',
    });
    expect(made).toHaveLength(0);
    const link = await web.connectLink({ auth: 'site', labels: { customer: 'acme' } }, { ttlMs: 60_000 });
    expect(link.url).toBe('https://ops.example/ops/connect/l/abc');
    expect(made).toHaveLength(1);
    expect(made[0]?.options.mountPath).toBe('/connect');
    expect(made[0]?.links).toEqual([[{ auth: 'site', labels: { customer: 'acme' } }, { ttlMs: 60_000 }]]);
    const page = await web.fetch(new Request('http://x/ops/connect/l/abc'));
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('connect page abc at /ops/connect/l/abc');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(made).toHaveLength(1);
    await web.close();
    expect(made[0]?.closed).toBe(true);
  });

  it('takes the listening URL as public URL, and "Record again" redirects to a link for the session', async () => {
    const portal = defineAuth({
      name: 'portal',
      type: 'recorder',
      startUrl: 'https://portal.test/login',
      finishUrl: 'https://portal.test/home',
      check: async () => true,
    });
    const h = harness({ auths: [portal] });
    cleanups.push(() => h.manager.close());
    const web = createConsole(h.manager, { token: TOKEN });
    cleanups.push(() => web.close());
    const server = await web.listen({ port: 0, host: '127.0.0.1' });
    await h.manager.importState('portal', { cookies: [], origins: [] }, { id: 'rec-1', check: false });
    const signIn = await fetch(`${server.url}?token=${TOKEN}`, { redirect: 'manual' });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${server.url}sessions/rec-1`, { headers: { cookie } })).text();
    expect(page).toContain('Record again');
    expect(page).not.toContain('Update credentials');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const record = await fetch(`${server.url}sessions/rec-1/record`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      redirect: 'manual',
    });
    expect(record.status).toBe(303);
    expect(record.headers.get('location')).toBe(`${server.url}connect/l/abc`);
    expect(made[0]?.links).toEqual([['rec-1', undefined]]);
  });
});
