import type Keyv from 'keyv';
import type { IndexTerm, StoreAdapter, StoreEntry } from '../store/contract.js';
import { decodeEntry, decodeScanned, encodeEntry, prefixEnd, swapFields } from '../store/keyv-entry.js';
import type { PgPool } from './pg.js';

/** Where the rows live: the pool, the quoted table name, the key prefix, and the table set-up to await. */
export interface PostgresTable {
  readonly pool: PgPool;
  /** `"schema"."table"`, quoted. */
  readonly qualified: string;
  /** Prefix of every key as `@keyv/postgres` writes it (`<namespace>:`). */
  readonly keyPrefix: string;
  /** Creates the table (and its indexes) once; awaited before each statement. */
  readonly ensureTable: () => Promise<void>;
  /**
   * The function {@link ensureRecordIndexes} created (`"schema"."table_record"`), whose results the table's
   * record indexes hold. Without it the adapter has no `scanWhere` (filtered listings scan).
   */
  readonly record?: string;
}

/** The qualified name of the function that reads the session record out of a row's value. */
export function recordFunction(schema: string, table: string): string {
  return `"${schema}"."${table}_record"`;
}

/**
 * The index of session records by state, auth and label, as expression indexes over the rows (so every
 * write, whoever makes it, keeps them in the same statement): `<table>_record(value)` reads the record (the
 * entry's `value` field, itself JSON) and is NULL for a row that is not one; a btree on its state and on its
 * auth, each followed by the key (keyset pages in byte order), a GIN on its labels (`@>`), and a partial
 * index of the rows it cannot read (listed with every filter, so none is missed). Creating them over a
 * large existing table reads every row once and blocks writes meanwhile.
 */
export async function ensureRecordIndexes(
  pool: Pick<PgPool, 'query'>,
  schema: string,
  table: string,
): Promise<void> {
  const qualified = `"${schema}"."${table}"`;
  const record = recordFunction(schema, table);
  const { rows } = await pool.query(
    `SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2`,
    [schema, `${table}_record`],
  );
  if (rows.length === 0) {
    // Not CREATE OR REPLACE: replacing a function other processes are creating fails ("tuple concurrently
    // updated") instead of reporting a duplicate. A duplicate: another process created it meanwhile.
    await pool
      .query(
        `CREATE FUNCTION ${record}(text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
       BEGIN RETURN ($1::jsonb ->> 'value')::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END $$`,
      )
      .catch((err: unknown) => {
        if (!['23505', '42723'].includes(String((err as { code?: unknown }).code))) throw err;
      });
  }
  for (const sql of [
    `CREATE INDEX IF NOT EXISTS "${table}_state" ON ${qualified} ((${record}(value) ->> 'state'), key COLLATE "C")`,
    `CREATE INDEX IF NOT EXISTS "${table}_auth" ON ${qualified} ((${record}(value) ->> 'auth'), key COLLATE "C")`,
    `CREATE INDEX IF NOT EXISTS "${table}_labels" ON ${qualified} USING gin ((${record}(value) -> 'labels') jsonb_path_ops)`,
    `CREATE INDEX IF NOT EXISTS "${table}_unreadable" ON ${qualified} (key COLLATE "C") WHERE ${record}(value) IS NULL`,
  ]) {
    await pool.query(sql).catch((err: unknown) => {
      // Another process created it meanwhile (its creation committed before this one could): it is there.
      if (!['23505', '42P07', '42710'].includes(String((err as { code?: unknown }).code))) throw err;
    });
  }
}

/** Text PostgreSQL refuses in a JSON or text parameter (U+0000, a lone surrogate): no stored record has it. */
function unstorable(text: string): boolean {
  return text.includes('\0') || /\p{Cs}/u.test(text);
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
  const { pool, qualified, keyPrefix, ensureTable, record } = table;
  const pageSize = options.pageSize ?? 500;
  const at = (key: string) => keyPrefix + key;
  const q = async (sql: string, values: readonly unknown[]) => {
    await ensureTable();
    return pool.query(sql, values);
  };

  /** Keyset pages of the rows in the key range of `prefix` that satisfy `where` (parameters from $4). */
  async function* pages(
    prefix: string,
    where: string,
    params: readonly unknown[],
  ): AsyncGenerator<StoreEntry> {
    const low = at(prefix);
    const high = prefixEnd(low);
    let from = low;
    let op = '>=';
    for (;;) {
      const { rows } = await q(
        `SELECT key, value FROM ${qualified}
          WHERE ${where} AND key COLLATE "C" ${op} $1 AND key COLLATE "C" < $2 ORDER BY key COLLATE "C" LIMIT $3`,
        [from, high, pageSize, ...params],
      );
      op = '>';
      for (const row of rows as { key: string; value: unknown }[]) {
        const value = await decodeScanned(keyv, row.key.slice(keyPrefix.length), row.value, Date.now());
        if (value !== undefined) yield [row.key.slice(keyPrefix.length), value];
      }
      if (rows.length < pageSize) return;
      from = (rows[rows.length - 1] as { key: string }).key;
    }
  }

  /**
   * The rows whose labels hold the label of `term`. A GIN index has no key order to page by, so the keys are
   * read in one statement (the matching keys only), then the values by pages of keys.
   */
  async function* labelled(prefix: string, term: IndexTerm & { field: 'label' }): AsyncGenerator<StoreEntry> {
    const low = at(prefix);
    const { rows } = await q(
      `SELECT key FROM ${qualified}
        WHERE ${record}(value) -> 'labels' @> $3::jsonb AND key COLLATE "C" >= $1 AND key COLLATE "C" < $2`,
      [low, prefixEnd(low), JSON.stringify({ [term.name]: term.value })],
    );
    const keys = (rows as { key: string }[]).map((row) => row.key);
    for (let i = 0; i < keys.length; i += pageSize) {
      const page = await q(`SELECT key, value FROM ${qualified} WHERE key = ANY($1::text[])`, [
        keys.slice(i, i + pageSize),
      ]);
      for (const row of page.rows as { key: string; value: unknown }[]) {
        const value = await decodeScanned(keyv, row.key.slice(keyPrefix.length), row.value, Date.now());
        if (value !== undefined) yield [row.key.slice(keyPrefix.length), value];
      }
    }
  }

  const scanWhere =
    record === undefined
      ? undefined
      : async function* (prefix: string, term: IndexTerm): AsyncGenerator<StoreEntry> {
          const values = term.field === 'label' ? [term.name, term.value] : [term.value];
          if (!values.some(unstorable)) {
            if (term.field === 'label') yield* labelled(prefix, term);
            else {
              const field = term.field === 'auth' ? 'auth' : 'state';
              yield* pages(prefix, `${record}(value) ->> '${field}' = $4`, [term.value]);
            }
          }
          // Rows the index cannot read: listed with every filter (the caller filters them again).
          yield* pages(prefix, `${record}(value) IS NULL`, []);
        };

  return {
    ...(scanWhere ? { scanWhere } : {}),
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
      // The TTL counts from the write, not from before the table was set up (its indexes take a while).
      await ensureTable();
      const entry = await encodeEntry(keyv, value, ttlMs === undefined ? undefined : Date.now() + ttlMs);
      await q(
        `INSERT INTO ${qualified} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [at(key), entry],
      );
    },
  };
}
