import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { inspect } from 'node:util';
import type Keyv from 'keyv';
import { ChromiumProvider } from './browser/chromium.js';
import type { BrowserProvider } from './browser/provider.js';
import type { BrowserState } from './browser/state.js';
import {
  type AuthOperation,
  ChallengeOperations,
  type OperationViewOptions,
  type OperationWaitOptions,
  type ResumeOptions,
  type StartCreateOptions,
  type StartUpdateOptions,
} from './challenges/operations.js';
import { totpFactory } from './challenges/totp.js';
import { type Clock, systemClock } from './clock.js';
import { type AuthDefinition, type CredentialsAuthDefinition, validateAuthOptions } from './define.js';
import { AuthSessionError } from './errors.js';
import type { HealthChecks } from './health/checker.js';
import { stateExpiryIso } from './health/expiry.js';
import type { HealthCheckOptions } from './health/options.js';
import type { SessionCodec } from './lifecycle/codec.js';
import { Lifecycle, type RunOptions, type RunTask } from './lifecycle/engine.js';
import { type AuthSessionLock, LocalLock } from './lock/lock.js';
import type { AuthRegistry } from './manager/auths.js';
import { LazyCodec } from './manager/codec.js';
import { ManagerHealth } from './manager/health.js';
import { type ListFilter, listRecords } from './manager/list.js';
import { type AuthSessionManagerOptions, checkManagerOptions } from './manager/options.js';
import { registerManagerInternals } from './manager-internals.js';
import { type AuthDescription, describeAuth } from './monitor/describe-auth.js';
import { type AuthSessionEventName, type AuthSessionListener, EventBus } from './monitor/events.js';
import type { HistoryEntry, HistoryOptions } from './monitor/history.js';
import { Monitor } from './monitor/monitor.js';
import type { AuthSessionStats, StatsOptions } from './monitor/stats.js';
import { type CreateSessionOptions, createSession } from './operations/create.js';
import { deleteSession } from './operations/delete.js';
import {
  type AuthSessionLease,
  type LeaseFilter,
  type LeaseOptions,
  leaseSession,
} from './operations/lease.js';
import { type RotateKeyResult, rotateKey } from './operations/rotate-key.js';
import { type UpdateSessionOptions, updateSession } from './operations/update.js';
import { assertKnownOptions, CALL_OPTION_NAMES } from './option-names.js';
import { SessionQueues } from './queue/registry.js';
import type { SessionQueue, SessionQueueOptions } from './queue/session-queue.js';
import { type RecordOptions, recordSession } from './recorder/record.js';
import {
  exportSessionState,
  type ImportStateOptions,
  importSessionState,
} from './recorder/state-transfer.js';
import { keyringAuthenticator } from './session/authenticity.js';
import { type AuthSessionInfo, toInfo } from './session/info.js';
import { assertOperationId, assertSessionId } from './session-options.js';
import { createDefaultStore, DEFAULT_DATA_DIR } from './store/default-store.js';
import { SessionStore } from './store/session-store.js';
import type { AuthNameOf, CredentialsAuthNameOf, CredentialsInputOf, RecorderAuthNameOf } from './typed.js';
import { Webhooks } from './webhooks/webhooks.js';

export type {
  AuthSessionManagerOptions,
  CreateSessionOptions,
  ListFilter,
  RotateKeyResult,
  UpdateSessionOptions,
};

