import { type BrowserState, browserStateSchema } from '../browser/state.js';
import { assertStateLimits } from '../browser/state-limits.js';
import { type AuthDefinition, resolveAuthOptions, validateAuthOptions } from '../define.js';
import { chooseDevice } from '../device.js';
import { AuthSessionError, issuePaths } from '../errors.js';
import { checkSession } from '../lifecycle/check.js';
import type { SessionCodec } from '../lifecycle/codec.js';
import { anySignal, type Lifecycle } from '../lifecycle/engine.js';
import { parseProxy } from '../proxy.js';
import { editFields, imported } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import { parseJsonSafely, type SessionRecord } from '../session/record.js';
import {
  assertOptionsObject,
  assertSameAuth,
  assertSessionId,
  assertSignal,
  editedFields,
  parseCredentials,
  parseSessionLabels,
  type SessionPlacementOptions,
} from '../session-options.js';
import { claimSession } from './claims.js';

/**
 * Options of `manager.importState(auth, state, options)`.
 *
 * @example
 * ```ts
 * const options: ImportStateOptions = { id: 'acme-portal', labels: { customer: 'acme' } };
 * ```
 */
export interface ImportStateOptions<C = unknown> extends SessionPlacementOptions {
  /**
   * Credentials, for a credentials-based auth: required for a new session (so it can log in again when the
   * imported login ends), optional for an existing one (which keeps its own). Refused for a recorder-based
   * auth: those sessions never hold credentials.
   */
  readonly credentials?: C;
  /**
   * Run the auth's `check` with the imported state before storing it; a state that is not logged in is then
   * refused (`CHECK_FAILED`) and nothing is stored. `false` stores it unchecked: the first run checks it.
   * @default true
   */
  readonly check?: boolean;
  /** Aborts the import (nothing is stored). */
  readonly signal?: AbortSignal;
}

/**
 * Validates a browser state given as an object or as JSON text: Playwright's `storageState` (`{ cookies,
 * origins }`, e.g. a file written by `playwright codegen --save-storage`) plus the optional `sessionStorage`
 * extension. Errors name the place of the problem (`cookies.0.sameSite`), never a value: the state is secret.
 *
 * @throws AuthSessionError `INVALID_OPTIONS` for text that is not JSON (or holds `__proto__`-style keys) and
 *   for a value that does not have the shape.
 * @example
 * ```ts
 * const state = parseBrowserState(await readFile('state.json', 'utf8'));
 * ```
 */
