import type { DeviceProfile } from '../browser/provider.js';
import { type AuthOptions, resolveAuthOptions, validateAuthOptions } from '../define.js';
import { AuthSessionError } from '../errors.js';
import type { InputHandler, Lifecycle } from '../lifecycle/engine.js';
import { logIn } from '../lifecycle/log-in.js';
import { runLogin } from '../lifecycle/login.js';
import type { ProxyInput } from '../proxy.js';
import { beginLogin, editFields } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import { editedFields, parseCredentials } from '../session-options.js';

/**
 * What `update` takes: every field optional. New credentials log in again. `C` is the input type of the
 * credentials schema.
 */
export interface UpdateSessionOptions<C = unknown> extends AuthOptions {
  /** New credentials: the session logs in again with them and becomes active. */
  readonly credentials?: C;
  /** Replaces the labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Replaces the proxy (`null` removes it). */
  readonly proxy?: ProxyInput | null;
  /** Replaces the device profile. */
  readonly device?: DeviceProfile;
  /** Answers `requestInput` of the login in this call. */
  readonly onInput?: InputHandler;
  readonly signal?: AbortSignal;
}

/**
 * `manager.update`: labels, proxy and device are applied to the latest record (a refresh or run finishing
 * later keeps them). New credentials start a login (the login transaction); if it fails, what it changed
 * goes back, except fields someone else changed meanwhile.
 */
export async function updateSession(
  lifecycle: Lifecycle,
  id: string,
  options: UpdateSessionOptions,
): Promise<AuthSessionInfo> {
  const d = lifecycle.deps;
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError('INVALID_OPTIONS', 'update(id, options): options must be an object');
  }
  validateAuthOptions(options, 'update');
  const current = await d.store.require(id);
  const auth = d.auth(current.auth);
  const codec = await d.codec();
  const fields = editedFields(options, codec, id);
  if (options.credentials === undefined) {
    const { record } = await lifecycle.commit(id, editFields(id, fields));
    const info = toInfo(record as SessionRecord);
    d.events.emit('updated', { session: info });
    return info;
  }
  if (auth.type !== 'credentials') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `Session "${id}" is recorded; it has no credentials (record it again instead)`,
      { sessionId: id },
    );
  }
  const credentials = await parseCredentials(auth, options.credentials);
  const sealedCredentials = codec.seal(id, 'credentials', credentials);
  const opts = resolveAuthOptions(auth, options);
  const started = d.clock.now();
  const { record } = await runLogin(lifecycle, {
    id,
    begin: (loginId) => beginLogin({ id, loginId, fields, credentials: sealedCredentials }),
    perform: async (pending) => ({
      state: await logIn(lifecycle, pending, auth, credentials, 'create', opts, options),
      checkedAt: lifecycle.iso(),
    }),
    onFailure: () => 'undo',
    failure: { code: 'CREATE_FAILED', message: `Logging in to "${auth.name}" failed` },
  });
  const info = toInfo(record);
  d.events.emit('updated', { session: info, durationMs: d.clock.now() - started });
  return info;
}
