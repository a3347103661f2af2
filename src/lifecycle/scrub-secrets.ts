/** What a secret is replaced with in an error. */
export const REDACTED = '[redacted]';

/** Strings shorter than this are not treated as secrets (replacing every "1" or "on" would garble messages). */
const MIN_SECRET_LENGTH = 4;
/** How deep {@link secretStrings} and {@link scrubSecrets} follow nested values. */
const MAX_DEPTH = 16;

/**
 * Every string leaf of `values` (objects and arrays followed down), at least {@link MIN_SECRET_LENGTH}
 * characters long: the secrets to look for. Undefined and non-string leaves are skipped.
 *
 * @example
 * ```ts
 * secretStrings([{ username: 'alice', password: 'hunter22' }, proxy?.password]); // ['alice', 'hunter22']
 * ```
 */
export function secretStrings(values: readonly unknown[]): string[] {
  const out = new Set<string>();
  const visit = (v: unknown, depth: number, seen: Set<object>) => {
    if (typeof v === 'string') {
      if (v.length >= MIN_SECRET_LENGTH) out.add(v);
      return;
    }
    if (typeof v !== 'object' || v === null || depth > MAX_DEPTH || seen.has(v)) return;
    seen.add(v);
    for (const child of Object.values(v)) visit(child, depth + 1, seen);
  };
  const seen = new Set<object>();
  for (const v of values) visit(v, 0, seen);
  return [...out];
}

/** The forms a secret takes in text: as is, URL-encoded, JSON-escaped, base64, base64url and hex. */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const base64 = bytes.toString('base64').replace(/=+$/, '');
  const all = [
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    base64,
    base64.replaceAll('+', '-').replaceAll('/', '_'),
    bytes.toString('hex'),
  ];
  // Longest first, so a form containing another is replaced whole.
  return [...new Set(all)].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

function scrubText(text: string, patterns: readonly string[]): string {
  let out = text;
  for (const p of patterns) if (out.includes(p)) out = out.split(p).join(REDACTED);
  return out;
}

/**
 * Removes secrets from an error before it is kept, thrown or logged: every occurrence of a secret (see
 * {@link secretStrings}; raw, URL-encoded, JSON-escaped, base64 or hex) in the error's message, stack and
 * other own string properties, down its `cause` chain, the `errors` of an AggregateError and nested
 * objects, is replaced with {@link REDACTED}. Errors are changed in place (so their class and properties
 * stay); a property that cannot be changed (a frozen error) makes the error replaced by a plain `Error`
 * with the scrubbed name, message and stack. A thrown string is returned scrubbed.
 *
 * @example
 * ```ts
 * catch (err) { throw scrubSecrets(err, [credentials, proxy?.password]); }
 * ```
 */
export function scrubSecrets<T>(err: T, secrets: readonly unknown[]): T {
  const patterns = secretStrings(secrets).flatMap(forms);
  if (patterns.length === 0) return err;
  try {
    return scrubValue(err, patterns, 0, new Map()) as T;
  } catch {
    // Something in the error refused to be read or changed (a throwing getter, a proxy): it is withheld
    // rather than passed on unchecked.
    return new Error(
      'The hook failed; its error was withheld because it could not be checked for secrets',
    ) as T;
  }
}

function scrubValue(
  value: unknown,
  patterns: readonly string[],
  depth: number,
  seen: Map<object, unknown>,
): unknown {
  if (typeof value === 'string') return scrubText(value, patterns);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  seen.set(value, value);
  if (depth > MAX_DEPTH) return value;
  // message and stack are own but not enumerable on Errors; cause is not enumerable either.
  const keys = new Set<PropertyKey>(Object.keys(value));
  if (value instanceof Error) for (const k of ['name', 'message', 'stack', 'cause', 'errors']) keys.add(k);
  let stuck = false;
  for (const key of keys) {
    if (!Object.hasOwn(value, key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined) continue;
    // Accessors are not called (a getter may throw or have effects), except an error's own stack and
    // message, which some engines keep behind an accessor.
    const builtIn = value instanceof Error && (key === 'stack' || key === 'message');
    if (!('value' in descriptor) && !builtIn) continue;
    const before = (
      'value' in descriptor ? descriptor.value : (value as Record<PropertyKey, unknown>)[key]
    ) as unknown;
    const after = scrubValue(before, patterns, depth + 1, seen);
    if (after === before) continue;
    try {
      (value as Record<PropertyKey, unknown>)[key] = after;
    } catch {}
    if ((value as Record<PropertyKey, unknown>)[key] !== after) stuck = true;
  }
  if (!stuck) return value;
  // A frozen error (or one with read-only properties) is replaced by a copy that can be cleaned.
  const source = value as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown };
  const copy = new Error(scrubText(String(source.message ?? ''), patterns));
  copy.name = scrubText(String(source.name ?? 'Error'), patterns);
  copy.stack = scrubText(String(source.stack ?? ''), patterns);
  if (source.cause !== undefined) copy.cause = scrubValue(source.cause, patterns, depth + 1, seen);
  seen.set(value, copy);
  return copy;
}
