import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { inspect } from 'node:util';
import type Keyv from 'keyv';
import { ChromiumProvider } from './browser/chromium.js';
import type { BrowserProvider, DeviceProfile } from './browser/provider.js';
import { totpFactory } from './challenges/totp.js';
import { type Clock, systemClock } from './clock.js';
import {
  type AuthDefinition,
  type AuthOptions,
  type CredentialsAuthDefinition,
  resolveAuthOptions,
  validateAuthOptions,
} from './define.js';
import { AuthSessionError } from './errors.js';
import { SessionCodec } from './lifecycle/codec.js';
import {
  type InputHandler,
  issuePaths,
  Lifecycle,
  nextRecord,
  type RunOptions,
  type RunTask,
} from './lifecycle/engine.js';
import type { SessionState } from './lifecycle/states.js';
import { type AuthSessionLock, LocalLock } from './lock/lock.js';
import {
  type AuthSessionEventName,
  type AuthSessionListener,
  EventBus,
  summariseError,
} from './monitor/events.js';
import { type ProxyInput, parseProxy } from './proxy.js';
import { type AuthSessionInfo, toInfo } from './session-info.js';
import { createDefaultStore, DEFAULT_DATA_DIR } from './store/default-store.js';
import { deviceSchema, type SessionRecord } from './store/record.js';
import { SessionStore } from './store/session-store.js';
import { type KeyInput, resolveKeyring } from './vault/key-source.js';
import type { Keyring } from './vault/keyring.js';

/** Options of {@link AuthSessionManager}. */
export interface AuthSessionManagerOptions {
  /** The auth definitions this manager serves (from `defineAuth`). */
  readonly auths: readonly AuthDefinition[];
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
   * Milliseconds a refresh waits for the lock before `LOCK_TIMEOUT`.
   * @default 180000
   */
  readonly lockWaitMs?: number;
  /** Makes session ids. @default crypto.randomUUID */
  readonly idGenerator?: () => string;
  /** Where one-time notices go (e.g. "created a key file"). @default process.emitWarning */
  readonly onNotice?: (message: string) => void;
}

