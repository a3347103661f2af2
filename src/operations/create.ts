import type { DeviceProfile } from '../browser/provider.js';
import {
  type AuthOptions,
  type CredentialsAuthDefinition,
  resolveAuthOptions,
  validateAuthOptions,
} from '../define.js';
import { chooseDevice } from '../device.js';
import { AuthSessionError } from '../errors.js';
import type { InputHandler, Lifecycle } from '../lifecycle/engine.js';
import { logIn } from '../lifecycle/log-in.js';
import { runLogin } from '../lifecycle/login.js';
import { type ProxyInput, parseProxy } from '../proxy.js';
import { beginLogin } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import { assertSessionId, parseCredentials, parseSessionLabels } from '../session-options.js';

/** What `create` takes; `C` is the input type of the auth's credentials schema. */
export interface CreateSessionOptions<C = unknown> extends AuthOptions {
  /** The user's credentials, validated by the auth's schema. */
  readonly credentials: C;
  /** Session id. @default a random UUID */
  readonly id?: string;
  /** Free-form labels for finding sessions again, e.g. `{ customer: 'acme' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Proxy every context of the session goes through. */
  readonly proxy?: ProxyInput;
  /** Device profile (merged over the auth's). */
  readonly device?: DeviceProfile;
  /** Answers `requestInput` of the `create` hook in this call. */
  readonly onInput?: InputHandler;
  /** Aborts the creation (nothing is left behind). */
  readonly signal?: AbortSignal;
}

/**
 * `manager.create`: a new credentials session (or a new login over a `failed` one with the same id), logged
 * in through the login transaction. A failed login leaves the session `failed` with the reason; an aborted
 * one leaves nothing (or the failed session as it was).
 */
export async function createSession(
  lifecycle: Lifecycle,
  auth: CredentialsAuthDefinition,
  options: CreateSessionOptions,
): Promise<AuthSessionInfo> {
  const d = lifecycle.deps;
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'create(auth, options): options must be an object with "credentials"',
    );
  }
  validateAuthOptions(options, 'create');
  const credentials = await parseCredentials(auth, options.credentials);
  const id = options.id ?? d.newId();
  assertSessionId(id);
  const labels = parseSessionLabels(options.labels);
  const proxy = options.proxy === undefined ? undefined : parseProxy(options.proxy);
  // Generated once (seeded by the id) under the auth's and the caller's fields; the login context uses it.
  const device = await chooseDevice(id, d.browser(), auth.device, options.device);
  const codec = await d.codec();
  const opts = resolveAuthOptions(auth, options);
  const now = lifecycle.iso();
  const fresh: SessionRecord = {
    v: 1,
    id,
    auth: auth.name,
    type: 'credentials',
    state: 'pending',
    revision: 0,
    generation: 0,
    createdAt: now,
    updatedAt: now,
    labels,
    ...(proxy ? { proxy: { server: proxy.server } } : {}),
    ...(device ? { device } : {}),
    sealed: {
      credentials: codec.seal(id, 'credentials', credentials),
      ...(proxy ? { proxy: codec.seal(id, 'proxy', proxy) } : {}),
    },
  };
  const started = d.clock.now();
  const { record } = await runLogin(lifecycle, {
    id,
    begin: (loginId) =>
      beginLogin({
        id,
        loginId,
        fresh,
        replace: true,
        allow: (existing) => {
          if (existing.state !== 'failed') {
            throw new AuthSessionError(
              'SESSION_EXISTS',
              `A session with id "${id}" exists already; use update() to change it`,
              { sessionId: id },
            );
          }
        },
      }),
    perform: async (pending) => ({
      state: await logIn(lifecycle, pending, auth, credentials, 'create', opts, options),
      checkedAt: lifecycle.iso(),
    }),
    onFailure: (before, error) =>
      error.code === 'ABORTED' || error.code === 'CLOSED' ? (before ? 'undo' : 'drop') : 'fail',
    failure: { code: 'CREATE_FAILED', message: `Logging in to "${auth.name}" failed` },
  });
  const info = toInfo(record);
  d.events.emit('created', { session: info, durationMs: d.clock.now() - started });
  return info;
}
