import type Keyv from 'keyv';
import { type Clock, systemClock } from '../../clock.js';
import { AuthSessionError } from '../../errors.js';
import type { StoreAdapter, StoreEntry } from '../contract.js';
import {
  decodeEntry,
  decodeScanned,
  encodeEntry,
  keyvCompresses,
  keyvStore,
  keyvStoredKey,
  prefixEnd,
  swapFields,
} from '../keyv-entry.js';

/**
 * The part of `@keyv/sqlite`'s adapter used directly: its table name and its `query` (sqlite3's `all`,
 * promisified).
 */
export interface SqliteAdapter {
  readonly opts: { readonly dialect?: unknown; readonly table?: unknown; readonly iterationLimit?: unknown };
  readonly query: (sql: string, ...params: unknown[]) => Promise<unknown[]>;
}

/**
 * The `@keyv/sqlite` adapter under a Keyv instance, or undefined for any other store (or a Keyv that
 * compresses values, whose entries the SQL cannot look into). Recognised by shape (`opts.dialect ===
 * 'sqlite'`, a `query` function and a plain table name), so a copy of `@keyv/sqlite` loaded twice is
 * recognised too.
 *
 * @example
 * ```ts
 * sqliteAdapterOf(createSqliteStore('./sessions.sqlite')) !== undefined; // true
 * ```
 */
export function sqliteAdapterOf(keyv: Keyv): SqliteAdapter | undefined {
  const store = keyvStore(keyv) as Partial<SqliteAdapter> | undefined;
  if (typeof store !== 'object' || store === null || keyvCompresses(keyv)) return undefined;
  if (typeof store.query !== 'function' || typeof store.opts !== 'object' || store.opts === null)
    return undefined;
  if (store.opts.dialect !== 'sqlite' || typeof store.opts.table !== 'string') return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(store.opts.table)) return undefined;
  return store as SqliteAdapter;
}

/** The entry's `value` field, or NULL when the row is not JSON (such a row never equals an expected value). */
const FIELD = `(CASE WHEN json_valid(value) THEN json_extract(value, '$.value') END)`;
/** 1 while the row has not expired at the bound time (Keyv: expired once `now > expires`). */
const ALIVE = `(CASE WHEN json_valid(value) THEN IFNULL(json_extract(value, '$.expires') >= ?, 1) ELSE 1 END)`;
/** 1 once the row has expired at the bound time. */
const EXPIRED = `(CASE WHEN json_valid(value) THEN IFNULL(json_extract(value, '$.expires') < ?, 0) ELSE 0 END)`;

/**
 * The adapter over `@keyv/sqlite`, through its own connection (`query`): one statement per compare-and-set
 * (`UPDATE … WHERE` the entry's value is still the expected one, `INSERT … ON CONFLICT` when none is
 * expected, `DELETE … WHERE` to remove), each telling through `RETURNING` whether it wrote, so two writers
 * (two processes on one file too) can never both win. Listing reads keyset pages over the primary key
 * (`WHERE key > last ORDER BY key LIMIT n`), so each page is one index range and memory holds one page.
 * `RETURNING` needs SQLite 3.35 (the `sqlite3` package has bundled a newer one since 2021).
 *
 * @example
 * ```ts
 * const keyv = createSqliteStore('./sessions.sqlite');
 * const store = sqliteStoreAdapter(keyv, sqliteAdapterOf(keyv)!);
 * ```
 */
