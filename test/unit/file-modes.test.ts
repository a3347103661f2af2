/**
 * The embedded store's files: the data folder is created 0700 and the SQLite file 0600 (not the process's
 * default 0755/0644), and one that other users can read gets a notice with the chmod that fixes it.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthSessionManager, createSqliteStore } from '../../src/index.js';
import { FakeBrowserProvider, FakeClock, FakeSite } from '../../src/testing/index.js';
import { siteAuth } from './helpers.js';

const mode = (path: string) => statSync(path).mode & 0o777;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'auth-sessions-modes-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(process.platform === 'win32')('file modes', () => {
  it('createSqliteStore makes a missing folder 0700 and the file 0600, with no notice', async () => {
    const notices: string[] = [];
    const file = join(tmp, 'fresh', 'nested', 'sessions.sqlite');
    const store = createSqliteStore(file, { onNotice: (m) => notices.push(m) });
    await store.set('k', 'v');
    await store.disconnect();
    expect({ dir: mode(join(tmp, 'fresh', 'nested')), file: mode(file) }).toEqual({
      dir: 0o700,
      file: 0o600,
    });
    expect(notices).toEqual([]);
  });

  it('wal: true switches the file to the write-ahead log, kept private like the file itself', async () => {
    const notices: string[] = [];
    const file = join(tmp, 'wal', 'sessions.sqlite');
    const store = createSqliteStore(file, { wal: true, onNotice: (m) => notices.push(m) });
    const site = new FakeSite();
    site.addUser('alice', 'pw-alice-1');
    const manager = new AuthSessionManager({
      auths: [siteAuth(site)],
      store,
      key: Buffer.alloc(32, 3).toString('base64'),
      browser: new FakeBrowserProvider({ site }),
    });
    const s = await manager.create('site', { credentials: { username: 'alice', password: 'pw-alice-1' } });
    const query = (store.store as { query: (sql: string) => Promise<Record<string, unknown>[]> }).query;
    expect(await query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]); // NORMAL
    expect(mode(`${file}-wal`)).toBe(0o600);
    // Another connection (WAL is a property of the file) reads what this one wrote.
    const other = createSqliteStore(file);
    expect(await other.get(`session/${s.id}`)).toBeTypeOf('string');
    await other.disconnect();
    await manager.close();
    await store.disconnect();
    expect(notices).toEqual([]);
    // Without the option: SQLite's rollback journal.
    const plain = createSqliteStore(join(tmp, 'plain', 'sessions.sqlite'));
    await plain.set('k', 'v');
    const plainQuery = (plain.store as { query: (sql: string) => Promise<Record<string, unknown>[]> }).query;
    expect(await plainQuery('PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }]);
    await plain.disconnect();
  });

  it('an existing folder or file open to others gets one notice naming the fix', async () => {
    const dir = join(tmp, 'shared');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const file = join(dir, 'sessions.sqlite');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const notices: string[] = [];
    for (let i = 0; i < 2; i++) {
      const store = createSqliteStore(file, { onNotice: (m) => notices.push(m) });
      await store.set('k', 'v');
      await store.disconnect();
    }
    expect(notices).toEqual([
      expect.stringContaining(`chmod 700 '${dir}'`),
      expect.stringContaining(`chmod 600 '${file}'`),
    ]);
    // Warned, not changed: the modes are the operator's decision.
    expect(mode(file)).toBe(0o644);
  });

  it('the manager default store and key file go through onNotice', async () => {
    const dataDir = join(tmp, 'open-data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const notices: string[] = [];
    const clock = new FakeClock();
    const site = new FakeSite({ clock });
    site.addUser('alice', 'pw-alice-1');
    const manager = new AuthSessionManager({
      auths: [siteAuth(site)],
      browser: new FakeBrowserProvider({ sites: [site] }),
      clock,
      dataDir,
      onNotice: (m) => notices.push(m),
    });
    await manager.create('site', { credentials: { username: 'alice', password: 'pw-alice-1' } });
    await manager.close();
    expect(mode(join(dataDir, 'sessions.sqlite'))).toBe(0o600);
    expect(mode(join(dataDir, 'key'))).toBe(0o600);
    expect(notices.filter((m) => m.includes('chmod 700'))).toHaveLength(1);
    expect(notices.some((m) => m.includes('created a new encryption key'))).toBe(true);
  });
});
