import type { Clock } from '../clock.js';
import { AuthSessionError } from '../errors.js';
import type { AuthSessionInfo } from '../session/info.js';
import { SESSION_STATES, type SessionState } from '../session/states.js';
import type { SessionStore } from '../store/session-store.js';
import {
  type AuthSessionEventName,
  type AuthSessionEvents,
  type EventBus,
  summariseError,
} from './events.js';
import { type HistoryEntry, type HistoryKind, type HistoryOptions, SessionHistory } from './history.js';
import { type AuthSessionLogger, type LogLevel, validateLogger } from './logger.js';
import { type AuthSessionStats, type SessionCounts, StatsCollector, type StatsOptions } from './stats.js';
import { Telemetry, type TelemetryOptions } from './telemetry.js';

/**
 * The monitoring options of `AuthSessionManager` (history, logger, OpenTelemetry).
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, logger: pino(), historySize: 100, telemetry: false });
 * ```
 */
export interface MonitorOptions {
  /**
   * A pino-compatible logger (`{ debug, info, warn, error }` taking `(obj, msg)`) that receives every
   * lifecycle step with session id, auth, state, duration and error code: never a secret.
   * @default no logging
   */
  readonly logger?: AuthSessionLogger;
  /**
   * Entries of history kept per session (`manager.history(id)`), persisted in the store in the background;
   * 0 turns history off (nothing is written).
   * @default 50
   */
  readonly historySize?: number;
  /**
   * OpenTelemetry spans and metrics through `@opentelemetry/api` (a no-op until the application registers
   * an SDK); `false` turns them off.
   * @default the global tracer and meter providers
   */
  readonly telemetry?: TelemetryOptions | false;
}

/** What the monitor is wired to (by the manager). */
export interface MonitorDeps {
  readonly events: EventBus;
  /** The session store (a getter: the monitor is made, and its options checked, before the store). */
  readonly store: () => SessionStore;
  readonly clock: Clock;
  /** Aborted when the manager closes: buffered history is written, open spans end. */
  readonly closed: AbortSignal;
}

const MAX_HISTORY = 10_000;

type Handlers = { [E in AuthSessionEventName]?: (payload: AuthSessionEvents[E]) => void };

/**
 * Listens to the manager's event bus and keeps the history, the stats, the spans and metrics, and the log.
 * Every handler is synchronous and O(1): the lifecycle emits events on the hot path of every run.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({ historySize: 50 }, { events, store, clock, closed: controller.signal });
 * await monitor.history('s1');
 * await monitor.stats();
 * ```
 */
export class Monitor {
  readonly #d: MonitorDeps;
  readonly #history: SessionHistory;
  readonly #stats: StatsCollector;
  readonly #telemetry: Telemetry | undefined;
  readonly #logger: AuthSessionLogger | undefined;

