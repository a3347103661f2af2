import type { DeviceProfile } from './browser/provider.js';
import type { AuthDefinition, AuthOptions, CredentialsAuthDefinition } from './define.js';
import { AuthSessionError, issuePaths } from './errors.js';
import {
  assertOrdinaryKeys,
  isForbiddenKey,
  MAX_LABEL_KEY_LENGTH,
  MAX_LABEL_VALUE_LENGTH,
  MAX_LABELS,
  quoteShort,
} from './input-limits.js';
import type { SessionCodec } from './lifecycle/codec.js';
import { type ProxyInput, parseProxy } from './proxy.js';
import type { EditedFields } from './session/changes.js';
import { deviceSchema, type SessionRecord } from './session/record.js';
import { validateWithSchema } from './standard-schema.js';

// The session options that create, update, record and import share, and their validation.

/**
 * Where `record` and `importState` put the login they bring: a new session, or an existing session of the
 * same auth, which gets the new login and keeps everything else.
 *
 * @example
 * ```ts
 * const placement: SessionPlacementOptions = { id: 'acme-portal', labels: { customer: 'acme' } };
 * ```
 */
export interface SessionPlacementOptions
  extends Pick<AuthOptions, 'checkAttempts' | 'checkTimeout' | 'retryDelay'> {
  /**
   * Session id. An existing session of the same auth gets the new login and keeps its id, labels (unless
   * `labels` is given), proxy, device, credentials and waiting work.
   * @default a random UUID (a new session)
   */
  readonly id?: string;
  /** Labels (replacing those of an existing session). @default `{}` or the existing ones */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Proxy of the session (`null` removes an existing session's). A recording browser already goes through
   * it, so the site sees one IP from the login on.
   * @default none, or the existing session's
   */
  readonly proxy?: ProxyInput | null;
  /**
   * Device profile. A new session gets one for its whole life, as with `create`: a generated realistic one
   * (seeded by the id) under the auth's `device` and this. An existing session's is replaced only when given.
   * @default generated / the existing session's
   */
  readonly device?: DeviceProfile;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * True when `id` is a valid session id: 1–128 letters, digits, `_`, `.` or `-`, starting with a letter or digit.
 *
 * @example
 * ```ts
 * isSessionId('acme-portal'); // true
 * ```
 */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && ID.test(id);
}

/**
 * Throws `INVALID_OPTIONS` unless `id` is a valid session id.
 *
 * @example
 * ```ts
 * assertSessionId('acme-portal');
 * ```
 */
export function assertSessionId(id: unknown, where = '"id"'): asserts id is string {
  if (!isSessionId(id)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `${where} must be a string of 1–128 letters, digits, "_", "." or "-", starting with a letter or digit; got ${quoteShort(id)}`,
    );
  }
}

/**
 * Throws `INVALID_OPTIONS` unless `id` is a string of at most 128 characters (an operation id; one that is
 * well formed but unknown is `OPERATION_NOT_FOUND`, from the operation itself). Never echoes a long id.
 *
 * @example
 * ```ts
 * assertOperationId(operationId, 'resume');
 * ```
 */
export function assertOperationId(id: unknown, method: string): asserts id is string {
  if (typeof id !== 'string' || id.length > 128) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `${method}(operationId): "operationId" must be a string of at most 128 characters; got ${quoteShort(id)}`,
    );
  }
}

/**
 * Labels as stored: an own-keys object of strings, refusing `__proto__`-style names; at most
 * {@link MAX_LABELS} labels, names of 1–{@link MAX_LABEL_KEY_LENGTH} characters, values of at most
 * {@link MAX_LABEL_VALUE_LENGTH}.
 *
 * @example
 * ```ts
 * parseSessionLabels({ customer: 'acme' });
 * ```
 */
export function parseSessionLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new AuthSessionError('INVALID_OPTIONS', '"labels" must be an object of string values');
  }
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `"labels" has ${entries.length} labels; at most ${MAX_LABELS} are allowed`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (isForbiddenKey(k) || k.length === 0 || k.length > MAX_LABEL_KEY_LENGTH || typeof v !== 'string') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `label ${quoteShort(k)} must be a string value with an ordinary name of 1–${MAX_LABEL_KEY_LENGTH} characters`,
      );
    }
    if (v.length > MAX_LABEL_VALUE_LENGTH) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `label ${quoteShort(k)} has a value of ${v.length} characters; at most ${MAX_LABEL_VALUE_LENGTH} are allowed`,
      );
    }
    out[k] = v;
  }
  return out;
}

