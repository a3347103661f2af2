import type Keyv from 'keyv';
import type { BrowserProvider } from '../browser/provider.js';
import type { WarmContextsInput } from '../browser/warm-pool.js';
import type { Clock } from '../clock.js';
import type { AuthDefinition } from '../define.js';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import type { AuthSessionLock } from '../lock/lock.js';
import type { MonitorOptions } from '../monitor/monitor.js';
import { assertKnownOptions, MANAGER_OPTION_NAMES } from '../option-names.js';
import type { KeyInput } from '../vault/key-source.js';
import { type ResolvedEndpoint, resolveWebhooks, type WebhookEndpoint } from '../webhooks/options.js';
import { AuthRegistry } from './auths.js';

/** Default of `cacheBytes`: 64 MiB. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Options of {@link AuthSessionManager}. `A` is the union of the auth definitions, inferred from `auths`.
 */
export interface AuthSessionManagerOptions<A extends AuthDefinition = AuthDefinition> extends MonitorOptions {
  /**
   * The auth definitions this manager serves (from `defineAuth`). Their names, types and credential schemas
   * type the manager's methods: `create('crm', { credentials })` only compiles for a credentials-based auth
   * named `'crm'`, with credentials of its schema's input type.
   */
  readonly auths: readonly A[];
  /**
   * Where sessions are stored: any Keyv instance (memory, SQLite, Redis, Postgres…).
   * @default a SQLite file `<dataDir>/sessions.sqlite`
   */
  readonly store?: Keyv;
  /**
   * The encryption key: base64 of 32 random bytes, `{ passphrase }`, `{ keyFile }` or a keyring
   * `{ current, previous }`.
   * @default env `AUTH_SESSIONS_KEY`, else a key file `<dataDir>/key` created with mode 0600
   */
  readonly key?: KeyInput;
  /**
   * Where browser contexts come from.
   * @default a `ChromiumProvider` launched on first use (closed by `close()`)
   */
  readonly browser?: BrowserProvider;
  /**
   * Mutual exclusion for refreshes; use `RedisLock` from `auth-sessions/redis` across processes.
   * @default an in-process `LocalLock`
   */
  readonly lock?: AuthSessionLock;
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /**
   * Folder of the embedded defaults (SQLite file, key file).
   * @default './.auth-sessions'
   */
  readonly dataDir?: string;
  /**
   * Milliseconds one storage call may take before `STORAGE_UNAVAILABLE`.
   * @default 10000
   */
  readonly storeTimeoutMs?: number;
  /**
   * Lease of the refresh lock, in milliseconds (a holder that dies frees it after this).
   * @default 120000
   */
  readonly lockLeaseMs?: number;
  /**
   * Milliseconds a refresh waits for the lock before `LOCK_TIMEOUT`; `Infinity` waits as long as it takes
   * (the caller's `signal` still aborts the wait).
   * @default 180000
   */
  readonly lockWaitMs?: number;
  /**
   * Approximate bytes of memory the caches of decoded records and opened browser states may hold together
   * (half each; a cache also holds at most 1,000 sessions). 0 turns them off.
   * @default 67108864 (64 MiB)
   */
  readonly cacheBytes?: number;
  /** Makes session ids. @default crypto.randomUUID */
  readonly idGenerator?: () => string;
  /** Where one-time notices go (e.g. "created a key file"). @default process.emitWarning */
  readonly onNotice?: (message: string) => void;
  /**
   * Keep a logged-in browser context open per active session between runs, and the run's page for the next
   * run (cleaned: see docs/performance.md): `true` for the defaults (`{ max: 4, idleMs: 30000,
   * pagesPerContext: 4, reusePages: true }`), a number for `max`, options, or `false` for a fresh context per
   * run. Together with `checkInterval` this is the main performance lever. Warm contexts are closed when
   * idle, when their session changes (refresh, update, expiry, deletion), when a browser slot is wanted, when
   * a task changed them in a way that cannot be undone, and by `close()`.
   * @default true (warm contexts, pages reused)
   */
  readonly warmContexts?: WarmContextsInput;
  /**
   * HTTP endpoints that receive session events (`session.created`, `session.expired`,
   * `session.input_required`…), signed per Standard Webhooks and delivered at least once through an outbox in
   * the store: see docs/webhooks.md.
   * @default none
   */
  readonly webhooks?: readonly WebhookEndpoint[];
}

/** What {@link checkManagerOptions} found valid in the manager's options. */
export interface CheckedManagerOptions {
  /** The auths, by name. */
  readonly auths: AuthRegistry;
  /** `cacheBytes`, with its default. */
  readonly cacheBytes: number;
  /** The `webhooks` endpoints, checked. */
  readonly webhookEndpoints: ResolvedEndpoint[];
}

/**
 * Checks the options of `new AuthSessionManager(options)` that the manager reads itself (the monitor checks
 * its own), in the order they are reported: throws `INVALID_OPTIONS` on the first one wrong.
 */
export function checkManagerOptions<A extends AuthDefinition>(
  options: AuthSessionManagerOptions<A>,
): CheckedManagerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'new AuthSessionManager(options): options must be an object with "auths"',
    );
  }
  assertKnownOptions(options, MANAGER_OPTION_NAMES, 'new AuthSessionManager(options)');
  const auths = new AuthRegistry(options.auths);
  for (const key of ['storeTimeoutMs', 'lockLeaseMs', 'lockWaitMs'] as const) {
    durationOption(options[key], `"${key}"`, { infinity: key === 'lockWaitMs' });
  }
  const { cacheBytes = DEFAULT_CACHE_BYTES } = options;
  if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
    throw new AuthSessionError('INVALID_OPTIONS', '"cacheBytes" must be a whole number of bytes, 0 or more');
  }
  const webhookEndpoints = resolveWebhooks(options.webhooks);
  return { auths, cacheBytes, webhookEndpoints };
}
