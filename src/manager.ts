import { inspect } from 'node:util';
import type { BrowserProvider } from './browser/provider.js';
import type { BrowserState } from './browser/state.js';
import type {
  AuthOperation,
  ChallengeOperations,
  OperationViewOptions,
  OperationWaitOptions,
  ResumeOptions,
  StartCreateOptions,
  StartUpdateOptions,
} from './challenges/operations.js';
import { type AuthDefinition, validateAuthOptions } from './define.js';
import { AuthSessionError } from './errors.js';
import type { HealthChecks } from './health/checker.js';
import type { HealthCheckOptions } from './health/options.js';
import type { RunOptions, RunTask } from './lifecycle/engine.js';
import { closeManager } from './manager/close.js';
import { type ListFilter, listRecords } from './manager/list.js';
import type { AuthSessionManagerOptions } from './manager/options.js';
import { type ManagerParts, wireManager } from './manager/parts.js';
import { challengeOperations, sessionQueues } from './manager/services.js';
import { assertOpen, createCall, durable, updateCall } from './manager/writes.js';
import { registerManagerInternals } from './manager-internals.js';
import { type AuthDescription, describeAuth } from './monitor/describe-auth.js';
import type { AuthSessionEventName, AuthSessionListener } from './monitor/events.js';
import type { HistoryEntry, HistoryOptions } from './monitor/history.js';
import type { AuthSessionStats, StatsOptions } from './monitor/stats.js';
import type { CreateSessionOptions } from './operations/create.js';
import { deleteSession } from './operations/delete.js';
import {
  type AuthSessionLease,
  type LeaseFilter,
  type LeaseOptions,
  leaseSession,
} from './operations/lease.js';
import { type RotateKeyResult, rotateKey } from './operations/rotate-key.js';
import type { UpdateSessionOptions } from './operations/update.js';
import { assertKnownOptions, CALL_OPTION_NAMES } from './option-names.js';
import type { SessionQueues } from './queue/registry.js';
import type { SessionQueue, SessionQueueOptions } from './queue/session-queue.js';
import { type RecordOptions, recordSession } from './recorder/record.js';
import {
  exportSessionState,
  type ImportStateOptions,
  importSessionState,
} from './recorder/state-transfer.js';
import { type AuthSessionInfo, toInfo } from './session/info.js';
import { assertOperationId, assertSessionId } from './session-options.js';
import type { AuthNameOf, CredentialsAuthNameOf, CredentialsInputOf, RecorderAuthNameOf } from './typed.js';

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
  /** What the manager is made of (src/manager/parts.ts). */
  readonly #m: ManagerParts;
  #closing: Promise<void> | undefined;

  constructor(options: AuthSessionManagerOptions<A>) {
    this.#m = wireManager(options);
    const { codec, store } = this.#m;
    registerManagerInternals(this, { keyring: () => codec.get().then((c) => c.keyring), store });
  }

  /** Names of the auths this manager serves. */
  get authNames(): readonly AuthNameOf<A>[] {
    return this.#m.auths.names() as AuthNameOf<A>[];
  }

  /** The browser provider (the default Chromium one is made on first use). */
  get browser(): BrowserProvider {
    return this.#m.browser.get();
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
    return createCall(this.#m, authName, options);
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
    assertOpen(this.#m);
    assertSessionId(id, 'run(id, task): "id"');
    if (typeof task !== 'function')
      throw new AuthSessionError('INVALID_OPTIONS', 'run(id, task): task must be a function');
    assertKnownOptions(options, CALL_OPTION_NAMES.run, 'run(id, task, options)');
    validateAuthOptions(options, 'run');
    return durable(this.#m, this.#m.lifecycle.run(id, task, options));
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
    return toInfo(await this.#m.store.require(id));
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
    assertOpen(this.#m);
    assertSessionId(id, 'get(id): "id"');
    const record = await this.#m.store.read(id);
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
    assertOpen(this.#m);
    const onSkipped = (id: string, err: AuthSessionError) =>
      this.#m.events.emit('warning', {
        error: { code: err.code, message: `Skipped session "${id}": ${err.message}` },
      });
    for await (const record of listRecords(this.#m.store, filter, onSkipped)) {
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
    return updateCall(this.#m, id, options);
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
    assertOpen(this.#m);
    assertSessionId(id, 'delete(id): "id"');
    return durable(this.#m, deleteSession(this.#m.lifecycle, id));
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
    assertOpen(this.#m);
    return rotateKey(this.#m.lifecycle);
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
    assertOpen(this.#m);
    assertKnownOptions(filter, CALL_OPTION_NAMES.leaseFilter, 'lease(filter)');
    assertKnownOptions(options, CALL_OPTION_NAMES.lease, 'lease(filter, options)');
    return leaseSession(this.#m.lifecycle, filter, options, { run: (id, task, o) => this.run(id, task, o) });
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
    assertOpen(this.#m);
    assertKnownOptions(options, CALL_OPTION_NAMES.record, 'record(auth, options)');
    return durable(this.#m, recordSession(this.#m.lifecycle, authName, options));
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
    assertOpen(this.#m);
    assertSessionId(id, 'exportState(id): "id"');
    return exportSessionState(this.#m.lifecycle, id);
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
    assertOpen(this.#m);
    assertKnownOptions(options, CALL_OPTION_NAMES.importState, 'importState(auth, state, options)');
    return durable(this.#m, importSessionState(this.#m.lifecycle, authName, state, options));
  }

  // @challenge-methods (startCreate, startUpdate, operation, resume, result, cancel: issue "Challenges")

  #challenges: ChallengeOperations | undefined;

  #operations(): ChallengeOperations {
    this.#challenges ??= challengeOperations(this.#m);
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
    assertOpen(this.#m);
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
    assertOpen(this.#m);
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
    assertOpen(this.#m);
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
    assertOpen(this.#m);
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
    assertOpen(this.#m);
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
    assertOpen(this.#m);
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
    assertOpen(this.#m);
    this.#queues ??= sessionQueues(this.#m, {
      run: (id, task, runOptions) => this.run(id, task, runOptions),
      get: (id) => this.get(id),
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
    assertOpen(this.#m);
    return this.#m.health.start(options);
  }

  #withHealth(info: AuthSessionInfo): AuthSessionInfo {
    return this.#m.health.withHealth(info);
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
    assertOpen(this.#m);
    assertSessionId(id, 'history(id): "id"');
    return this.#m.monitor.history(id, options);
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
    assertOpen(this.#m);
    return this.#m.monitor.stats(options);
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
    return this.#m.monitor.flush();
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
    this.#m.events.on(event, listener);
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
    this.#m.events.off(event, listener);
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
    this.#m.events.once(event, listener);
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
    this.#closing ??= closeManager(this.#m);
    return this.#closing;
  }

  /** `await using manager = new AuthSessionManager(…)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Readable in the REPL; never shows keys or secrets. */
  [inspect.custom](): string {
    return `AuthSessionManager { auths: [${this.authNames.map((n) => `'${n}'`).join(', ')}], closed: ${this.#m.close.signal.aborted} }`;
  }

  toJSON(): { auths: readonly string[]; closed: boolean } {
    return { auths: this.authNames, closed: this.#m.close.signal.aborted };
  }

  // ——— internals ———

  #auth(name: string): AuthDefinition {
    return this.#m.auths.get(name);
  }
}
