import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  type Attributes,
  type Context,
  type ContextManager,
  context,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  metrics,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AuthSessionLogger,
  AuthSessionManager,
  createMemoryStore,
  type HistoryEntry,
} from '../../src/index.js';
import { codeOf } from '../shared.js';
import { type Harness, harness, managerOver, siteAuth, TEST_KEY } from './helpers.js';

const alice = { username: 'alice', password: 'pw-alice-1' };
let h: Harness | undefined;
const extra: AuthSessionManager[] = [];

afterEach(async () => {
  for (const m of extra.splice(0)) await m.close();
  await h?.manager.close();
  await h?.browser.close();
  h = undefined;
});

/** A task that takes `ms` of fake time. */
const takes = (ms: number) => () => {
  h!.clock.advance(ms);
  return ms;
};

function kinds(entries: HistoryEntry[]): string[] {
  return entries.map((e) => `${e.kind}:${e.outcome}${e.error ? `:${e.error.code}` : ''}`);
}

/**
 * A Keyv whose writes pass `onSet` first (it may wait or throw): a Map behind asynchronous calls, which the
 * library writes through its storage adapter (`keyv.set` itself is not what it calls).
 */
function hookedStore(onSet: (storedKey: string) => unknown): Keyv {
  const data = new Map<string, unknown>();
  return new Keyv({
    namespace: 'auth-sessions',
    store: {
      get: async (key: string) => data.get(key),
      set: async (key: string, value: unknown) => {
        await onSet(key);
        data.set(key, value);
        return true;
      },
      delete: async (key: string) => data.delete(key),
      clear: async () => data.clear(),
    },
  });
}

describe('events', () => {
  it('carry the session (never secrets), durations and error codes for every lifecycle step', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice, labels: { team: 'ops' } });
    await h.manager.run(s.id, takes(40));
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1); // check fails → refresh
    h.site.changePassword('alice', 'changed-elsewhere');
    h.site.logoutAll();
    expect(await codeOf(h.manager.run(s.id, () => 1))).toBe('SESSION_EXPIRED');
    await h.manager.update(s.id, { credentials: { username: 'alice', password: 'changed-elsewhere' } });
    await h.manager.update(s.id, { labels: { team: 'sales' } });
    await h.manager.delete(s.id);

    // biome-ignore lint/suspicious/noExplicitAny: event payloads of several types, checked field by field
    const byName = (name: string): any[] => h!.events.filter((e) => e.name === name).map((e) => e.payload);
    const created = byName('created')[0] as { session: { id: string; state: string }; durationMs: number };
    expect(created.session).toMatchObject({ id: s.id, state: 'active', auth: 'site' });
    expect(typeof created.durationMs).toBe('number');
    const checks = byName('checked') as Array<{ ok: boolean; durationMs: number; error?: { code: string } }>;
    expect(checks.some((c) => c.ok)).toBe(true);
    expect(checks.find((c) => !c.ok)?.error?.code).toBe('CHECK_FAILED');
    expect(checks.every((c) => typeof c.durationMs === 'number')).toBe(true);
    expect(byName('refreshed')).toHaveLength(1);
    expect((byName('refreshed')[0] as { durationMs: number }).durationMs).toBeTypeOf('number');
    const expired = byName('expired')[0] as { session: { state: string }; reason: { code: string } };
    expect(expired.session.state).toBe('expired');
    expect(expired.reason.code).toBe('CREATE_FAILED');
    const ends = byName('run:end') as Array<{
      ok: boolean;
      durationMs: number;
      error?: { code: string };
      session: { state: string };
    }>;
    expect(ends.map((e) => e.ok)).toEqual([true, true, false]);
    expect(ends[0]!.durationMs).toBe(40);
    expect(ends[2]!.error?.code).toBe('SESSION_EXPIRED');
    // The run that expired the session reports it as it left it.
    expect(ends.map((e) => e.session.state)).toEqual(['active', 'active', 'expired']);
    expect(byName('run:start')).toHaveLength(3);
    expect(byName('updated')).toHaveLength(2);
    expect(byName('deleted')).toHaveLength(1);
    expect(byName('transition').map((t: { from: string; to: string }) => `${t.from}>${t.to}`)).toContain(
      'active>expired',
    );
    const all = JSON.stringify(h.events);
    expect(all).not.toContain('pw-alice-1');
    expect(all).not.toContain('sealed');
    expect(all).not.toContain('credentials":');
  });
});

