import {
  type Attributes,
  type Context,
  type Counter,
  context,
  type Histogram,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { AuthSessionInfo } from '../session/info.js';
import type { ErrorSummary } from './events.js';

/**
 * OpenTelemetry settings of the manager. By default the library reports through the global providers of
 * `@opentelemetry/api`, which do nothing until the application registers an SDK (e.g. `NodeSDK` of
 * `@opentelemetry/sdk-node`).
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths, telemetry: { tracerProvider, meterProvider } });
 * ```
 */
export interface TelemetryOptions {
  /**
   * Where spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`), looked up lazily so an SDK registered
   * after the manager was made is used too
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * Where metrics go.
   * @default the global meter provider (`metrics.getMeterProvider()`), looked up on every measurement so an
   * SDK registered later is used too
   */
  readonly meterProvider?: MeterProvider;
}

/** The instrumentation scope name of every span and metric of the library. */
export const INSTRUMENTATION_SCOPE = 'auth-sessions';

/**
 * Attribute names of the library's spans and metrics. `error.type` is OpenTelemetry's general attribute
 * (the library's error code, or `TASK_ERROR`); the others live under the `auth_sessions.` namespace. Metrics
 * never carry the session id (unbounded cardinality); spans do.
 *
 * @example
 * ```ts
 * const expiredRuns = spans.filter((s) => s.attributes[TELEMETRY_ATTRIBUTES.errorType] === 'SESSION_EXPIRED');
 * ```
 */
export const TELEMETRY_ATTRIBUTES = {
  sessionId: 'auth_sessions.session.id',
  sessionType: 'auth_sessions.session.type',
  sessionState: 'auth_sessions.session.state',
  auth: 'auth_sessions.auth',
  runId: 'auth_sessions.run.id',
  outcome: 'auth_sessions.outcome',
  errorType: 'error.type',
} as const;

/**
 * Span names, one per kind of operation.
 *
 * @example
 * ```ts
 * const runs = spans.filter((s) => s.name === TELEMETRY_SPANS.run);
 * ```
 */
export const TELEMETRY_SPANS = {
  run: 'auth_sessions.run',
  check: 'auth_sessions.check',
  refresh: 'auth_sessions.refresh',
  create: 'auth_sessions.create',
} as const;

const ATTR = TELEMETRY_ATTRIBUTES;
const SPAN = TELEMETRY_SPANS;

type Operation = keyof typeof SPAN;

interface Instruments {
  readonly provider: MeterProvider;
  readonly counters: Record<Operation | 'expire', Counter>;
  readonly durations: Record<Operation, Histogram>;
}

interface OpenRun {
  readonly span: Span;
  readonly sessionId: string;
}

/**
 * Turns lifecycle events into OpenTelemetry spans (`auth_sessions.run|check|refresh|create`) and metrics
 * (counters `auth_sessions.runs|checks|refreshes|creates|expirations`, histograms
 * `auth_sessions.<op>.duration` in seconds). Run spans are live (started at `run:start`, parented to the
 * caller's active context); check, refresh and create spans are reported when they end with their real
 * start time, as children of the session's run span when exactly one run of that session is in flight here.
 *
 * @example
 * ```ts
 * const telemetry = new Telemetry({}, () => Date.now());
 * telemetry.runStarted(info, 'run-1');
 * telemetry.runEnded(info, 'run-1', true, 12);
 * ```
 */
export class Telemetry {
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #now: () => number;
  #tracer: Tracer | undefined;
  #instruments: Instruments | undefined;
  readonly #runs = new Map<string, OpenRun>();
  /** Runs in flight per session, and the latest one's span. */
  readonly #bySession = new Map<string, { count: number; span: Span }>();

  constructor(options: TelemetryOptions, now: () => number) {
    this.#tracerProvider = options.tracerProvider;
    this.#meterProvider = options.meterProvider;
    this.#now = now;
  }

  /** A run started: opens its span in the caller's context. */
  runStarted(session: AuthSessionInfo, runId: string): void {
    const span = this.#getTracer().startSpan(
      SPAN.run,
      { kind: SpanKind.INTERNAL, startTime: this.#now(), attributes: spanAttributes(session, runId) },
      context.active(),
    );
    this.#runs.set(runId, { span, sessionId: session.id });
    const open = this.#bySession.get(session.id);
    if (open) {
      open.count++;
      open.span = span;
    } else this.#bySession.set(session.id, { count: 1, span });
  }

  /** A run ended: closes its span and records the metrics. */
  runEnded(
    session: AuthSessionInfo,
    runId: string,
    ok: boolean,
    durationMs: number,
    error?: ErrorSummary,
  ): void {
    const open = this.#runs.get(runId);
    if (open) {
      this.#runs.delete(runId);
      const bySession = this.#bySession.get(open.sessionId);
      if (bySession && --bySession.count <= 0) this.#bySession.delete(open.sessionId);
      open.span.setAttribute(ATTR.sessionState, session.state);
      finish(open.span, ok, error, this.#now());
    }
    this.#measure('run', session, ok, durationMs, error);
  }

  /** A check, refresh or create ended: reports its span (with its real start) and metrics. */
  operation(
    op: Exclude<Operation, 'run'>,
    session: AuthSessionInfo,
    ok: boolean,
    durationMs: number | undefined,
    error?: ErrorSummary,
  ): void {
    const end = this.#now();
    if (durationMs !== undefined) {
      const span = this.#getTracer().startSpan(
        SPAN[op],
        { kind: SpanKind.INTERNAL, startTime: end - durationMs, attributes: spanAttributes(session) },
        this.#parent(session.id),
      );
      finish(span, ok, error, end);
    }
    this.#measure(op, session, ok, durationMs, error);
  }

  /** A session expired: counted, and noted on its run span when one is in flight. */
  expired(session: AuthSessionInfo, reason: ErrorSummary): void {
    this.#bySession.get(session.id)?.span.addEvent('auth_sessions.session.expired', {
      [ATTR.errorType]: reason.code,
    });
    this.#getInstruments().counters.expire.add(1, {
      [ATTR.auth]: session.auth,
      [ATTR.errorType]: reason.code,
    });
  }

  /** Ends the spans of runs still open (the manager is closing). */
  close(): void {
    for (const { span } of this.#runs.values())
      finish(span, false, { code: 'CLOSED', message: '' }, this.#now());
    this.#runs.clear();
    this.#bySession.clear();
  }

  #parent(sessionId: string): Context {
    const open = this.#bySession.get(sessionId);
    const active = context.active();
    return open && open.count === 1 ? trace.setSpan(active, open.span) : active;
  }

  #measure(
    op: Operation,
    session: AuthSessionInfo,
    ok: boolean,
    durationMs: number | undefined,
    error?: ErrorSummary,
  ): void {
    const instruments = this.#getInstruments();
    const attributes: Attributes = {
      [ATTR.auth]: session.auth,
      [ATTR.outcome]: ok ? 'ok' : 'failed',
      ...(ok || !error ? {} : { [ATTR.errorType]: error.code }),
    };
    instruments.counters[op].add(1, attributes);
    if (durationMs !== undefined) instruments.durations[op].record(durationMs / 1000, attributes);
  }

  #getTracer(): Tracer {
    // The global provider is a proxy that follows later registrations; an explicit one is used as is.
    this.#tracer ??= (this.#tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
    return this.#tracer;
  }

  #getInstruments(): Instruments {
    const provider = this.#meterProvider ?? metrics.getMeterProvider();
    if (this.#instruments?.provider === provider) return this.#instruments;
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
    const counter = (name: string, unit: string, description: string) =>
      meter.createCounter(name, { unit, description });
    const histogram = (name: string, description: string) =>
      meter.createHistogram(name, { unit: 's', description });
    this.#instruments = {
      provider,
      counters: {
        run: counter('auth_sessions.runs', '{run}', 'Tasks run with a session'),
        check: counter('auth_sessions.checks', '{check}', 'Checks of a session login'),
        refresh: counter('auth_sessions.refreshes', '{refresh}', 'Logins again after a failed check'),
        create: counter('auth_sessions.creates', '{create}', 'Session creations'),
        expire: counter('auth_sessions.expirations', '{session}', 'Sessions that expired'),
      },
      durations: {
        run: histogram('auth_sessions.run.duration', 'Duration of run(), check and refresh included'),
        check: histogram('auth_sessions.check.duration', 'Duration of a check (all attempts)'),
        refresh: histogram('auth_sessions.refresh.duration', 'Duration of a refresh (all attempts)'),
        create: histogram('auth_sessions.create.duration', 'Duration of a creation (all attempts)'),
      },
    };
    return this.#instruments;
  }
}

function spanAttributes(session: AuthSessionInfo, runId?: string): Attributes {
  return {
    [ATTR.sessionId]: session.id,
    [ATTR.auth]: session.auth,
    [ATTR.sessionType]: session.type,
    [ATTR.sessionState]: session.state,
    ...(runId === undefined ? {} : { [ATTR.runId]: runId }),
  };
}

function finish(span: Span, ok: boolean, error: ErrorSummary | undefined, end: number): void {
  span.setAttribute(ATTR.outcome, ok ? 'ok' : 'failed');
  if (!ok) {
    const code = error?.code ?? 'UNKNOWN';
    span.setAttribute(ATTR.errorType, code);
    // The code, not the message: spans leave the process, and codes are all an operator needs to group by.
    span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }
  span.end(end);
}
