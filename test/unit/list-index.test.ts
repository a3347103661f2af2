import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { type IndexTerm, storeAdapterFor } from '../../src/conformance/index.js';
import { createSqliteStore } from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { managerOver } from './helpers.js';

// `list` with a filter reads the records its index names, not every record (SQLite: a side table kept by
// triggers). The bench measures the cost at 100,000 sessions; here: the index is right after every kind of write.

const alice = { username: 'alice', password: 'pw-alice-1' };
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function world(file: string) {
  const clock = new FakeClock();
  const site = new FakeSite({ clock, sessionTtlMs: 60 * 60_000 });
  site.addUser('alice', 'pw-alice-1');
  const browser = new FakeBrowserProvider({ sites: [site], maxContexts: 64 });
  const store = createSqliteStore(file);
  const manager = managerOver({ site, browser, clock }, { store });
  cleanups.push(
    () => browser.close(),
    () => store.disconnect(),
    () => manager.close(),
  );
  return { site, store, manager };
}

async function indexed(store: Keyv, term: IndexTerm): Promise<string[]> {
  const ids: string[] = [];
  for await (const [key] of storeAdapterFor(store).scanWhere!('session/', term)) ids.push(key.slice(8));
  return ids.sort();
}

describe('the SQLite index of sessions by label, state and auth', () => {
  it('names exactly the matching sessions after creates, updates, expiries and deletes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'as-index-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { site, store, manager } = world(join(dir, 'sessions.sqlite'));
    for (let i = 0; i < 20; i++) {
      await manager.create('site', {
        id: `s${String(i).padStart(2, '0')}`,
        credentials: alice,
        labels: { customer: i % 5 === 0 ? 'acme' : `c${i}`, 'odd key=with "quotes"': 'v=1' },
      });
    }
    const acme: IndexTerm = { field: 'label', name: 'customer', value: 'acme' };
    expect(await indexed(store, acme)).toEqual(['s00', 's05', 's10', 's15']);
    expect(
      await indexed(store, { field: 'label', name: 'odd key=with "quotes"', value: 'v=1' }),
    ).toHaveLength(20);
    expect(await indexed(store, { field: 'label', name: 'odd key', value: 'with "quotes"=v=1' })).toEqual([]);
    await manager.update('s05', { labels: { customer: 'globex' } });
    await manager.delete('s10');
    expect(await indexed(store, acme)).toEqual(['s00', 's15']);
    expect((await manager.list({ labels: { customer: 'acme' } })).map((s) => s.id).sort()).toEqual([
      's00',
      's15',
    ]);

    site.changePassword('alice', 'changed');
    site.expireSessions();
    await expect(manager.run('s15', () => 1)).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(await indexed(store, { field: 'state', value: 'expired' })).toEqual(['s15']);
    expect((await manager.list({ state: 'expired' })).map((s) => s.id)).toEqual(['s15']);
    expect(await indexed(store, { field: 'state', value: 'active' })).toHaveLength(18);
    expect(await indexed(store, { field: 'auth', value: 'site' })).toHaveLength(19);
  });

  it('indexes the sessions a file held before the index existed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'as-index-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'sessions.sqlite');
    const first = world(file);
    await first.manager.create('site', { id: 'old-1', credentials: alice, labels: { team: 'red' } });
    await first.manager.create('site', { id: 'old-2', credentials: alice, labels: { team: 'blue' } });
    // As a file written by a version without the index.
    const raw = new KeyvSqlite({ uri: `sqlite://${file}` });
    for (const sql of [
      'DROP TRIGGER keyv_terms_insert',
      'DROP TRIGGER keyv_terms_update',
      'DROP TRIGGER keyv_terms_delete',
      'DROP TABLE keyv_terms',
    ]) {
      await raw.query(sql);
    }
    await raw.disconnect();
    const reopened = new Keyv({
      store: new KeyvSqlite({ uri: `sqlite://${file}` }),
      namespace: 'auth-sessions',
    });
    cleanups.push(() => reopened.disconnect());
    expect(await indexed(reopened, { field: 'label', name: 'team', value: 'red' })).toEqual(['old-1']);
  });
});