describe('history', () => {
  it('records each step with kind, outcome, duration and error code, oldest first', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, takes(250));
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1);
    h.site.changePassword('alice', 'changed-elsewhere');
    h.site.logoutAll();
    await codeOf(h.manager.run(s.id, () => 1));
    const history = await h.manager.history(s.id);
    expect(kinds(history)).toEqual([
      'create:ok',
      'check:ok',
      'run:ok',
      'check:failed:CHECK_FAILED',
      'refresh:ok',
      'run:ok',
      'check:failed:CHECK_FAILED',
      'expire:failed:CREATE_FAILED',
      'run:failed:SESSION_EXPIRED',
    ]);
    expect(history[2]!.durationMs).toBe(250);
    expect(history.every((e) => !Number.isNaN(Date.parse(e.at)))).toBe(true);
    expect(JSON.stringify(history)).not.toContain('pw-alice-1');
    expect(await h.manager.history(s.id, { limit: 2 })).toEqual(history.slice(-2));
  });

  it('keeps only the last historySize entries', async () => {
    h = harness({ historySize: 3 });
    const s = await h.manager.create('site', { credentials: alice });
    for (let i = 1; i <= 4; i++) await h.manager.run(s.id, takes(i));
    await h.manager.flushHistory();
    for (let i = 5; i <= 6; i++) await h.manager.run(s.id, takes(i));
    const history = await h.manager.history(s.id);
    expect(history).toHaveLength(3);
    expect(history.map((e) => `${e.kind}:${e.durationMs}`)).toEqual(['run:5', 'check:0', 'run:6']);
  });

  it('is persisted in the store: another manager (process) reads it and adds to it', async () => {
    h = harness();
    const store = createMemoryStore();
    const make = () => {
      const m = managerOver(h!, { store });
      extra.push(m);
      return m;
    };
    const first = make();
    const s = await first.create('site', { credentials: alice });
    await first.run(s.id, () => 1);
    await first.flushHistory();
    expect(await store.get('meta/history/' + s.id)).toBeTypeOf('string');
    const second = make();
    expect(kinds(await second.history(s.id))).toEqual(['create:ok', 'check:ok', 'run:ok']);
    h.clock.advance(1000);
    await second.run(s.id, () => 2);
    await second.flushHistory();
    h.clock.advance(1000);
    await first.run(s.id, () => 3);
    // The first manager's buffered entry merges with the second's stored ones, in time order.
    expect(kinds(await first.history(s.id))).toEqual([
      'create:ok',
      'check:ok',
      'run:ok',
      'check:ok',
      'run:ok',
      'check:ok',
      'run:ok',
    ]);
  });

  it('run() never waits for history writes (they happen in the background)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let blockedWrites = 0;
    const store = hookedStore(async (key) => {
      if (key.includes(':meta/history/')) {
        blockedWrites++;
        await gate;
      }
    });
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    const flushing = h.manager.flushHistory();
    await new Promise((r) => setImmediate(r));
    expect(blockedWrites).toBe(1);
    // The history write hangs; runs go on regardless.
    for (let i = 0; i < 3; i++) expect(await h.manager.run(s.id, () => i)).toBe(i);
    release();
    await flushing;
    expect(kinds(await h.manager.history(s.id))).toEqual([
      'create:ok',
      'check:ok',
      'run:ok',
      'check:ok',
      'run:ok',
      'check:ok',
      'run:ok',
    ]);
  });

  it('writes coalesce: many runs of a session make one background write', async () => {
    let writes = 0;
    // The in-memory store's own Map, counting the history writes that reach it.
    const map = new Map<string, unknown>();
    const set = map.set.bind(map);
    map.set = (key: string, value: unknown) => {
      if (key.includes(':meta/history/')) writes++;
      return set(key, value);
    };
    const store = new Keyv({ namespace: 'auth-sessions', store: map });
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    await Promise.all(Array.from({ length: 20 }, (_, i) => h!.manager.run(s.id, () => i)));
    expect(writes).toBe(0);
    await h.clock.advanceAsync(200); // the write-behind delay, on the manager's clock
    expect(writes).toBe(1);
    expect(await h.manager.history(s.id)).toHaveLength(41);
  });

  it('a store failing to save history never fails a call: a warning without a session', async () => {
    const store = hookedStore((key) => {
      if (key.includes(':meta/history/')) throw new Error('disk full');
    });
    h = harness({ store });
    const s = await h.manager.create('site', { credentials: alice });
    expect(await h.manager.run(s.id, () => 'ok')).toBe('ok');
    await h.manager.flushHistory();
    const warnings = h.events.filter((e) => e.name === 'warning').map((e) => e.payload);
    expect(warnings).toEqual([{ error: expect.objectContaining({ code: 'STORAGE_UNAVAILABLE' }) }]);
  });

  it('is deleted with its session; unknown ids have none, invalid ids are INVALID_OPTIONS', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.flushHistory();
    await h.manager.delete(s.id);
    await h.manager.flushHistory();
    expect(await h.manager.history(s.id)).toEqual([]);
    expect(await h.manager.history('nope')).toEqual([]);
    await expect(h.manager.history('../../etc')).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('historySize 0 turns history off: nothing is written', async () => {
    const store = createMemoryStore();
    h = harness({ store, historySize: 0 });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    await h.manager.flushHistory();
    expect(await h.manager.history(s.id)).toEqual([]);
    expect(await store.get(`meta/history/${s.id}`)).toBeUndefined();
  });

  it('rejects bad monitoring options with INVALID_OPTIONS', () => {
    const base = { auths: [siteAuth(harness().site)], store: createMemoryStore(), key: TEST_KEY };
    const bad: Array<Record<string, unknown>> = [
      { historySize: -1 },
      { historySize: 1.5 },
      { historySize: 1e9 },
      { logger: { info() {} } },
      { logger: 'console' },
      { telemetry: 'yes' },
      { telemetry: { tracerProvider: {} } },
      { telemetry: { meterProvider: 42 } },
    ];
    for (const options of bad) {
      expect(() => new AuthSessionManager({ ...base, ...options } as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
  });
});

describe('stats', () => {
  it('counts sessions by state and operations since start, with p50/p95 durations', async () => {
    h = harness();
    h.site.addUser('bob', 'pw-bob-1');
    h.site.addUser('carol', 'pw-carol-1');
    const a = await h.manager.create('site', { credentials: alice });
    const b = await h.manager.create('site', { credentials: { username: 'bob', password: 'pw-bob-1' } });
    expect(
      await codeOf(h.manager.create('site', { credentials: { username: 'carol', password: 'wrong' } })),
    ).toBe('CREATE_FAILED');
    for (let i = 1; i <= 20; i++) await h.manager.run(a.id, takes(i * 10));
    h.site.logout('bob');
    await h.manager.run(b.id, () => 0); // refresh
    h.site.changePassword('bob', 'changed');
    h.site.logout('bob');
    await codeOf(h.manager.run(b.id, () => 0)); // expires

    const stats = await h.manager.stats();
    expect(stats.sessions).toEqual({
      total: 3,
      byState: { pending: 0, active: 1, expired: 1, failed: 1 },
      byAuth: { site: 3 },
      unreadable: 0,
    });
    expect(stats.runs).toMatchObject({ total: 22, ok: 21, failed: 1 });
    expect(stats.runs.durationMs).toMatchObject({ samples: 22, max: 200 });
    expect(stats.runs.durationMs.p50).toBe(90);
    expect(stats.runs.durationMs.p95).toBe(190);
    expect(stats.checks).toMatchObject({ total: 22, ok: 20, failed: 2 });
    expect(stats.refreshes).toMatchObject({ total: 2, ok: 1, failed: 1 });
    expect(stats.creates).toMatchObject({ total: 3, ok: 2, failed: 1 });
    expect(stats.expirations).toBe(1);
    expect(stats.failures).toBe(1 + 2 + 1 + 1);
    expect(stats.runsInFlight).toBe(0);
    expect(Date.parse(stats.since)).toBeLessThanOrEqual(h.clock.now());
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);

    const quick = await h.manager.stats({ sessions: false });
    expect(quick.sessions).toBeUndefined();
    expect(quick.runs.total).toBe(22);
  });

  it('counts runs in flight', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    let finish!: () => void;
    const running = h.manager.run(s.id, () => new Promise<void>((r) => (finish = r)));
    await new Promise((r) => setTimeout(r, 20));
    expect((await h.manager.stats({ sessions: false })).runsInFlight).toBe(1);
    finish();
    await running;
    expect((await h.manager.stats({ sessions: false })).runsInFlight).toBe(0);
  });
});

