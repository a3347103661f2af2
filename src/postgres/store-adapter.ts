import type Keyv from 'keyv';
import type { StoreAdapter, StoreEntry } from '../store/contract.js';
import { decodeEntry, decodeScanned, encodeEntry, prefixEnd, swapFields } from '../store/keyv-entry.js';
import type { PgPool } from './pg.js';

/** Where the rows live: the pool, the quoted table name, the key prefix, and the table set-up to await. */
export interface PostgresTable {
  readonly pool: PgPool;
  /** `"schema"."table"`, quoted. */
  readonly qualified: string;
  /** Prefix of every key as `@keyv/postgres` writes it (`<namespace>:`). */
  readonly keyPrefix: string;
  /** Creates the table (and its index) once; awaited before each statement. */
  readonly ensureTable: () => Promise<void>;
}

/** True while the row has not expired at `$now` (Keyv: expired once `now > expires`). */
const alive = (now: string) =>
  `(CASE WHEN json_typeof(value::json -> 'expires') = 'number' THEN (value::json ->> 'expires')::numeric >= ${now} ELSE true END)`;

/**
 * The adapter over a `createPostgresStore` Keyv: `SELECT`, a conditional `UPDATE` / `DELETE` (the entry's
 * value must still be the expected one), `INSERT … ON CONFLICT DO NOTHING` (or over an expired row) for a
 * new key, keyset pages over the key range of a prefix (in byte order, `COLLATE "C"`, served by an index
 * the store creates). Each compare-and-set is one statement, so it is atomic for every process. Rows are the
 * ones `@keyv/postgres` reads and writes.
 *
 * @example
 * ```ts
 * registerStoreAdapter(keyv, postgresStoreAdapter(keyv, { pool, qualified, keyPrefix: 'auth-sessions:', ensureTable }));
 * ```
 */
export function postgresStoreAdapter(
  keyv: Keyv,
  table: PostgresTable,
  options: { readonly pageSize?: number } = {},
): StoreAdapter {
  const { pool, qualified, keyPrefix, ensureTable } = table;
  const pageSize = options.pageSize ?? 500;
  const at = (key: string) => keyPrefix + key;
  const q = async (sql: string, values: readonly unknown[]) => {
    await ensureTable();
    return pool.query(sql, values);
  };

  return {
    atomic: true,
    canScan: true,
    async read(key) {
      const { rows } = await q(`SELECT value FROM ${qualified} WHERE key = $1`, [at(key)]);
      return decodeEntry(keyv, key, rows[0]?.value, Date.now());
    },
    async compareAndSet(key, expected, next) {
      const { entry, expectedField } = await swapFields(keyv, expected, next);
      const now = Date.now();
      if (expectedField === undefined) {
        if (entry === undefined) return (await this.read(key)) === undefined;
        const result = await q(
          `INSERT INTO ${qualified} AS t (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
             WHERE json_typeof(t.value::json -> 'expires') = 'number' AND (t.value::json ->> 'expires')::numeric < $3`,
          [at(key), entry, now],
        );
        return result.rowCount === 1;
      }
      const result =
        entry === undefined
          ? await q(
              `DELETE FROM ${qualified} WHERE key = $1 AND (value::json ->> 'value') = $2 AND ${alive('$3')}`,
              [at(key), expectedField, now],
            )
          : await q(
              `UPDATE ${qualified} SET value = $4 WHERE key = $1 AND (value::json ->> 'value') = $2 AND ${alive('$3')}`,
              [at(key), expectedField, now, entry],
            );
      return result.rowCount === 1;
    },
    async delete(key) {
      const { rows } = await q(`DELETE FROM ${qualified} WHERE key = $1 RETURNING ${alive('$2')} AS alive`, [
        at(key),
        Date.now(),
      ]);
      return rows.length === 1 && rows[0]?.alive === true;
    },
    async *scan(prefix): AsyncGenerator<StoreEntry> {
      const low = at(prefix);
      const high = prefixEnd(low);
      const strip = keyPrefix.length;
      let from = low;
      let op = '>=';
      for (;;) {
        const { rows } = await q(
          `SELECT key, value FROM ${qualified}
            WHERE key COLLATE "C" ${op} $1 AND key COLLATE "C" < $2 ORDER BY key COLLATE "C" LIMIT $3`,
          [from, high, pageSize],
        );
        op = '>';
        for (const row of rows as { key: string; value: unknown }[]) {
          const value = await decodeScanned(keyv, row.key.slice(strip), row.value, Date.now());
          if (value !== undefined) yield [row.key.slice(strip), value];
        }
        if (rows.length < pageSize) return;
        from = (rows[rows.length - 1] as { key: string }).key;
      }
    },
    async write(key, value, ttlMs) {
      const entry = await encodeEntry(keyv, value, ttlMs === undefined ? undefined : Date.now() + ttlMs);
      await q(
        `INSERT INTO ${qualified} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [at(key), entry],
      );
    },
  };
}