export function sqliteStoreAdapter(
  keyv: Keyv,
  adapter: SqliteAdapter,
  options: { readonly clock?: Clock; readonly pageSize?: number } = {},
): StoreAdapter {
  const table = adapter.opts.table as string;
  const clock = options.clock ?? systemClock;
  const pageSize = options.pageSize ?? (Number.parseInt(String(adapter.opts.iterationLimit), 10) || 500);
  const at = (key: string) => keyvStoredKey(keyv, key);
  let checked: Promise<void> | undefined;
  const query = async (sql: string, ...params: unknown[]) => {
    checked ??= checkVersion(adapter)
      .then(() => ensureTermIndex(adapter, table))
      .catch((err: unknown) => {
        checked = undefined;
        throw err;
      });
    await checked;
    return (await adapter.query(sql, ...params)) as Record<string, unknown>[];
  };

  return {
    atomic: true,
    canScan: true,
    async read(key) {
      const rows = await query(`SELECT value FROM ${table} WHERE key = ?`, at(key));
      return decodeEntry(keyv, key, rows[0]?.value, clock.now());
    },
    async compareAndSet(key, expected, next) {
      const { entry, expectedField } = await swapFields(keyv, expected, next);
      const stored = at(key);
      const now = clock.now();
      if (expectedField === undefined) {
        if (entry === undefined) return (await this.read(key)) === undefined;
        // Absent, or present but expired (Keyv would read it as absent): write.
        const rows = await query(
          `INSERT INTO ${table} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE ${EXPIRED} RETURNING key`,
          stored,
          entry,
          now,
        );
        return rows.length === 1;
      }
      const rows =
        entry === undefined
          ? await query(
              `DELETE FROM ${table} WHERE key = ? AND ${FIELD} = ? AND ${ALIVE} RETURNING key`,
              stored,
              expectedField,
              now,
            )
          : await query(
              `UPDATE ${table} SET value = ? WHERE key = ? AND ${FIELD} = ? AND ${ALIVE} RETURNING key`,
              entry,
              stored,
              expectedField,
              now,
            );
      return rows.length === 1;
    },
    async delete(key) {
      const rows = await query(
        `DELETE FROM ${table} WHERE key = ? RETURNING ${ALIVE} AS alive`,
        at(key),
        clock.now(),
      );
      return rows.length === 1 && Number(rows[0]?.alive) === 1;
    },
    async *scan(prefix): AsyncGenerator<StoreEntry> {
      const low = at(prefix);
      const high = prefixEnd(low);
      const strip = low.length - prefix.length;
      const sql = `SELECT key, value FROM ${table} WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`;
      let from = low;
      let first = true;
      for (;;) {
        const rows = (await query(
          first ? sql : sql.replace('key >= ?', 'key > ?'),
          from,
          high,
          pageSize,
        )) as { key: string; value: unknown }[];
        first = false;
        for (const row of rows) {
          const value = await decodeScanned(keyv, row.key.slice(strip), row.value, clock.now());
          if (value !== undefined) yield [row.key.slice(strip), value];
        }
        if (rows.length < pageSize) return;
        from = rows[rows.length - 1]!.key;
      }
    },
    async *scanWhere(prefix, term): AsyncGenerator<StoreEntry> {
      const low = at(prefix);
      const high = prefixEnd(low);
      const strip = low.length - prefix.length;
      // The term is built by SQLite from the parameters, exactly as the triggers build it.
      const termSql = term.field === 'label' ? `'label:' || json_array(?, ?)` : `? || ':' || ?`;
      const termParams = term.field === 'label' ? [term.name, term.value] : [term.field, term.value];
      const sql =
        `SELECT t.key AS key, v.value AS value FROM "${table}_terms" t JOIN ${table} v ON v.key = t.key ` +
        `WHERE t.term = ${termSql} AND t.key > ? AND t.key < ? ORDER BY t.key LIMIT ?`;
      let from = low;
      for (;;) {
        const rows = (await query(sql, ...termParams, from, high, pageSize)) as {
          key: string;
          value: unknown;
        }[];
        for (const row of rows) {
          const value = await decodeScanned(keyv, row.key.slice(strip), row.value, clock.now());
          if (value !== undefined) yield [row.key.slice(strip), value];
        }
        if (rows.length < pageSize) return;
        from = rows[rows.length - 1]!.key;
      }
    },
    async write(key, value, ttlMs) {
      const entry = await encodeEntry(keyv, value, ttlMs === undefined ? undefined : clock.now() + ttlMs);
      await query(
        `INSERT INTO ${table} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
        at(key),
        entry,
      );
    },
  };
}

/** `RETURNING` (which tells whether a conditional statement wrote) needs SQLite 3.35. */
/** The session record inside a Keyv entry (`NEW.value` / `OLD.value` in the triggers), or `'{}'`. */
function recordOf(row: 'NEW' | 'OLD'): string {
  return (
    `(CASE WHEN json_valid(${row}.value) AND json_valid(json_extract(${row}.value, '$.value')) ` +
    `THEN json_extract(${row}.value, '$.value') ELSE '{}' END)`
  );
}

/** Inserts the index terms of one row: its state, its auth and each label. */
function insertTerms(table: string, row: 'NEW' | 'OLD'): string {
  const record = recordOf(row);
  // A row without a state or an auth (metadata, a damaged record) has no such term: NULL terms are left out
  // here, since the writing statement's conflict policy (ABORT) overrides the trigger's OR IGNORE.
  return (
    `INSERT OR IGNORE INTO "${table}_terms" (term, key) SELECT term, key FROM (` +
    `SELECT 'state:' || json_extract(${record}, '$.state') AS term, ${row}.key AS key ` +
    `UNION ALL SELECT 'auth:' || json_extract(${record}, '$.auth'), ${row}.key ` +
    `UNION ALL SELECT 'label:' || json_array(j.key, j.value), ${row}.key FROM json_each(${record}, '$.labels') AS j` +
    `) WHERE term IS NOT NULL;`
  );
}

/**
 * The index of session records by state, auth and label: a side table of (term, key) kept by triggers on the
 * Keyv table, so it follows every write (the library's, Keyv's own, another process's) in the same
 * statement. Created once, filled from the rows already there.
 */
async function ensureTermIndex(adapter: SqliteAdapter, table: string): Promise<void> {
  const terms = `"${table}_terms"`;
  const existing = (await adapter.query(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`,
    `${table}_terms`,
  )) as unknown[];
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${terms} (term TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (term, key)) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS "${table}_terms_key" ON ${terms} (key)`,
    `CREATE TRIGGER IF NOT EXISTS "${table}_terms_insert" AFTER INSERT ON ${table} BEGIN ${insertTerms(table, 'NEW')} END`,
    `CREATE TRIGGER IF NOT EXISTS "${table}_terms_update" AFTER UPDATE OF value ON ${table} BEGIN ` +
      `DELETE FROM ${terms} WHERE key = OLD.key; ${insertTerms(table, 'NEW')} END`,
    `CREATE TRIGGER IF NOT EXISTS "${table}_terms_delete" AFTER DELETE ON ${table} BEGIN ` +
      `DELETE FROM ${terms} WHERE key = OLD.key; END`,
  ];
  for (const sql of statements) await adapter.query(sql);
  if (existing.length === 0) {
    await adapter.query(
      `INSERT OR IGNORE INTO ${terms} (term, key) ` +
        `SELECT 'state:' || json_extract(r.doc, '$.state'), r.key FROM (SELECT key, ${recordOf('NEW').replaceAll('NEW.', '')} AS doc FROM ${table}) r ` +
        `UNION ALL SELECT 'auth:' || json_extract(r.doc, '$.auth'), r.key FROM (SELECT key, ${recordOf('NEW').replaceAll('NEW.', '')} AS doc FROM ${table}) r ` +
        `UNION ALL SELECT 'label:' || json_array(j.key, j.value), r.key FROM (SELECT key, ${recordOf('NEW').replaceAll('NEW.', '')} AS doc FROM ${table}) r, json_each(r.doc, '$.labels') AS j`,
    );
  }
}

async function checkVersion(adapter: SqliteAdapter): Promise<void> {
  const rows = (await adapter.query('SELECT sqlite_version() AS v')) as { v?: unknown }[];
  const version = String(rows[0]?.v ?? '0');
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 3 || (major === 3 && minor >= 35)) return;
  throw new AuthSessionError(
    'INVALID_OPTIONS',
    `SQLite ${version} is too old for atomic session writes (3.35 or newer needed): update the "sqlite3" package`,
  );
}