// ——— logger ———

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

function capturingLogger(lines: LogLine[]): AuthSessionLogger {
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) =>
    lines.push({ level, obj, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const LOG_KEYS = new Set([
  'sessionId',
  'auth',
  'state',
  'durationMs',
  'errorCode',
  'runId',
  'from',
  'to',
  'via',
  'requestId',
  'kind',
  'operationId',
  'reason',
  'waiting',
]);

describe('logger', () => {
  it('logs every step with ids, states, durations and codes only, at sensible levels', async () => {
    const lines: LogLine[] = [];
    h = harness({ logger: capturingLogger(lines) });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1);
    h.site.changePassword('alice', 'changed-elsewhere');
    h.site.logoutAll();
    await codeOf(h.manager.run(s.id, () => 1));
    await h.manager.delete(s.id);
    const summary = lines.map((l) => `${l.level} ${l.msg}`);
    expect(summary).toEqual(
      expect.arrayContaining([
        'info auth-sessions: session created',
        'debug auth-sessions: run started',
        'debug auth-sessions: check passed',
        'debug auth-sessions: run ended',
        'info auth-sessions: check failed',
        'warn auth-sessions: session expired',
        'warn auth-sessions: run failed',
        'debug auth-sessions: state changed',
        'info auth-sessions: session deleted',
      ]),
    );
    for (const line of lines) {
      for (const key of Object.keys(line.obj)) expect(LOG_KEYS.has(key), key).toBe(true);
      expect(line.obj.sessionId).toBe(s.id);
    }
    const expired = lines.find((l) => l.msg.endsWith('session expired'))!;
    expect(expired.obj).toEqual({
      sessionId: s.id,
      auth: 'site',
      state: 'expired',
      errorCode: 'CREATE_FAILED',
    });
    expect(JSON.stringify(lines)).not.toContain('pw-alice-1');
  });

  it('calls the logger as methods (pino binds `this`), and a throwing logger never breaks a run', async () => {
    const seen: string[] = [];
    class PinoLike {
      prefix = 'p';
      debug(_o: object, m: string) {
        seen.push(`${this.prefix}:${m}`);
      }
      info(_o: object, m: string) {
        seen.push(`${this.prefix}:${m}`);
      }
      warn() {
        throw new Error('logger down');
      }
      error() {}
    }
    h = harness({ logger: new PinoLike() });
    const s = await h.manager.create('site', { credentials: alice });
    expect(await h.manager.run(s.id, () => 'ok')).toBe('ok');
    expect(seen).toContain('p:auth-sessions: run ended');
  });
});

// ——— OpenTelemetry: a tiny in-memory SDK built on the API's interfaces ———

interface FinishedSpan {
  name: string;
  spanId: string;
  traceId: string;
  parentSpanId: string | undefined;
  attributes: Attributes;
  status: SpanStatus;
  start: number;
  end: number;
  events: string[];
}

function toMs(t: TimeInput | undefined): number {
  if (t === undefined) return Date.now();
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  return t[0] * 1000 + t[1] / 1e6;
}

class MemorySpan implements Span {
  readonly #ctx: SpanContext;
  readonly #record: FinishedSpan;
  readonly #sink: FinishedSpan[];
  #ended = false;
  constructor(name: string, options: SpanOptions, parent: SpanContext | undefined, sink: FinishedSpan[]) {
    this.#ctx = {
      traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: 1,
    };
    this.#sink = sink;
    this.#record = {
      name,
      spanId: this.#ctx.spanId,
      traceId: this.#ctx.traceId,
      parentSpanId: parent?.spanId,
      attributes: { ...options.attributes },
      status: { code: SpanStatusCode.UNSET },
      start: toMs(options.startTime),
      end: Number.NaN,
      events: [],
    };
  }
  spanContext() {
    return this.#ctx;
  }
  setAttribute(key: string, value: Attributes[string]) {
    this.#record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes) {
    Object.assign(this.#record.attributes, attributes);
    return this;
  }
  addEvent(name: string) {
    this.#record.events.push(name);
    return this;
  }
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
  setStatus(status: SpanStatus) {
    this.#record.status = status;
    return this;
  }
  updateName(name: string) {
    this.#record.name = name;
    return this;
  }
  end(endTime?: TimeInput) {
    if (this.#ended) return;
    this.#ended = true;
    this.#record.end = toMs(endTime);
    this.#sink.push(this.#record);
  }
  isRecording() {
    return !this.#ended;
  }
  recordException() {}
}

class MemoryTracerProvider implements TracerProvider {
  readonly spans: FinishedSpan[] = [];
  readonly scopes: string[] = [];
  getTracer(name: string): Tracer {
    this.scopes.push(name);
    const spans = this.spans;
    const startSpan = (n: string, options: SpanOptions = {}, ctx: Context = context.active()) =>
      new MemorySpan(n, options, options.root ? undefined : trace.getSpanContext(ctx), spans);
    return {
      startSpan,
      startActiveSpan: ((n: string, ...rest: unknown[]) => {
        const fn = rest.pop() as (span: Span) => unknown;
        const span = startSpan(n, (rest[0] as SpanOptions) ?? {}, (rest[1] as Context) ?? context.active());
        return context.with(trace.setSpan(context.active(), span), () => fn(span));
      }) as Tracer['startActiveSpan'],
    };
  }
}

interface Measurement {
  name: string;
  value: number;
  attributes: Attributes;
  unit?: string;
}

class MemoryMeterProvider implements MeterProvider {
  readonly measurements: Measurement[] = [];
  getMeter(): Meter {
    const out = this.measurements;
    const noop = createNoopMeter();
    const instrument = (name: string, unit?: string) => ({
      add: (value: number, attributes: Attributes = {}) => out.push({ name, value, attributes, unit }),
      record: (value: number, attributes: Attributes = {}) => out.push({ name, value, attributes, unit }),
    });
    return Object.assign(Object.create(noop) as Meter, {
      createCounter: (name: string, o?: { unit?: string }) => instrument(name, o?.unit),
      createHistogram: (name: string, o?: { unit?: string }) => instrument(name, o?.unit),
    });
  }
}

class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#als.disable();
    return this;
  }
}