  constructor(options: MonitorOptions, deps: MonitorDeps) {
    this.#d = deps;
    const size = options.historySize ?? 50;
    if (!Number.isInteger(size) || size < 0 || size > MAX_HISTORY) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `"historySize" must be an integer from 0 to ${MAX_HISTORY}, got ${String(options.historySize)}`,
      );
    }
    this.#logger = validateLogger(options.logger);
    this.#telemetry = telemetryFrom(options.telemetry, () => deps.clock.now());
    this.#stats = new StatsCollector(this.#iso());
    this.#history = new SessionHistory({
      store: {
        getMeta: (key) => deps.store().getMeta(key),
        setMeta: (key, value, ttlMs) => deps.store().setMeta(key, value, ttlMs),
        deleteMeta: (key) => deps.store().deleteMeta(key),
      },
      size,
      clock: deps.clock,
      sessionSince: async (id) => {
        try {
          return (await deps.store().read(id))?.createdAt;
        } catch (err) {
          // A damaged record has no history to keep; a store failure is reported by the flush.
          if ((err as { code?: unknown }).code === 'CORRUPT_RECORD') return undefined;
          throw err;
        }
      },
      // Reported without a session so the warning itself does not go into a history that cannot be written.
      onError: (err) => deps.events.emit('warning', { error: summariseError(err) }),
    });
    const handlers = this.#handlers();
    for (const name of Object.keys(handlers) as AuthSessionEventName[]) {
      deps.events.on(name, handlers[name] as (payload: unknown) => void);
    }
    deps.closed.addEventListener(
      'abort',
      () => {
        this.#telemetry?.close();
        // Best effort: a store the manager owns is disconnected right after; one passed in stays usable.
        this.#history.flush().catch(() => {});
      },
      { once: true },
    );
  }

  /** The session's history, oldest first (see `AuthSessionManager.history`). */
  history(id: string, options: HistoryOptions = {}): Promise<HistoryEntry[]> {
    return this.#history.read(id, options);
  }

  /** Writes the buffered history entries now. */
  flush(): Promise<void> {
    return this.#history.flush();
  }

  /** Counters since start, plus the sessions in the store by state (see `AuthSessionManager.stats`). */
  async stats(options: StatsOptions = {}): Promise<AuthSessionStats> {
    const sessions = options.sessions === false ? undefined : await this.#countSessions();
    return this.#stats.snapshot(sessions);
  }

  async #countSessions(): Promise<SessionCounts | undefined> {
    const store = this.#d.store();
    if (!store.canList) return undefined;
    const byState = Object.fromEntries(SESSION_STATES.map((s) => [s, 0])) as Record<SessionState, number>;
    const byAuth: Record<string, number> = Object.create(null);
    let total = 0;
    let unreadable = 0;
    for await (const record of store.records(() => unreadable++)) {
      total++;
      byState[record.state]++;
      byAuth[record.auth] = (byAuth[record.auth] ?? 0) + 1;
    }
    return { total, byState, byAuth: { ...byAuth }, unreadable };
  }

  #iso(): string {
    return new Date(this.#d.clock.now()).toISOString();
  }

  #entry(session: AuthSessionInfo, kind: HistoryKind, ok: boolean, durationMs?: number, error?: ErrorLike) {
    this.#history.add(session.id, {
      at: this.#iso(),
      kind,
      outcome: ok ? 'ok' : 'failed',
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }),
    });
  }

  #log(level: LogLevel, msg: string, session: AuthSessionInfo | undefined, extra?: Record<string, unknown>) {
    const logger = this.#logger;
    if (!logger) return;
    const obj: Record<string, unknown> = session
      ? { sessionId: session.id, auth: session.auth, state: session.state, ...extra }
      : { ...extra };
    logger[level](obj, `auth-sessions: ${msg}`);
  }

  #handlers(): Handlers {
    const t = this.#telemetry;
    return {
      created: (e) => {
        const kind = e.via ?? (e.session.type === 'recorder' ? 'record' : 'create');
        this.#entry(e.session, kind, true, e.durationMs);
        this.#stats.create(true, e.durationMs);
        t?.operation('create', e.session, true, e.durationMs);
        this.#log('info', 'session created', e.session, { via: kind, durationMs: e.durationMs });
      },
      failed: (e) => {
        this.#entry(e.session, 'create', false, e.durationMs, e.error);
        this.#stats.create(false, e.durationMs);
        t?.operation('create', e.session, false, e.durationMs, e.error);
        this.#log('warn', 'session creation failed', e.session, {
          durationMs: e.durationMs,
          errorCode: e.error.code,
        });
      },
      checked: (e) => {
        this.#entry(e.session, 'check', e.ok, e.durationMs, e.error);
        this.#stats.check(e.ok, e.durationMs);
        t?.operation('check', e.session, e.ok, e.durationMs, e.error);
        this.#log(e.ok ? 'debug' : 'info', e.ok ? 'check passed' : 'check failed', e.session, {
          durationMs: e.durationMs,
          ...(e.error ? { errorCode: e.error.code } : {}),
        });
      },
      refreshed: (e) => {
        this.#entry(e.session, e.ahead === true ? 'refresh-ahead' : 'refresh', true, e.durationMs);
        this.#stats.refresh(true, e.durationMs, e.ahead === true);
        t?.operation('refresh', e.session, true, e.durationMs);
        this.#log('info', 'session refreshed', e.session, {
          durationMs: e.durationMs,
          ...(e.ahead === true ? { ahead: true } : {}),
        });
      },
      expired: (e) => {
        this.#entry(e.session, 'expire', false, undefined, e.reason);
        this.#stats.expire();
        // A credentials session expires only when logging in again failed: that refresh failed.
        if (e.session.type === 'credentials') {
          this.#stats.refresh(false, undefined);
          t?.operation('refresh', e.session, false, undefined, e.reason);
        }
        t?.expired(e.session, e.reason);
        this.#log('warn', 'session expired', e.session, { errorCode: e.reason.code });
      },
      updated: (e) => {
        const kind = e.via ?? 'update';
        this.#entry(e.session, kind, true, e.durationMs);
        this.#stats.update();
        this.#log('info', 'session updated', e.session, {
          via: kind,
          ...(e.durationMs === undefined ? {} : { durationMs: e.durationMs }),
        });
      },
      deleted: (e) => {
        this.#history.forget(e.session.id);
        this.#stats.delete();
        this.#log('info', 'session deleted', e.session);
      },
      transition: (e) => {
        this.#log('debug', 'state changed', e.session, { from: e.from, to: e.to });
      },
      'run:start': (e) => {
        this.#stats.runStarted();
        t?.runStarted(e.session, e.runId);
        this.#log('debug', 'run started', e.session, { runId: e.runId });
      },
      'run:end': (e) => {
        this.#entry(e.session, 'run', e.ok, e.durationMs, e.error);
        this.#stats.run(e.ok, e.durationMs);
        t?.runEnded(e.session, e.runId, e.ok, e.durationMs, e.error);
        this.#log(e.ok ? 'debug' : 'warn', e.ok ? 'run ended' : 'run failed', e.session, {
          runId: e.runId,
          durationMs: e.durationMs,
          ...(e.error ? { errorCode: e.error.code } : {}),
        });
      },
      'input:requested': (e) => {
        this.#log('info', 'input requested', e.session, {
          requestId: e.request.id,
          kind: e.request.kind,
          ...(e.operationId === undefined ? {} : { operationId: e.operationId }),
        });
      },
      'input:answered': (e) => {
        this.#entry(e.session, 'input', true);
        this.#log('info', 'input answered', e.session, {
          requestId: e.requestId,
          kind: e.kind,
          ...(e.operationId === undefined ? {} : { operationId: e.operationId }),
        });
      },
      'queue:paused': (e) => {
        this.#log(e.reason === 'expired' ? 'warn' : 'info', 'queue paused', e.session, {
          sessionId: e.sessionId,
          reason: e.reason,
          waiting: e.waiting,
        });
      },
      'queue:resumed': (e) => {
        this.#log('info', 'queue resumed', e.session, {
          sessionId: e.sessionId,
          reason: e.reason,
          waiting: e.waiting,
        });
      },
      expiring: (e) => {
        this.#entry(e.session, 'expiring', true);
        this.#log('warn', 'session expiring', e.session, { expiresAt: e.expiresAt });
      },
      'health:round': (e) => {
        this.#stats.healthRound(e.checked);
        this.#log('debug', 'health round', undefined, { ...e });
      },
      warning: (e) => {
        if (e.session) this.#entry(e.session, 'warning', false, undefined, e.error);
        this.#stats.warning();
        this.#log('warn', 'warning', e.session, { errorCode: e.error.code });
      },
    };
  }
}

interface ErrorLike {
  readonly code: string;
  readonly message: string;
}

function telemetryFrom(options: MonitorOptions['telemetry'], now: () => number): Telemetry | undefined {
  if (options === false) return undefined;
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      '"telemetry" must be false or { tracerProvider?, meterProvider? }',
    );
  }
  const o = options ?? {};
  if (o.tracerProvider !== undefined && typeof o.tracerProvider?.getTracer !== 'function') {
    throw new AuthSessionError('INVALID_OPTIONS', '"telemetry.tracerProvider" must have getTracer()');
  }
  if (o.meterProvider !== undefined && typeof o.meterProvider?.getMeter !== 'function') {
    throw new AuthSessionError('INVALID_OPTIONS', '"telemetry.meterProvider" must have getMeter()');
  }
  return new Telemetry(o, now);
}