/** What `create` takes. */
export interface CreateSessionOptions extends AuthOptions {
  /** The user's credentials, validated by the auth's schema. */
  readonly credentials: unknown;
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

/** What `update` takes: every field optional. New credentials log in again. */
export interface UpdateSessionOptions extends AuthOptions {
  /** New credentials: the session logs in again with them and becomes active. */
  readonly credentials?: unknown;
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

/** A filter for `list`. */
export interface ListFilter {
  /** Only sessions of this auth. */
  readonly auth?: string;
  /** Only sessions in this state (or one of these). */
  readonly state?: SessionState | readonly SessionState[];
  /** Only sessions carrying all of these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** At most this many. */
  readonly limit?: number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Creates, stores, checks, refreshes and expires auth sessions, and runs tasks with them.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths: [crm], key: process.env.AUTH_SESSIONS_KEY });
 * const s = await manager.create('crm', { credentials: { username: 'ann', password: '…' } });
 * const title = await manager.run(s.id, async ({ page }) => { await page.goto('https://crm.example/'); return page.title(); });
 * await manager.close();
 * ```
 */
export class AuthSessionManager {
  readonly #auths = new Map<string, AuthDefinition>();
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
  #codec: Promise<SessionCodec> | undefined;
  #closing: Promise<void> | undefined;
  readonly #options: AuthSessionManagerOptions;

  constructor(options: AuthSessionManagerOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'new AuthSessionManager(options): options must be an object with "auths"',
      );
    }
    this.#options = options;
    if (!Array.isArray(options.auths) || options.auths.length === 0) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        '"auths" must be a non-empty array of defineAuth(...) results',
      );
    }
    for (const auth of options.auths) {
      if (this.#auths.has(auth?.name)) {
        throw new AuthSessionError('INVALID_OPTIONS', `"auths" has two definitions named "${auth.name}"`);
      }
      this.#auths.set(auth.name, auth);
    }
    for (const key of ['storeTimeoutMs', 'lockLeaseMs', 'lockWaitMs'] as const) {
      const v = options[key];
      if (v !== undefined && (typeof v !== 'number' || !(v > 0))) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `"${key}" must be a positive number of milliseconds, got ${v}`,
        );
      }
    }
    this.#clock = options.clock ?? systemClock;
    // Every call in flight listens to the close signal; thousands at once are normal.
    setMaxListeners(0, this.#close.signal);
    this.#ownsStore = options.store === undefined;
    this.#keyv = options.store ?? createDefaultStore(options.dataDir ?? DEFAULT_DATA_DIR);
    this.#store = new SessionStore(this.#keyv, {
      timeoutMs: options.storeTimeoutMs ?? 10_000,
      clock: this.#clock,
    });
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
    });
  }

  /** Names of the auths this manager serves. */
  get authNames(): readonly string[] {
    return [...this.#auths.keys()];
  }

  /** The browser provider (the default Chromium one is made on first use). */
  get browser(): BrowserProvider {
    return this.#getBrowser();
  }

  /**
   * Creates a credentials-based session: validates the credentials, logs in with `create`, checks, stores
   * everything sealed and returns the active session. On failure the session is kept as `failed` (fix it
   * with `update`, or `create` again with the same id) and `CREATE_FAILED` (or an infrastructure error) is thrown.
   */
  async create(authName: string, options: CreateSessionOptions): Promise<AuthSessionInfo> {
    this.#assertOpen();
    const auth = this.#credentialsAuth(authName);
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'create(auth, options): options must be an object with "credentials"',
      );
    }
    validateAuthOptions(options, 'create');
    const credentials = parseCredentials(auth, options.credentials);
    const id = options.id ?? this.#newId();
    assertId(id);
    const labels = parseLabels(options.labels);
    const proxy = options.proxy === undefined ? undefined : parseProxy(options.proxy);
    const device = parseDevice({ ...auth.device, ...options.device });
    const codec = await this.#getCodec();
    const existing = await this.#store.read(id);
    if (existing && existing.state !== 'failed') {
      throw new AuthSessionError(
        'SESSION_EXISTS',
        `A session with id "${id}" exists already; use update() to change it`,
        {
          sessionId: id,
        },
      );
    }
    const now = this.#lifecycle.iso();
    const pending: SessionRecord = {
      v: 1,
      id,
      auth: auth.name,
      type: 'credentials',
      state: 'pending',
      revision: existing ? existing.revision + 1 : 0,
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
    await this.#lifecycle.save(undefined, pending, { revision: existing ? existing.revision : -1 });
    return this.#loginInto(pending, auth, credentials, options, 'created');
  }

  /**
   * Runs a task with a logged-in session: checks the login first (unless a check is younger than
   * `checkInterval`), refreshes it when needed, saves the browser state afterwards. Throws `SESSION_EXPIRED`
   * (status 401) when the session is expired, without opening a browser.
   */
  async run<T>(id: string, task: RunTask<T>, options: RunOptions = {}): Promise<T> {
    this.#assertOpen();
    if (typeof task !== 'function')
      throw new AuthSessionError('INVALID_OPTIONS', 'run(id, task): task must be a function');
    validateAuthOptions(options, 'run');
    return this.#lifecycle.run(id, task, options);
  }

  /** Checks a session now (and refreshes it when needed) without a task; returns the session. */
  async validate(id: string, options: RunOptions = {}): Promise<AuthSessionInfo> {
    await this.run(id, () => undefined, { forceCheck: true, ...options });
    return toInfo(await this.#store.require(id));
  }

  /** The session, or undefined when there is none. Never secrets. */
  async get(id: string): Promise<AuthSessionInfo | undefined> {
    this.#assertOpen();
    if (typeof id !== 'string' || !ID.test(id)) return undefined;
    const record = await this.#store.read(id);
    return record ? toInfo(record) : undefined;
  }

  /** Streams the sessions matching a filter, without loading them all at once. */
  async *sessions(filter: ListFilter = {}): AsyncGenerator<AuthSessionInfo> {
    this.#assertOpen();
    const states = filter.state === undefined ? undefined : new Set<string>([filter.state].flat());
    const labels = Object.entries(filter.labels ?? {});
    let count = 0;
    for await (const record of this.#store.records((id, err) =>
      this.#events.emit('warning', {
        error: { code: err.code, message: `Skipped session "${id}": ${err.message}` },
      }),
    )) {
      if (filter.auth !== undefined && record.auth !== filter.auth) continue;
      if (states && !states.has(record.state)) continue;
      if (labels.some(([k, v]) => record.labels[k] !== v)) continue;
      yield toInfo(record);
      if (filter.limit !== undefined && ++count >= filter.limit) return;
    }
  }

  /** The sessions matching a filter, as an array. For large stores prefer {@link AuthSessionManager.sessions}. */
  async list(filter: ListFilter = {}): Promise<AuthSessionInfo[]> {
    const out: AuthSessionInfo[] = [];
    for await (const info of this.sessions(filter)) out.push(info);
    return out;
  }

  /**
   * Changes a session. New credentials log in again (and make an expired or failed session active); if
   * that fails, the session is left exactly as it was and the error is thrown. Labels, proxy and device
   * are replaced as given.
   */
  async update(id: string, options: UpdateSessionOptions): Promise<AuthSessionInfo> {
    this.#assertOpen();
    if (typeof options !== 'object' || options === null) {
      throw new AuthSessionError('INVALID_OPTIONS', 'update(id, options): options must be an object');
    }
    validateAuthOptions(options, 'update');
    const current = await this.#store.require(id);
    const auth = this.#auth(current.auth);
    const codec = await this.#getCodec();
    const changes: Partial<SessionRecord> = {};
    const sealed = { ...current.sealed };
    if (options.labels !== undefined) changes.labels = parseLabels(options.labels);
    if (options.device !== undefined) changes.device = parseDevice(options.device);
    if (options.proxy !== undefined) {
      if (options.proxy === null) {
        changes.proxy = undefined;
        delete sealed.proxy;
      } else {
        const proxy = parseProxy(options.proxy);
        changes.proxy = { server: proxy.server };
        sealed.proxy = codec.seal(id, 'proxy', proxy);
      }
    }
    if (options.credentials === undefined) {
      const next = nextRecord(current, { ...changes, sealed }, this.#clock.now());
      await this.#lifecycle.save(current, next, { revision: current.revision });
      this.#events.emit('updated', { session: toInfo(next) });
      return toInfo(next);
    }
    if (auth.type !== 'credentials') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `Session "${id}" is recorded; it has no credentials (record it again instead)`,
        {
          sessionId: id,
        },
      );
    }
    const credentials = parseCredentials(auth, options.credentials);
    sealed.credentials = codec.seal(id, 'credentials', credentials);
    const pending = nextRecord(
      current,
      { ...changes, sealed, state: 'pending', failure: undefined },
      this.#clock.now(),
    );
    await this.#lifecycle.save(current, pending, { revision: current.revision });
    return this.#loginInto(pending, auth, credentials, options, 'updated', current);
  }

  /** Deletes a session and its secrets. Throws `SESSION_NOT_FOUND` when there is none. */
  async delete(id: string): Promise<void> {
    this.#assertOpen();
    const current = await this.#store.require(id);
    await this.#store.delete(id);
    (await this.#getCodec()).forget(id);
    this.#events.emit('deleted', { session: toInfo(current) });
  }

  /**
   * Re-seals every stored secret with the current key (the first of a keyring), so older keys can be
   * retired. Records that cannot be opened are left untouched and counted.
   */
  async rotateKey(): Promise<{ resealed: number; current: number; failed: number }> {
    this.#assertOpen();
    const codec = await this.#getCodec();
    const keyring = codec.keyring;
    let resealed = 0;
    let current = 0;
    let failed = 0;
    const ids: string[] = [];
    for await (const record of this.#store.records()) ids.push(record.id);
    for (const id of ids) {
      const record = await this.#store.read(id);
      if (!record) continue;
      const fields = (['credentials', 'state', 'proxy'] as const).filter(
        (f) => record.sealed[f] !== undefined,
      );
      if (fields.every((f) => keyring.isCurrent(record.sealed[f]))) {
        current++;
        continue;
      }
      try {
        const sealed = { ...record.sealed };
        for (const f of fields) sealed[f] = keyring.seal(id, f, keyring.open(id, f, record.sealed[f]));
        await this.#store.write(
          { ...record, sealed, revision: record.revision + 1 },
          { revision: record.revision },
        );
        resealed++;
      } catch (err) {
        if (err instanceof AuthSessionError && err.code === 'STORAGE_UNAVAILABLE') throw err;
        failed++;
      }
    }
    return { resealed, current, failed };
  }

  // @recorder-methods (record, exportState, importState: issue "Recorder-based auth sessions")

  // @challenge-methods (startCreate, startUpdate, operation, resume, result, cancel: issue "Challenges")

  // @queue-methods (queue: issue "Jobs and queues")

  // @monitor-methods (history, stats: issue "Monitoring and management")

  /** Listens to an event. */
  on<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Stops listening. */
  off<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Listens to one occurrence of an event. */
  once<E extends AuthSessionEventName>(event: E, listener: AuthSessionListener<E>): this {
    this.#events.once(event, listener);
    return this;
  }

  /**
   * Aborts work in flight, closes what the manager created (the default browser and store) and stops
   * listening. A browser, store or lock passed in stays open: it belongs to the caller. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#close.abort(new AuthSessionError('CLOSED', 'The manager was closed'));
      this.#store.detach();
      const tasks: Promise<unknown>[] = [];
      if (this.#ownsBrowser && this.#browser) tasks.push(this.#browser.close());
      if (this.#ownsStore) tasks.push(this.#keyv.disconnect());
      await Promise.allSettled(tasks);
      this.#codec?.then(
        (c) => c.keyring.destroy(),
        () => {},
      );
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

  /** Logs a pending record in; on failure restores `previous` (update) or marks it failed (create). */
  async #loginInto(
    pending: SessionRecord,
    auth: CredentialsAuthDefinition,
    credentials: unknown,
    options: { signal?: AbortSignal; onInput?: InputHandler } & AuthOptions,
    event: 'created' | 'updated',
    previous?: SessionRecord,
  ): Promise<AuthSessionInfo> {
    const started = this.#clock.now();
    const opts = resolveAuthOptions(auth, options);
    const codec = await this.#getCodec();
    try {
      const state = await this.#lifecycle.login(pending, auth, credentials, 'create', opts, options);
      const active = nextRecord(
        pending,
        {
          state: 'active',
          generation: pending.generation + 1,
          lastCheckedAt: this.#lifecycle.iso(),
          expiredAt: undefined,
          failure: undefined,
          sealed: { ...pending.sealed, state: codec.sealState(pending.id, state) },
        },
        this.#clock.now(),
      );
      await this.#lifecycle.save(pending, active, { revision: pending.revision });
      const durationMs = this.#clock.now() - started;
      if (event === 'created') this.#events.emit('created', { session: toInfo(active), durationMs });
      else this.#events.emit('updated', { session: toInfo(active) });
      return toInfo(active);
    } catch (err) {
      const error =
        err instanceof AuthSessionError
          ? err
          : new AuthSessionError('CREATE_FAILED', `Logging in to "${auth.name}" failed`, { cause: err });
      const aborted = error.code === 'ABORTED' || error.code === 'CLOSED';
      try {
        if (previous) {
          // Nothing lost: the session goes back to exactly what it was.
          await this.#lifecycle.save(
            pending,
            { ...previous, revision: pending.revision + 1, updatedAt: this.#lifecycle.iso() },
            {
              revision: pending.revision,
            },
          );
        } else if (aborted) {
          await this.#store.delete(pending.id);
        } else {
          const failed = nextRecord(
            pending,
            { state: 'failed', failure: { code: error.code, message: error.message } },
            this.#clock.now(),
          );
          await this.#lifecycle.save(pending, failed, { revision: pending.revision });
          this.#events.emit('failed', {
            session: toInfo(failed),
            error: summariseError(error),
            durationMs: this.#clock.now() - started,
          });
        }
      } catch (saveErr) {
        this.#events.emit('warning', { session: toInfo(pending), error: summariseError(saveErr) });
      }
      throw error;
    }
  }

  #assertOpen(): void {
    if (this.#close.signal.aborted) throw new AuthSessionError('CLOSED', 'The manager was closed');
  }

  #auth(name: string): AuthDefinition {
    const auth = this.#auths.get(name);
    if (!auth) {
      throw new AuthSessionError(
        'UNKNOWN_AUTH',
        `Unknown auth "${name}"; known auths: ${[...this.#auths.keys()].map((n) => `"${n}"`).join(', ')}`,
      );
    }
    return auth;
  }

  #credentialsAuth(name: string): CredentialsAuthDefinition {
    const auth = this.#auth(name);
    if (auth.type !== 'credentials') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `Auth "${name}" is recorder-based: create its sessions with record()`,
      );
    }
    return auth;
  }

  #getBrowser(): BrowserProvider {
    this.#browser ??= new ChromiumProvider();
    return this.#browser;
  }

  #getCodec(): Promise<SessionCodec> {
    if (!this.#codec) {
      const codec = resolveKeyring(this.#options.key, {
        meta: { get: (k) => this.#store.getMeta(k), set: (k, v) => this.#store.setMeta(k, v) },
        dataDir: this.#options.dataDir ?? DEFAULT_DATA_DIR,
        ...(this.#options.onNotice ? { notice: this.#options.onNotice } : {}),
      }).then((keyring: Keyring) => new SessionCodec(keyring));
      this.#codec = codec;
      // A failed key resolution (e.g. the store was down) is retried on the next call.
      codec.catch(() => {
        if (this.#codec === codec) this.#codec = undefined;
      });
    }
    return this.#codec;
  }
}

function parseCredentials(auth: CredentialsAuthDefinition, value: unknown): unknown {
  const parsed = auth.credentials.safeParse(value);
  if (!parsed.success) {
    throw new AuthSessionError(
      'INVALID_CREDENTIALS',
      `The credentials do not match the schema of "${auth.name}": check ${issuePaths(parsed.error)}`,
    );
  }
  return parsed.data;
}

function assertId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      '"id" must be 1–128 letters, digits, "_", "." or "-", starting with a letter or digit',
    );
  }
}

function parseLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new AuthSessionError('INVALID_OPTIONS', '"labels" must be an object of string values');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype' || typeof v !== 'string') {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `label "${k}" must be a string value with an ordinary name`,
      );
    }
    out[k] = v;
  }
  return out;
}

function parseDevice(device: DeviceProfile | undefined): SessionRecord['device'] {
  if (device === undefined || Object.keys(device).length === 0) return undefined;
  const parsed = deviceSchema.safeParse(device);
  if (!parsed.success) {
    throw new AuthSessionError('INVALID_OPTIONS', `"device" is invalid at ${issuePaths(parsed.error)}`);
  }
  return parsed.data;
}