/**
 * Creates, stores, checks, refreshes and expires auth sessions, and runs tasks with them.
 *
 * Typed from its `auths`: auth names are checked at compile time (`create` and `startCreate` take
 * credentials-based auths, `record` recorder-based ones) and so are credentials (the input type of the
 * auth's schema). `AuthSessionManager` without a type argument is any manager: auth names are `string` and
 * credentials `unknown` (so is a manager given `auths: AuthDefinition[]`), checked at run time only.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths: [crm], key: process.env.AUTH_SESSIONS_KEY });
 * const s = await manager.create('crm', { credentials: { username: 'ann', password: '…' } });
 * const title = await manager.run(s.id, async ({ page }) => { await page.goto('https://crm.example/'); return page.title(); });
 * await manager.close();
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: `AuthSessionManager` without a type argument is the type every typed manager is assignable to.
export class AuthSessionManager<A extends AuthDefinition = any> {
  readonly #auths: AuthRegistry;
  readonly #store: SessionStore;
  readonly #keyv: Keyv;
  readonly #ownsStore: boolean;
  readonly #clock: Clock;
  readonly #events = new EventBus();
  readonly #lock: AuthSessionLock;
  readonly #close = new AbortController();
  readonly #lifecycle: Lifecycle;
  readonly #newId: () => string;
  #browser: BrowserProvider | undefined;
  readonly #ownsBrowser: boolean;
  readonly #codec: LazyCodec;
  #closing: Promise<void> | undefined;
  readonly #monitor: Monitor;
  readonly #health: ManagerHealth;
  /** Webhook delivery, when the `webhooks` option lists endpoints. */
  readonly #webhooks: Webhooks | undefined;

  constructor(options: AuthSessionManagerOptions<A>) {
    const { auths, cacheBytes, webhookEndpoints } = checkManagerOptions(options);
    this.#auths = auths;
    this.#clock = options.clock ?? systemClock;
    // Made (and its options checked) before the store, which it reads lazily for history and stats.
    this.#monitor = new Monitor(options, {
      events: this.#events,
      store: () => this.#store,
      clock: this.#clock,
      closed: this.#close.signal,
    });
    // Every call in flight listens to the close signal; thousands at once are normal.
    setMaxListeners(0, this.#close.signal);
    this.#ownsStore = options.store === undefined;
    this.#keyv = options.store ?? createDefaultStore(options.dataDir ?? DEFAULT_DATA_DIR, options.onNotice);
    this.#store = new SessionStore(this.#keyv, {
      timeoutMs: options.storeTimeoutMs ?? 10_000,
      clock: this.#clock,
      cacheBytes: Math.floor(cacheBytes / 2),
      // Records are signed and checked with the key: what the store holds in clear cannot be edited without it.
      authenticator: () => this.#getCodec().then((codec) => keyringAuthenticator(codec.keyring)),
    });
    this.#codec = new LazyCodec(options, this.#store);
    this.#lock = options.lock ?? new LocalLock({ clock: this.#clock });
    this.#browser = options.browser;
    this.#ownsBrowser = options.browser === undefined;
    this.#newId = options.idGenerator ?? randomUUID;
    this.#lifecycle = new Lifecycle({
      store: this.#store,
      codec: () => this.#getCodec(),
      browser: () => this.#getBrowser(),
      lock: this.#lock,
      clock: this.#clock,
      events: this.#events,
      auth: (name) => this.#auth(name),
      newId: this.#newId,
      totp: totpFactory,
      closed: this.#close.signal,
      lockLeaseMs: options.lockLeaseMs ?? 120_000,
      lockWaitMs: options.lockWaitMs ?? 180_000,
      warmContexts: options.warmContexts,
      expiry: stateExpiryIso,
    });
    this.#health = new ManagerHealth({
      lifecycle: this.#lifecycle,
      store: this.#store,
      lock: this.#lock,
      clock: this.#clock,
      events: this.#events,
      auth: (name) => this.#auth(name),
      history: (id) => this.#monitor.history(id),
      closed: this.#close.signal,
    });
    this.#webhooks =
      webhookEndpoints.length === 0
        ? undefined
        : new Webhooks({
            endpoints: webhookEndpoints,
            store: this.#store.adapter,
            storeTimeoutMs: options.storeTimeoutMs ?? 10_000,
            clock: this.#clock,
            events: this.#events,
            closed: this.#close.signal,
            keyring: () => this.#getCodec().then((codec) => codec.keyring),
          });
    registerManagerInternals(this, {
      keyring: () => this.#getCodec().then((codec) => codec.keyring),
      store: this.#store,
    });
  }

  /** Names of the auths this manager serves. */
  get authNames(): readonly AuthNameOf<A>[] {
    return this.#auths.names() as AuthNameOf<A>[];
  }

  /** The browser provider (the default Chromium one is made on first use). */
  get browser(): BrowserProvider {
    return this.#getBrowser();
  }

  /**
   * Creates a credentials-based session: validates the credentials, logs in with `create`, checks, stores
   * everything sealed and returns the active session. On failure the session is kept as `failed` (fix it
   * with `update`, or `create` again with the same id) and `CREATE_FAILED` (or an infrastructure error) is thrown.
   *
   * @example
   * ```ts
   * const session = await manager.create('crm', {
   *   id: 'acme-crm',
   *   credentials: { username: 'ann', password: process.env.ANN_PASSWORD },
   *   labels: { customer: 'acme' },
   * });
   * session.state; // 'active'
   * ```
   */
  async create<N extends CredentialsAuthNameOf<A>>(
    authName: N,
    options: CreateSessionOptions<CredentialsInputOf<A, N>>,
  ): Promise<AuthSessionInfo> {
    assertKnownOptions(options, CALL_OPTION_NAMES.create, 'create(auth, options)');
    return this.#create(authName, options);
  }

  /**
   * Runs a task with a logged-in session: checks the login first (unless a check is younger than
   * `checkInterval`), refreshes it when needed, saves the browser state afterwards. Throws `SESSION_EXPIRED`
   * (status 401) when the session is expired, without opening a browser.
   *
   * @example
   * ```ts
   * const rows = await manager.run(session.id, async ({ page }) => {
   *   await page.goto('https://crm.example/reports');
   *   return page.locator('table tr').allTextContents();
   * }, { checkInterval: 60_000 });
   * ```
   */
  async run<T>(id: string, task: RunTask<T>, options: RunOptions = {}): Promise<T> {
    this.#assertOpen();
    assertSessionId(id, 'run(id, task): "id"');
    if (typeof task !== 'function')
      throw new AuthSessionError('INVALID_OPTIONS', 'run(id, task): task must be a function');
    assertKnownOptions(options, CALL_OPTION_NAMES.run, 'run(id, task, options)');
    validateAuthOptions(options, 'run');
    return this.#durable(this.#lifecycle.run(id, task, options));
  }

  /**
   * Checks a session now (and refreshes it when needed) without a task; returns the session.
   *
   * @example
   * ```ts
   * const info = await manager.validate('acme-crm'); // throws SESSION_EXPIRED when it could not be renewed
   * info.lastCheckedAt;
   * ```
   */
  async validate(id: string, options: RunOptions = {}): Promise<AuthSessionInfo> {
    assertSessionId(id, 'validate(id): "id"');
    assertKnownOptions(options, CALL_OPTION_NAMES.run, 'validate(id, options)');
    await this.run(id, () => undefined, { forceCheck: true, ...options });
    return toInfo(await this.#store.require(id));
  }

  /**
   * The session, or undefined when there is none. Never secrets.
   *
   * @example
   * ```ts
   * const info = await manager.get('acme-crm');
   * if (info?.state === 'expired') await askTheUserToLogInAgain(info.id);
   * ```
   */
  async get(id: string): Promise<AuthSessionInfo | undefined> {
    this.#assertOpen();
    assertSessionId(id, 'get(id): "id"');
    const record = await this.#store.read(id);
    return record ? this.#withHealth(toInfo(record)) : undefined;
  }

  /**
   * Streams the sessions matching a filter, without loading them all at once. A label, state or auth filter
   * reads only the matching records on the SQLite, Redis and PostgreSQL stores (they keep an index).
   *
   * @example
   * ```ts
   * for await (const session of manager.sessions({ state: 'expired', labels: { customer: 'acme' } })) {
   *   console.log(session.id);
   * }
   * ```
   */
  async *sessions(filter: ListFilter<AuthNameOf<A>> = {}): AsyncGenerator<AuthSessionInfo> {
    this.#assertOpen();
    const onSkipped = (id: string, err: AuthSessionError) =>
      this.#events.emit('warning', {
        error: { code: err.code, message: `Skipped session "${id}": ${err.message}` },
      });
    for await (const record of listRecords(this.#store, filter, onSkipped)) {
      yield this.#withHealth(toInfo(record));
    }
  }

  /**
   * The sessions matching a filter, as an array. For large stores prefer {@link AuthSessionManager.sessions}.
   *
   * @example
   * ```ts
   * const expired = await manager.list({ auth: 'crm', state: 'expired', labels: { customer: 'acme' } });
   * ```
   */
  async list(filter: ListFilter<AuthNameOf<A>> = {}): Promise<AuthSessionInfo[]> {
    const out: AuthSessionInfo[] = [];
    for await (const info of this.sessions(filter)) out.push(info);
    return out;
  }

  /**
   * Changes a session. New credentials log in again (and make an expired or failed session active); if
   * that fails, the session is left exactly as it was and the error is thrown. Labels, proxy and device
   * are replaced as given.
   *
   * @example
   * ```ts
   * await manager.update('acme-crm', { credentials: { username: 'ann', password: newPassword } });
   * await manager.update('acme-crm', { labels: { customer: 'acme', tier: 'gold' }, proxy: null });
   * ```
   */
  async update(id: string, options: UpdateSessionOptions<CredentialsInputOf<A>>): Promise<AuthSessionInfo> {
    assertKnownOptions(options, CALL_OPTION_NAMES.update, 'update(id, options)');
    return this.#update(id, options);
  }

  /**
   * Deletes a session and its secrets. Throws `SESSION_NOT_FOUND` when there is none.
   *
   * @example
   * ```ts
   * await manager.delete('acme-crm');
   * ```
   */
  async delete(id: string): Promise<void> {
    this.#assertOpen();
    assertSessionId(id, 'delete(id): "id"');
    return this.#durable(deleteSession(this.#lifecycle, id));
  }

  /**
   * Re-seals every stored secret with the current key (the first of a keyring), so older keys can be
   * retired. Each record is re-sealed as one change of its latest version: runs and refreshes writing at the
   * same time make it read again, never fail. Records that cannot be opened are left untouched and counted.
   *
   * @example
   * ```ts
   * const manager = new AuthSessionManager({ auths, key: { current: newKey, previous: [oldKey] } });
   * const { resealed, failed } = await manager.rotateKey(); // afterwards `key: newKey` alone opens everything
   * ```
   */
  async rotateKey(): Promise<RotateKeyResult> {
    this.#assertOpen();
    return rotateKey(this.#lifecycle);
  }

  // @lease-methods (lease: issue "Leases over account pools")

  /**
   * Leases one active session matching the filter that no other holder has (in any process sharing the
   * store and the lock: use `RedisLock` or `PostgresAdvisoryLock` across processes), least recently used
   * first. The lease is renewed while held; a holder that dies frees it after `ttlMs`. When all are taken
   * it waits up to `waitMs`, then throws `LEASE_TIMEOUT`. "One account per worker".
   *
   * @example
   * ```ts
   * await using lease = await manager.lease({ auth: 'crm', labels: { pool: 'scrapers' } }, { waitMs: 30_000 });
   * const title = await lease.run(async ({ page }) => page.title());
   * ```
   */
  async lease(
    filter: LeaseFilter<AuthNameOf<A>> = {},
    options: LeaseOptions = {},
  ): Promise<AuthSessionLease> {
    this.#assertOpen();
    assertKnownOptions(filter, CALL_OPTION_NAMES.leaseFilter, 'lease(filter)');
    assertKnownOptions(options, CALL_OPTION_NAMES.lease, 'lease(filter, options)');
    return leaseSession(this.#lifecycle, filter, options, { run: (id, task, o) => this.run(id, task, o) });
  }

  // @recorder-methods (record, exportState, importState: issue "Recorder-based auth sessions")

  /**
   * Records a login performed by a person (recorder-based auths): opens a browser (with a window unless
   * `headless: true`) at the auth's `startUrl`, hands the page to `onPage`, waits until any of its pages
   * reaches `finishUrl`, captures the full state, runs `check` and stores the session as `active`. Never
   * stores credentials. Recording an existing id again keeps its id, labels and waiting work. On failure
   * nothing is left behind (`RECORDER_CLOSED`, `RECORDER_TIMEOUT`, `CREATE_FAILED`, …).
   *
   * @example
   * ```ts
   * const session = await manager.record('portal', { labels: { customer: 'acme' } });
   * ```
   */
  async record(authName: RecorderAuthNameOf<A>, options: RecordOptions = {}): Promise<AuthSessionInfo> {
    this.#assertOpen();
    assertKnownOptions(options, CALL_OPTION_NAMES.record, 'record(auth, options)');
    return this.#durable(recordSession(this.#lifecycle, authName, options));
  }

  /**
   * The session's browser state, decrypted, as Playwright storageState JSON (`{ cookies, origins }`) plus
   * `sessionStorage`. It is a secret that lets anyone act as the user: never log or commit it.
   *
   * @example
   * ```ts
   * await writeFile('state.json', JSON.stringify(await manager.exportState(id)), { mode: 0o600 });
   * ```
   */
  async exportState(id: string): Promise<BrowserState> {
    this.#assertOpen();
    assertSessionId(id, 'exportState(id): "id"');
    return exportSessionState(this.#lifecycle, id);
  }

  /**
   * Stores a browser state made elsewhere (Playwright storageState object or JSON text, e.g. from
   * `playwright codegen --save-storage`) as an `active` session, after validating it and running `check`
   * with it (unless `check: false`). Credentials-based auths need `credentials` for a new session.
   *
   * @example
   * ```ts
   * const session = await manager.importState('portal', await readFile('state.json', 'utf8'));
   * ```
   */
  async importState<N extends AuthNameOf<A>>(
    authName: N,
    state: BrowserState | string,
    options: ImportStateOptions<CredentialsInputOf<A, N>> = {},
  ): Promise<AuthSessionInfo> {
    this.#assertOpen();
    assertKnownOptions(options, CALL_OPTION_NAMES.importState, 'importState(auth, state, options)');
    return this.#durable(importSessionState(this.#lifecycle, authName, state, options));
  }

  // @challenge-methods (startCreate, startUpdate, operation, resume, result, cancel: issue "Challenges")

  #challenges: ChallengeOperations | undefined;

  #operations(): ChallengeOperations {
    this.#challenges ??= new ChallengeOperations({
      store: this.#store,
      clock: this.#clock,
      events: this.#events,
      closed: this.#close.signal,
      codec: () => this.#getCodec(),
      auth: (name) => this.#auth(name),
      newId: this.#newId,
      // Internal options (the operation id) pass through: no check of option names here.
      create: (auth, options) => this.#create(auth, options),
      update: (id, options) => this.#update(id, options),
    });
    return this.#challenges;
  }

  /**
   * Starts creating a session in the background and returns the operation at once. When the login asks for
   * input (a one-time code…), the operation turns `waiting_for_input` with its `request`; answer it with
   * {@link AuthSessionManager.resume} (from this or any process sharing the store and key) and get the
   * session with {@link AuthSessionManager.result}.
   *
   * @example
   * ```ts
   * const op = await manager.startCreate('crm', { credentials });
   * const waiting = await manager.operation(op.id, { wait: true });
   * if (waiting?.status === 'waiting_for_input') await manager.resume(op.id, await askTheUser(waiting.request));
   * const session = await manager.result(op.id);
   * ```
   */
  async startCreate<N extends CredentialsAuthNameOf<A>>(
    authName: N,
    options: StartCreateOptions<CredentialsInputOf<A, N>>,
  ): Promise<AuthOperation> {
    this.#assertOpen();
    assertKnownOptions(options, CALL_OPTION_NAMES.startCreate, 'startCreate(auth, options)');
    return this.#operations().startCreate(authName, options);
  }

  /**
   * Like {@link AuthSessionManager.update} (new credentials log in again), in the background: returns the
   * operation at once. If the login fails or is canceled, the session is left exactly as it was.
   *
   * @example
   * ```ts
   * const op = await manager.startUpdate(id, { credentials: { username: 'ann', password: 'new' } });
   * ```
   */
  async startUpdate(id: string, options: StartUpdateOptions<CredentialsInputOf<A>>): Promise<AuthOperation> {
    this.#assertOpen();
    assertKnownOptions(options, CALL_OPTION_NAMES.startUpdate, 'startUpdate(id, options)');
    assertSessionId(id, 'startUpdate(id, options): "id"');
    return this.#operations().startUpdate(id, options);
  }

  /**
   * The operation as stored now (any process), or undefined when unknown. With `{ wait: true }` it first
   * waits (bounded) while the operation is `running`, until it asks for input or ends.
   *
   * @example
   * ```ts
   * const op = await manager.operation(operationId, { wait: true, timeoutMs: 30_000 });
   * ```
   */
  async operation(operationId: string, options?: OperationViewOptions): Promise<AuthOperation | undefined> {
    this.#assertOpen();
    assertOperationId(operationId, 'operation');
    return this.#operations().operation(operationId, options);
  }

  /**
   * Answers the request an operation waits for. Works from any process sharing the store and the key: the
   * answer travels sealed through the store and is deleted as soon as the login takes it.
   *
   * @example
   * ```ts
   * await manager.resume(operationId, '123456', { requestId: op.request?.id });
   * ```
   */
  async resume(operationId: string, input: string, options?: ResumeOptions): Promise<void> {
    this.#assertOpen();
    assertOperationId(operationId, 'resume');
    return this.#operations().resume(operationId, input, options);
  }

  /**
   * Waits for an operation to end and returns its session, or throws its failure (`INPUT_TIMEOUT`,
   * `CREATE_FAILED`, `ABORTED` when canceled…). Works from any process sharing the store.
   *
   * @example
   * ```ts
   * const session = await manager.result(operationId, { timeoutMs: 10 * 60_000 });
   * ```
   */
  async result(operationId: string, options?: OperationWaitOptions): Promise<AuthSessionInfo> {
    this.#assertOpen();
    assertOperationId(operationId, 'result');
    return this.#operations().result(operationId, options);
  }

  /**
   * Cancels an operation (from any process): the login stops, its browser context is closed, a session
   * being created is deleted and one being updated is restored. Resolves with the operation once stopped.
   *
   * @example
   * ```ts
   * const op = await manager.cancel(operationId); // op.status === 'canceled'
   * ```
   */
  async cancel(operationId: string, options?: OperationWaitOptions): Promise<AuthOperation> {
    this.#assertOpen();
    assertOperationId(operationId, 'cancel');
    return this.#operations().cancel(operationId, options);
  }

  // @queue-methods (queue: issue "Jobs and queues")
  #queues: SessionQueues | undefined;

  /**
   * The task queue of a session: tasks run through `run` with per-session `concurrency` (default 1). When
   * the session expires the queue pauses and keeps every unfinished task; when it is active again it goes
   * on by itself. One queue per session id: a later call returns the same queue, with any options given
   * applied to it. See {@link SessionQueue}.
   *
   * @example
   * ```ts
   * const queue = manager.queue(session.id, { concurrency: 2 });
   * const title = await queue.add(async ({ page }) => { await page.goto(url); return page.title(); });
   * ```
   */
  queue(sessionId: string, options?: SessionQueueOptions): SessionQueue {
    this.#assertOpen();
    this.#queues ??= new SessionQueues({
      run: (id, task, runOptions) => this.run(id, task, runOptions),
      get: (id) => this.get(id),
      events: this.#events,
      clock: this.#clock,
      closed: this.#close.signal,
    });
    return this.#queues.get(sessionId, options);
  }

  // @health-methods (startHealthChecks: issue "Sessions that stay logged in by themselves")

  /**
   * Keeps sessions healthy in the background: validates each active session (of `auth`, with `labels`) every
   * `every` ms, at most `concurrency` at once, each by one process per round across processes sharing the
   * store and lock; refreshes a credentials session ahead of its lapse (`refreshAhead`); announces a
   * recorder session's coming lapse (`expiring` event). Emits `health:round` after each round. Stopped by
   * `stop()`, by `signal` and by `close()`. See the health guide (docs/health.md).
   *
   * @example
   * ```ts
   * const health = manager.startHealthChecks({ every: 5 * 60_000, refreshAhead: 10 * 60_000, concurrency: 2 });
   * manager.on('health:round', (r) => console.log(`checked ${r.checked}, refreshed ${r.refreshed}`));
   * await health.stop();
   * ```
   */
  startHealthChecks(options: HealthCheckOptions<AuthNameOf<A>>): HealthChecks {
    this.#assertOpen();
    return this.#health.start(options);
  }

  #withHealth(info: AuthSessionInfo): AuthSessionInfo {
    return this.#health.withHealth(info);
  }

  // @monitor-methods (history, stats: issue "Monitoring and management")

  /**
   * The session's recent history, oldest first: creations, checks, refreshes, runs, expiry, updates… with
   * outcome, duration and error code (the last `historySize` entries, default 50). Kept in the store, so
   * every process sharing it sees it; entries are written in the background, a fraction of a second after
   * they happen. `[]` for an unknown session.
   *
   * @example
   * ```ts
   * for (const e of await manager.history(id, { limit: 10 })) console.log(e.at, e.kind, e.outcome, e.error?.code);
   * ```
   */
  async history(id: string, options: HistoryOptions = {}): Promise<HistoryEntry[]> {
    this.#assertOpen();
    assertSessionId(id, 'history(id): "id"');
    return this.#monitor.history(id, options);
  }

  /**
   * Sessions in the store by state (one streaming pass; skip it with `{ sessions: false }`), and what this
   * manager did since it started: runs, checks, refreshes, creations, failures, with p50/p95 durations.
   *
   * @example
   * ```ts
   * const { sessions, runs, refreshes } = await manager.stats();
   * console.log(sessions?.byState.expired, runs.durationMs.p95, refreshes.failed);
   * ```
   */
  async stats(options: StatsOptions = {}): Promise<AuthSessionStats> {
    this.#assertOpen();
    return this.#monitor.stats(options);
  }

  /**
   * Writes the history entries buffered so far to the store and resolves when they are there (a short-lived
   * process, like a CLI, calls it before `close()`).
   *
   * @example
   * ```ts
   * await manager.validate(id);
   * await manager.flushHistory();
   * await manager.close();
   * ```
   */
  flushHistory(): Promise<void> {
    return this.#monitor.flush();
  }

  /**
   * What an auth is (name, type, credential fields or start URL), without its hooks: for prompts and tools.
   * Throws `UNKNOWN_AUTH` for a name this manager does not serve.
   *
   * @example
   * ```ts
   * manager.describeAuth('crm').credentialFields?.map((f) => f.name); // ['username', 'password']
   * ```
   */
  describeAuth(name: AuthNameOf<A>): AuthDescription {
    return describeAuth(this.#auth(name));
  }

  /**
   * Listens to an event.
   *
   * @example
   * ```ts
   * manager.on('expired', (e) => console.warn(`session ${e.session.id} expired: ${e.reason.code}`));
   * ```
   */
  on<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }

  /**
   * Stops listening.
   *
   * @example
   * ```ts
   * const onExpired = (e: { session: { id: string } }) => console.warn(e.session.id);
   * manager.on('expired', onExpired);
   * manager.off('expired', onExpired);
   * ```
   */
  off<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  /**
   * Listens to one occurrence of an event.
   *
   * @example
   * ```ts
   * manager.once('refreshed', (e) => console.log(`refreshed in ${e.durationMs} ms`));
   * ```
   */
  once<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): this {
    this.#events.once(event, listener);
    return this;
  }

  /**
   * Aborts work in flight, closes what the manager created (the default browser and store) and stops
   * listening. A browser, store or lock passed in stays open: it belongs to the caller. Idempotent.
   *
   * @example
   * ```ts
   * await using manager = new AuthSessionManager({ auths }); // closed when the scope ends
   * // or, by hand:
   * await manager.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#close.abort(new AuthSessionError('CLOSED', 'The manager was closed'));
      await this.#health.stopAll();
      // History is written in the background; what is buffered goes out before the store is let go.
      // Events already emitted go into the outbox; delivery stops (undelivered entries stay for later).
      await this.#webhooks?.close().catch(() => {});
      await this.#monitor.flush().catch(() => {});
      this.#store.detach();
      const tasks: Promise<unknown>[] = [this.#lifecycle.closeWarmContexts()];
      if (this.#ownsBrowser && this.#browser) tasks.push(this.#browser.close());
      if (this.#ownsStore) tasks.push(this.#keyv.disconnect());
      await Promise.allSettled(tasks);
      this.#codec.destroy();
      this.#events.removeAll();
    })();
    return this.#closing;
  }

  /** `await using manager = new AuthSessionManager(…)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Readable in the REPL; never shows keys or secrets. */
  [inspect.custom](): string {
    return `AuthSessionManager { auths: [${this.authNames.map((n) => `'${n}'`).join(', ')}], closed: ${this.#close.signal.aborted} }`;
  }

  toJSON(): { auths: readonly string[]; closed: boolean } {
    return { auths: this.authNames, closed: this.#close.signal.aborted };
  }

  // ——— internals ———

  #create(authName: string, options: CreateSessionOptions): Promise<AuthSessionInfo> {
    this.#assertOpen();
    return this.#durable(createSession(this.#lifecycle, this.#credentialsAuth(authName), options));
  }

  #update(id: string, options: UpdateSessionOptions): Promise<AuthSessionInfo> {
    this.#assertOpen();
    assertSessionId(id, 'update(id, options): "id"');
    return this.#durable(updateSession(this.#lifecycle, id, options));
  }

  /**
   * `work`, settled only once the webhook events it caused are in the outbox (a crash after the call
   * returns loses none of them).
   */
  #durable<T>(work: Promise<T>): Promise<T> {
    const webhooks = this.#webhooks;
    return webhooks === undefined ? work : work.finally(() => webhooks.settled());
  }

  #assertOpen(): void {
    if (this.#close.signal.aborted) throw new AuthSessionError('CLOSED', 'The manager was closed');
  }

  #auth(name: string): AuthDefinition {
    return this.#auths.get(name);
  }

  #credentialsAuth(name: string): CredentialsAuthDefinition {
    return this.#auths.credentials(name);
  }

  #getBrowser(): BrowserProvider {
    this.#browser ??= new ChromiumProvider();
    return this.#browser;
  }

  #getCodec(): Promise<SessionCodec> {
    return this.#codec.get();
  }
}