describe('OpenTelemetry', () => {
  it('reports run/check/refresh/create spans with conventional attributes, nesting and error status', async () => {
    const tracerProvider = new MemoryTracerProvider();
    const meterProvider = new MemoryMeterProvider();
    h = harness({ telemetry: { tracerProvider, meterProvider } });
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, takes(30));
    h.site.logoutAll();
    await h.manager.run(s.id, () => 1);
    h.site.changePassword('alice', 'changed-elsewhere');
    h.site.logoutAll();
    await codeOf(h.manager.run(s.id, () => 1));

    const spans = tracerProvider.spans;
    expect(tracerProvider.scopes).toEqual(['auth-sessions']);
    expect(spans.map((sp) => sp.name)).toEqual([
      'auth_sessions.create',
      'auth_sessions.check',
      'auth_sessions.run',
      'auth_sessions.check',
      'auth_sessions.refresh',
      'auth_sessions.run',
      'auth_sessions.check',
      'auth_sessions.run',
    ]);
    const [create, check1, run1, check2, refresh, run2, , run3] = spans;
    expect(create!.attributes).toMatchObject({
      'auth_sessions.session.id': s.id,
      'auth_sessions.auth': 'site',
      'auth_sessions.session.type': 'credentials',
      'auth_sessions.outcome': 'ok',
    });
    expect(create!.parentSpanId).toBeUndefined();
    // Checks and refreshes are children of their run; the run took its 30 ms of (fake) time.
    expect(check1!.parentSpanId).toBe(run1!.spanId);
    expect(check1!.traceId).toBe(run1!.traceId);
    expect(refresh!.parentSpanId).toBe(run2!.spanId);
    expect(run1!.end - run1!.start).toBe(30);
    expect(run1!.attributes['auth_sessions.run.id']).toBeTypeOf('string');
    expect(run1!.status.code).toBe(SpanStatusCode.UNSET);
    expect(check2!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'CHECK_FAILED' });
    expect(check2!.attributes['error.type']).toBe('CHECK_FAILED');
    expect(run3!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SESSION_EXPIRED' });
    expect(run3!.attributes).toMatchObject({
      'error.type': 'SESSION_EXPIRED',
      'auth_sessions.outcome': 'failed',
    });
    expect(run3!.events).toContain('auth_sessions.session.expired');
    expect(JSON.stringify(spans)).not.toContain('pw-alice-1');

    const m = meterProvider.measurements;
    const count = (name: string, outcome?: string) =>
      m
        .filter((x) => x.name === name && (!outcome || x.attributes['auth_sessions.outcome'] === outcome))
        .reduce((n, x) => n + x.value, 0);
    expect(count('auth_sessions.runs', 'ok')).toBe(2);
    expect(count('auth_sessions.runs', 'failed')).toBe(1);
    expect(count('auth_sessions.checks', 'failed')).toBe(2);
    expect(count('auth_sessions.refreshes', 'ok')).toBe(1);
    expect(count('auth_sessions.refreshes', 'failed')).toBe(1);
    expect(count('auth_sessions.creates')).toBe(1);
    expect(count('auth_sessions.expirations')).toBe(1);
    const runDurations = m.filter((x) => x.name === 'auth_sessions.run.duration');
    expect(runDurations[0]).toMatchObject({ value: 0.03, unit: 's' });
    // Metrics never carry the session id (unbounded cardinality).
    expect(m.every((x) => !('auth_sessions.session.id' in x.attributes))).toBe(true);
    expect(m.find((x) => x.name === 'auth_sessions.expirations')!.attributes).toEqual({
      'auth_sessions.auth': 'site',
      'error.type': 'CREATE_FAILED',
    });
  });

  it('uses the global providers by default (a no-op until an SDK registers), parenting runs to the caller span', async () => {
    h = harness();
    const s = await h.manager.create('site', { credentials: alice });
    await h.manager.run(s.id, () => 1); // no SDK: nothing to see, nothing breaks
    const tracerProvider = new MemoryTracerProvider();
    const meterProvider = new MemoryMeterProvider();
    const contextManager = new AlsContextManager();
    expect(trace.setGlobalTracerProvider(tracerProvider)).toBe(true);
    expect(metrics.setGlobalMeterProvider(meterProvider)).toBe(true);
    expect(context.setGlobalContextManager(contextManager)).toBe(true);
    try {
      const app = trace.getTracer('app');
      await app.startActiveSpan('handle request', async (parent) => {
        await h!.manager.run(s.id, () => 1);
        parent.end();
      });
      const run = tracerProvider.spans.find((sp) => sp.name === 'auth_sessions.run')!;
      const parent = tracerProvider.spans.find((sp) => sp.name === 'handle request')!;
      expect(run.parentSpanId).toBe(parent.spanId);
      expect(meterProvider.measurements.some((x) => x.name === 'auth_sessions.runs')).toBe(true);

      // telemetry: false reports nothing even with an SDK registered.
      const before = tracerProvider.spans.length;
      const quiet = managerOver(h, { telemetry: false });
      extra.push(quiet);
      const q = await quiet.create('site', { credentials: alice });
      await quiet.run(q.id, () => 1);
      expect(tracerProvider.spans.length).toBe(before);
    } finally {
      trace.disable();
      metrics.disable();
      context.disable();
    }
  });
});

describe('describeAuth', () => {
  it('tells the credential fields of an auth, never its hooks', () => {
    h = harness();
    expect(h.manager.describeAuth('site')).toEqual({
      name: 'site',
      type: 'credentials',
      credentialFields: [
        { name: 'username', optional: false, secret: false, type: 'string' },
        { name: 'password', optional: false, secret: true, type: 'string' },
      ],
    });
    expect(() => h!.manager.describeAuth('nope')).toThrow(expect.objectContaining({ code: 'UNKNOWN_AUTH' }));
  });
});
