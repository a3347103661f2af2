import type { StartCreateOptions, StartUpdateOptions } from './challenges/operations.js';
import type { AuthOptions, CredentialsAuthDefinition, RecorderAuthDefinition } from './define.js';
import { AuthSessionError } from './errors.js';
import type { HealthCheckOptions } from './health/options.js';
import { quoteShort } from './input-limits.js';
import type { RunOptions } from './lifecycle/engine.js';
import type { AuthSessionManagerOptions, ListFilter } from './manager.js';
import type { CreateSessionOptions } from './operations/create.js';
import type { LeaseFilter, LeaseOptions } from './operations/lease.js';
import type { UpdateSessionOptions } from './operations/update.js';
import type { RecordOptions } from './recorder/record.js';
import type { ImportStateOptions } from './recorder/state-transfer.js';
import { closest, didYouMean } from './suggest.js';
import type { WebhookEndpoint } from './webhooks/options.js';

// The option names each call knows, so a misspelt one (`checkIntervall`) is refused with a suggestion
// instead of being ignored. Each list is written as an object with every key of its interface: adding an
// option to an interface without adding it here is a compile error.

type Names<T> = { readonly [K in keyof Required<T>]: true };

function names<T>(all: Names<T>): readonly string[] {
  return Object.freeze(Object.keys(all));
}

const AUTH: Names<AuthOptions> = {
  checkAttempts: true,
  createAttempts: true,
  checkTimeout: true,
  createTimeout: true,
  checkInterval: true,
  retryDelay: true,
  inputTimeout: true,
};

/** Options of `defineAuth`, by type of auth. */
export const DEFINITION_OPTION_NAMES = {
  credentials: names<CredentialsAuthDefinition>({
    ...AUTH,
    name: true,
    type: true,
    check: true,
    device: true,
    isAuthError: true,
    expiresAt: true,
    authCookies: true,
    credentials: true,
    create: true,
    refresh: true,
  }),
  recorder: names<RecorderAuthDefinition>({
    ...AUTH,
    name: true,
    type: true,
    check: true,
    device: true,
    isAuthError: true,
    expiresAt: true,
    authCookies: true,
    startUrl: true,
    finishUrl: true,
  }),
} as const;

/** Options of `new AuthSessionManager(options)`. */
export const MANAGER_OPTION_NAMES = names<AuthSessionManagerOptions>({
  auths: true,
  store: true,
  key: true,
  browser: true,
  lock: true,
  clock: true,
  dataDir: true,
  storeTimeoutMs: true,
  lockLeaseMs: true,
  lockWaitMs: true,
  cacheBytes: true,
  idGenerator: true,
  onNotice: true,
  warmContexts: true,
  logger: true,
  historySize: true,
  telemetry: true,
  webhooks: true,
});

/** Options of one endpoint of the manager option `webhooks`. */
export const WEBHOOK_OPTION_NAMES = names<WebhookEndpoint>({
  url: true,
  secret: true,
  events: true,
  timeoutMs: true,
  retryWindowMs: true,
});

const PLACEMENT = {
  id: true,
  labels: true,
  proxy: true,
  device: true,
  checkAttempts: true,
  checkTimeout: true,
  retryDelay: true,
} as const;

/** Options of each manager call that takes an options object. */
export const CALL_OPTION_NAMES = {
  create: names<CreateSessionOptions>({
    ...AUTH,
    credentials: true,
    id: true,
    labels: true,
    proxy: true,
    device: true,
    onInput: true,
    signal: true,
  }),
  run: names<RunOptions>({ ...AUTH, signal: true, forceCheck: true, isAuthError: true }),
  update: names<UpdateSessionOptions>({
    ...AUTH,
    credentials: true,
    labels: true,
    proxy: true,
    device: true,
    onInput: true,
    signal: true,
  }),
  record: names<RecordOptions>({
    ...PLACEMENT,
    timeoutMs: true,
    headless: true,
    onPage: true,
    reuseState: true,
    signal: true,
  }),
  importState: names<ImportStateOptions>({ ...PLACEMENT, credentials: true, check: true, signal: true }),
  startCreate: names<StartCreateOptions>({
    ...AUTH,
    credentials: true,
    id: true,
    labels: true,
    proxy: true,
    device: true,
    pollInterval: true,
  }),
  startUpdate: names<StartUpdateOptions>({
    ...AUTH,
    credentials: true,
    labels: true,
    proxy: true,
    device: true,
    pollInterval: true,
  }),
  list: names<ListFilter>({ auth: true, state: true, labels: true, limit: true, after: true }),
  leaseFilter: names<LeaseFilter>({ auth: true, labels: true }),
  lease: names<LeaseOptions>({ ttlMs: true, waitMs: true, signal: true }),
} as const;

/** Options of `manager.startHealthChecks(options)`. */
export const HEALTH_OPTION_NAMES = names<HealthCheckOptions>({
  every: true,
  refreshAhead: true,
  concurrency: true,
  auth: true,
  labels: true,
  signal: true,
  jitter: true,
});

/**
 * Throws `INVALID_OPTIONS` when `options` has a property no option of `where` is called, naming the closest
 * known one ("did you mean checkInterval?"). Anything that is not a plain object is left to the caller's own
 * checks.
 */
export function assertKnownOptions(options: unknown, known: readonly string[], where: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `${where}: unknown option ${quoteShort(key)}.${didYouMean(closest(key, known))} Known options: ${known.join(', ')}`,
    );
  }
}