export function parseBrowserState(input: unknown): BrowserState {
  assertStateLimits(input);
  let value = input;
  if (typeof input === 'string') {
    try {
      value = parseJsonSafely(input);
      assertStateLimits(value);
    } catch {
      // The parser's message quotes the text around the error, which may be a cookie value: not passed on.
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'The browser state is not valid JSON (or uses a forbidden key such as "__proto__"); expected Playwright storageState JSON: { "cookies": [...], "origins": [...] }',
      );
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'The browser state must be an object (or its JSON text) like Playwright storageState: { cookies: [...], origins: [...] }',
    );
  }
  const parsed = browserStateSchema.safeParse(value);
  if (!parsed.success) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The browser state does not have the shape of Playwright storageState; check ${issuePaths(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * The browser state of a session, decrypted, as Playwright storageState JSON plus `sessionStorage`: usable as
 * `browser.newContext({ storageState })` (Playwright ignores the extension) or with `importState` elsewhere.
 * A copy: changing it changes nothing stored.
 *
 * The result is a secret (its cookies and tokens let anyone act as the user): never log it, never commit it,
 * and write it only to files only its owner can read.
 *
 * @throws AuthSessionError `SESSION_NOT_FOUND`, `INVALID_STATE` (no state saved yet), `DECRYPT_FAILED`,
 *   `CORRUPT_RECORD`, `STORAGE_UNAVAILABLE`.
 * @example
 * ```ts
 * const state = await exportSessionState(lifecycle, 'acme-portal');
 * await writeFile('state.json', JSON.stringify(state), { mode: 0o600 });
 * ```
 */
export async function exportSessionState(lifecycle: Lifecycle, id: string): Promise<BrowserState> {
  const d = lifecycle.deps;
  if (d.closed.aborted) throw new AuthSessionError('CLOSED', 'The manager was closed');
  if (typeof id !== 'string')
    throw new AuthSessionError('INVALID_OPTIONS', 'exportState(id): id must be a string');
  const record = await d.store.require(id);
  const codec = await d.codec();
  const state = codec.state(record);
  if (state === undefined) {
    throw new AuthSessionError(
      'INVALID_STATE',
      `Session "${id}" has no saved browser state yet (state: ${record.state})`,
      { sessionId: id },
    );
  }
  // The codec caches opened states: hand out a copy so the caller can never change the cached one.
  return structuredClone(state);
}

/**
 * Stores a browser state made elsewhere as a session: validates it ({@link parseBrowserState}), checks it
 * with the auth's `check` in a context opened with it (unless `check: false`), then stores it sealed as an
 * `active` session. Works for both kinds of auth; a credentials-based one needs credentials for a new session.
 * A new session emits `created`, an existing one `updated`. On any failure nothing is stored or changed.
 *
 * @throws AuthSessionError `INVALID_OPTIONS` (bad state or option, naming the place, never a value),
 *   `INVALID_CREDENTIALS`, `CHECK_FAILED` (the state is not logged in), `TARGET_UNREACHABLE`/`PROXY_ERROR`,
 *   `UNKNOWN_AUTH`, `SESSION_EXISTS` (the id belongs to another auth), `STALE_WRITE` (the session changed
 *   meanwhile), `ABORTED`.
 * @example
 * ```ts
 * const session = await importSessionState(lifecycle, 'portal', await readFile('state.json', 'utf8'), { labels: { customer: 'acme' } });
 * ```
 */
export async function importSessionState(
  lifecycle: Lifecycle,
  authName: string,
  input: unknown,
  options: ImportStateOptions = {},
): Promise<AuthSessionInfo> {
  const d = lifecycle.deps;
  if (d.closed.aborted) throw new AuthSessionError('CLOSED', 'The manager was closed');
  assertOptionsObject(options, 'importState(auth, state, options)');
  const auth = d.auth(authName);
  const state = parseBrowserState(input);
  validateImportOptions(options);
  const id = options.id ?? d.newId();
  assertSessionId(id);
  const labels = options.labels === undefined ? undefined : parseSessionLabels(options.labels);
  const proxy = options.proxy == null ? options.proxy : parseProxy(options.proxy);
  let credentials: unknown;
  if (auth.type === 'credentials') {
    if (options.credentials !== undefined) credentials = await parseCredentials(auth, options.credentials);
  } else if (options.credentials !== undefined) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `Auth "${auth.name}" is recorder-based: its sessions never hold credentials; leave "credentials" out`,
    );
  }

  const release = claimSession(lifecycle, id);
  try {
    const started = d.clock.now();
    const codec = await d.codec();
    const existing = await d.store.read(id);
    if (existing) assertSameAuth(existing, auth);
    if (auth.type === 'credentials' && credentials === undefined && !existing?.sealed.credentials) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `importState: auth "${auth.name}" is credentials-based; pass "credentials" so the session can log in again when the imported login ends`,
      );
    }
    const fields = editedFields({ labels, device: options.device, proxy }, codec, id);
    const credentialsBox = credentials === undefined ? undefined : codec.seal(id, 'credentials', credentials);
    // The session as it will be, used for the check's context (proxy, device) before anything is written.
    const now = lifecycle.iso();
    const fresh: SessionRecord = {
      v: 1,
      id,
      auth: auth.name,
      type: auth.type,
      state: 'pending',
      revision: 0,
      generation: 0,
      createdAt: now,
      updatedAt: now,
      labels: fields.labels ?? {},
      ...(fields.proxy ? { proxy: fields.proxy.clear } : {}),
      // As for create: one device for the whole life of the session, chosen now.
      ...(existing ? {} : { device: await chooseDevice(id, d.browser(), auth.device, options.device) }),
      sealed: {
        ...(credentialsBox ? { credentials: credentialsBox } : {}),
        ...(fields.proxy ? { proxy: fields.proxy.sealed } : {}),
      },
    };
    dropUndefined(fresh);
    const preview = existing ? (editFields(id, fields)(existing) as SessionRecord) : fresh;

    let checkedAt: string | undefined;
    if (options.check !== false) {
      await checkImported(lifecycle, preview, auth, codec, state, options);
      checkedAt = lifecycle.iso();
    }
    const { record } = await lifecycle.commit(
      id,
      imported({
        id,
        existed: existing !== undefined,
        fresh,
        fields,
        sealed: {
          state: codec.sealState(id, state),
          ...(credentialsBox ? { credentials: credentialsBox } : {}),
        },
        dropCredentials: auth.type === 'recorder',
        checkedAt,
        expiresAt: lifecycle.expiryOf(preview, state),
      }),
    );
    const info = toInfo(record as SessionRecord);
    if (existing) d.events.emit('updated', { session: info });
    else d.events.emit('created', { session: info, durationMs: d.clock.now() - started });
    return info;
  } finally {
    release();
  }
}

/** Opens a context with the imported state and runs the auth's check; throws `CHECK_FAILED` when it fails. */
async function checkImported(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: AuthDefinition,
  codec: SessionCodec,
  state: BrowserState,
  options: ImportStateOptions,
): Promise<void> {
  const signal = anySignal(options.signal, lifecycle.deps.closed);
  const opts = resolveAuthOptions(auth, options);
  const lease = await lifecycle.openContext(record, codec, state, signal);
  try {
    const page = await lease.newPage();
    const ok = await checkSession(lifecycle, record, auth, lease, page, opts, signal);
    if (!ok) {
      throw new AuthSessionError(
        'CHECK_FAILED',
        `The imported browser state does not pass the check of "${auth.name}" (not logged in?); nothing was stored`,
        { sessionId: record.id },
      );
    }
  } finally {
    await lease.close();
  }
}

function dropUndefined(record: SessionRecord): void {
  for (const key of Object.keys(record) as (keyof SessionRecord)[]) {
    if (record[key] === undefined) delete record[key];
  }
}

function validateImportOptions(options: ImportStateOptions): void {
  validateAuthOptions(options, 'importState');
  if (options.check !== undefined && typeof options.check !== 'boolean') {
    throw new AuthSessionError('INVALID_OPTIONS', 'importState: "check" must be a boolean');
  }
  assertSignal(options.signal, 'importState');
}
