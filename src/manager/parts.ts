import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type Keyv from 'keyv';
import { totpFactory } from '../challenges/totp.js';
import { type Clock, systemClock } from '../clock.js';
import type { AuthDefinition } from '../define.js';
import { stateExpiryIso } from '../health/expiry.js';
import { Lifecycle } from '../lifecycle/engine.js';
import { type AuthSessionLock, LocalLock } from '../lock/lock.js';
import { EventBus } from '../monitor/events.js';
import { Monitor } from '../monitor/monitor.js';
import { keyringAuthenticator } from '../session/authenticity.js';
import { createDefaultStore, DEFAULT_DATA_DIR } from '../store/default-store.js';
import { SessionStore } from '../store/session-store.js';
import { Webhooks } from '../webhooks/webhooks.js';
import type { AuthRegistry } from './auths.js';
import { LazyBrowser } from './browser.js';
import { LazyCodec } from './codec.js';
import { ManagerHealth } from './health.js';
import { type AuthSessionManagerOptions, checkManagerOptions } from './options.js';

/** What a manager is made of, wired together from its options by {@link wireManager}. */
export interface ManagerParts {
  readonly auths: AuthRegistry;
  readonly store: SessionStore;
  /** The Keyv instance under `store`. */
  readonly keyv: Keyv;
  /** True when the manager made the store (and so disconnects it). */
  readonly ownsStore: boolean;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly lock: AuthSessionLock;
  /** Aborted by `close()`: every call in flight listens to it. */
  readonly close: AbortController;
  readonly lifecycle: Lifecycle;
  readonly newId: () => string;
  readonly browser: LazyBrowser;
  readonly codec: LazyCodec;
  readonly monitor: Monitor;
  readonly health: ManagerHealth;
  /** Webhook delivery, when the `webhooks` option lists endpoints. */
  readonly webhooks: Webhooks | undefined;
}

/**
 * Checks the options of `new AuthSessionManager(options)` and makes what the manager is made of, in this
 * order: the checks, the monitor (which checks its own options), the store, the codec, the lock, the
 * lifecycle, the health checks and the webhooks. The store, browser and key are used lazily.
 */
export function wireManager<A extends AuthDefinition>(options: AuthSessionManagerOptions<A>): ManagerParts {
  const { auths, cacheBytes, webhookEndpoints } = checkManagerOptions(options);
  const clock = options.clock ?? systemClock;
  const events = new EventBus();
  const close = new AbortController();
  // Made (and its options checked) before the store, which it reads lazily for history and stats.
  const monitor = new Monitor(options, {
    events,
    store: () => store,
    clock,
    closed: close.signal,
  });
  // Every call in flight listens to the close signal; thousands at once are normal.
  setMaxListeners(0, close.signal);
  const ownsStore = options.store === undefined;
  const keyv = options.store ?? createDefaultStore(options.dataDir ?? DEFAULT_DATA_DIR, options.onNotice);
  const store: SessionStore = new SessionStore(keyv, {
    timeoutMs: options.storeTimeoutMs ?? 10_000,
    clock,
    cacheBytes: Math.floor(cacheBytes / 2),
    // Records are signed and checked with the key: what the store holds in clear cannot be edited without it.
    authenticator: () => codec.get().then((c) => keyringAuthenticator(c.keyring)),
  });
  const codec = new LazyCodec(options, store);
  const lock = options.lock ?? new LocalLock({ clock });
  const browser = new LazyBrowser(options.browser);
  const newId = options.idGenerator ?? randomUUID;
  const auth = (name: string) => auths.get(name);
  const lifecycle = new Lifecycle({
    store,
    codec: () => codec.get(),
    browser: () => browser.get(),
    lock,
    clock,
    events,
    auth,
    newId,
    totp: totpFactory,
    closed: close.signal,
    lockLeaseMs: options.lockLeaseMs ?? 120_000,
    lockWaitMs: options.lockWaitMs ?? 180_000,
    warmContexts: options.warmContexts,
    expiry: stateExpiryIso,
  });
  const health = new ManagerHealth({
    lifecycle,
    store,
    lock,
    clock,
    events,
    auth,
    history: (id) => monitor.history(id),
    closed: close.signal,
  });
  const webhooks =
    webhookEndpoints.length === 0
      ? undefined
      : new Webhooks({
          endpoints: webhookEndpoints,
          store: store.adapter,
          storeTimeoutMs: options.storeTimeoutMs ?? 10_000,
          clock,
          events,
          closed: close.signal,
          keyring: () => codec.get().then((c) => c.keyring),
        });
  return {
    auths,
    store,
    keyv,
    ownsStore,
    clock,
    events,
    lock,
    close,
    lifecycle,
    newId,
    browser,
    codec,
    monitor,
    health,
    webhooks,
  };
}
