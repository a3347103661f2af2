import type Keyv from 'keyv';
import { AuthSessionError } from '../errors.js';

/**
 * The parts of a Keyv instance the adapters use to read and write entries exactly as Keyv itself does, so a
 * store written through an adapter stays readable by Keyv (and data Keyv wrote stays readable here).
 */
interface KeyvInternals {
  readonly store?: unknown;
  readonly namespace?: string;
  readonly useKeyPrefix?: boolean;
  readonly serialize?: ((data: unknown) => unknown) | undefined;
  readonly opts?: { readonly compression?: unknown };
  serializeData(data: unknown): Promise<unknown>;
  deserializeData(data: unknown): Promise<unknown>;
}

function internals(keyv: Keyv): KeyvInternals {
  return keyv as unknown as KeyvInternals;
}

/** The storage adapter under a Keyv instance (`keyv.store`). */
export function keyvStore(keyv: Keyv): unknown {
  return internals(keyv).store;
}

/** True when the Keyv instance compresses values (the SQL and Lua compare-and-sets cannot see into them). */
export function keyvCompresses(keyv: Keyv): boolean {
  return internals(keyv).opts?.compression !== undefined;
}

/**
 * The key under which Keyv keeps `key`: its namespace prefix applied as Keyv applies it (`<namespace>:<key>`,
 * unless the instance has `useKeyPrefix: false` or no namespace).
 */
export function keyvStoredKey(keyv: Keyv, key: string): string {
  const k = internals(keyv);
  if (k.useKeyPrefix === false || !k.namespace) return key;
  return `${k.namespace}:${key}`;
}

/**
 * A value as Keyv stores it: `{"value": …, "expires": …}` through the instance's serializer (and
 * compression, if any).
 */
export async function encodeEntry(keyv: Keyv, value: string, expires?: number): Promise<unknown> {
  return internals(keyv).serializeData(expires === undefined ? { value } : { value, expires });
}

/**
 * The value inside a stored entry, or undefined when there is none or it expired at `now`. An entry that
 * cannot be decoded, or whose value is not text, is `CORRUPT_RECORD` (never "missing": a write must not
 * replace what could not be read).
 */
export async function decodeEntry(
  keyv: Keyv,
  key: string,
  raw: unknown,
  now: number,
): Promise<string | undefined> {
  if (raw === undefined || raw === null) return undefined;
  let data: unknown;
  try {
    data = typeof raw === 'string' ? await internals(keyv).deserializeData(raw) : raw;
  } catch (err) {
    throw unreadable(key, err);
  }
  if (data === undefined || data === null) return undefined;
  if (typeof data !== 'object') throw unreadable(key, new Error('not a Keyv entry'));
  const { value, expires } = data as { value?: unknown; expires?: unknown };
  if (typeof expires === 'number' && now > expires) return undefined;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw unreadable(key, new Error('the value is not text'));
  return value;
}

/**
 * {@link decodeEntry} for scans: an entry that cannot be decoded is yielded as the stored text itself, so the
 * caller reports it as damaged (a listing goes on) instead of the whole scan failing or the entry vanishing.
 */
export async function decodeScanned(
  keyv: Keyv,
  key: string,
  raw: unknown,
  now: number,
): Promise<string | undefined> {
  try {
    return await decodeEntry(keyv, key, raw, now);
  } catch (err) {
    if (typeof raw === 'string') return raw;
    throw err;
  }
}

/**
 * What a single-statement compare-and-set compares and writes: the stored entry for `next`, and the form
 * `expected` takes inside a stored entry's `value` field (Keyv's serialiser escapes some strings, such as
 * a leading colon). Used by the SQLite, Redis and PostgreSQL adapters, whose entries are JSON.
 */
export async function swapFields(
  keyv: Keyv,
  expected: string | undefined,
  next: string | undefined,
): Promise<{ entry: string | undefined; expectedField: string | undefined }> {
  const entry = next === undefined ? undefined : String(await encodeEntry(keyv, next));
  if (expected === undefined) return { entry, expectedField: undefined };
  const expectedField = (JSON.parse(String(await encodeEntry(keyv, expected))) as { value: string }).value;
  return { entry, expectedField };
}

/** The upper bound of a prefix range: every key starting with `prefix` sorts below it (code-unit order). */
export function prefixEnd(prefix: string): string {
  if (prefix.length === 0) return '\uffff';
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function unreadable(key: string, cause: unknown): AuthSessionError {
  return new AuthSessionError(
    'CORRUPT_RECORD',
    `The stored entry "${key}" cannot be read (not an entry this library or Keyv wrote)`,
    { cause },
  );
}