/**
 * A device profile as stored, or undefined for an empty one.
 *
 * @example
 * ```ts
 * parseSessionDevice({ locale: 'de-DE', timezoneId: 'Europe/Berlin' });
 * ```
 */
export function parseSessionDevice(device: DeviceProfile | undefined): SessionRecord['device'] {
  if (device === undefined) return undefined;
  if (typeof device !== 'object' || device === null) {
    throw new AuthSessionError('INVALID_OPTIONS', '"device" must be an object');
  }
  if (Object.keys(device).length === 0) return undefined;
  assertOrdinaryKeys(device, '"device"');
  const parsed = deviceSchema.safeParse(device);
  if (!parsed.success) {
    throw new AuthSessionError('INVALID_OPTIONS', `"device" is invalid at ${issuePaths(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * Throws `INVALID_OPTIONS` unless `options` is undefined or a plain object.
 *
 * @example
 * ```ts
 * assertOptionsObject(options, 'record(auth, options)');
 * ```
 */
export function assertOptionsObject(options: unknown, where: string): void {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new AuthSessionError('INVALID_OPTIONS', `${where}: options must be an object`);
  }
}

/**
 * Throws `INVALID_OPTIONS` unless `signal` is undefined or an AbortSignal.
 *
 * @example
 * ```ts
 * assertSignal(options.signal, 'record');
 * ```
 */
export function assertSignal(signal: unknown, where: string): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new AuthSessionError('INVALID_OPTIONS', `${where}: "signal" must be an AbortSignal`);
  }
}

/**
 * An existing record may be recorded again, or receive an imported state, only by its own auth.
 *
 * @example
 * ```ts
 * assertSameAuth(existing, auth);
 * ```
 */
export function assertSameAuth(existing: SessionRecord, auth: AuthDefinition): void {
  if (existing.auth !== auth.name || existing.type !== auth.type) {
    throw new AuthSessionError(
      'SESSION_EXISTS',
      `A session with id "${existing.id}" exists already for auth "${existing.auth}" (${existing.type}); pick another id`,
      { sessionId: existing.id },
    );
  }
}

/**
 * The credentials checked against the auth's schema (any Standard Schema v1 validator): its output value,
 * defaults applied.
 *
 * @throws AuthSessionError `INVALID_CREDENTIALS` naming the fields at fault, never their values.
 */
export async function parseCredentials(
  auth: CredentialsAuthDefinition,
  value: unknown,
  sessionId?: string,
): Promise<unknown> {
  try {
    assertOrdinaryKeys(value, 'The credentials');
  } catch (err) {
    const message = (err as Error).message;
    throw new AuthSessionError('INVALID_CREDENTIALS', message, sessionId === undefined ? {} : { sessionId });
  }
  const checked = await validateWithSchema(auth.credentials, value);
  if (!checked.ok) {
    throw new AuthSessionError(
      'INVALID_CREDENTIALS',
      `The credentials do not match the schema of "${auth.name}": check ${checked.paths}`,
      sessionId === undefined ? {} : { sessionId },
    );
  }
  return checked.value;
}

/**
 * The fields an `update` (or `record`/`importState` over an existing session) sets, validated, with the proxy
 * sealed: labels and device replaced as given, the proxy replaced (`null` removes it).
 *
 * @example
 * ```ts
 * await lifecycle.commit(id, editFields(id, editedFields(options, codec, id)));
 * ```
 */
export function editedFields(
  options: { readonly labels?: unknown; readonly device?: unknown; readonly proxy?: ProxyInput | null },
  codec: Pick<SessionCodec, 'seal'>,
  id: string,
): EditedFields {
  const fields: { -readonly [K in keyof EditedFields]: EditedFields[K] } = {};
  if (options.labels !== undefined) fields.labels = parseSessionLabels(options.labels);
  if (options.device !== undefined) fields.device = parseSessionDevice(options.device as DeviceProfile);
  if (options.proxy === null) fields.proxy = null;
  else if (options.proxy !== undefined) {
    const settings = parseProxy(options.proxy);
    fields.proxy = { clear: { server: settings.server }, sealed: codec.seal(id, 'proxy', settings) };
  }
  return fields;
}
