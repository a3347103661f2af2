import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { toInfrastructureError } from '../browser/network-errors.js';
import type { ContextLease, DeviceProfile } from '../browser/provider.js';
import { abortError, raceAbort } from '../browser/slots.js';
import type { BrowserState } from '../browser/state.js';
import { type RecorderAuthDefinition, resolveAuthOptions, validateAuthOptions } from '../define.js';
import { chooseDevice } from '../device.js';
import { AuthSessionError } from '../errors.js';
import { checkSession } from '../lifecycle/check.js';
import type { SessionCodec } from '../lifecycle/codec.js';
import { anySignal, type Lifecycle } from '../lifecycle/engine.js';
import { runLogin } from '../lifecycle/login.js';
import { summariseError } from '../monitor/events.js';
import { parseProxy } from '../proxy.js';
import { beginLogin } from '../session/changes.js';
import { type AuthSessionInfo, toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import {
  assertOptionsObject,
  assertSameAuth,
  assertSessionId,
  assertSignal,
  editedFields,
  parseSessionDevice,
  parseSessionLabels,
  type SessionPlacementOptions,
} from '../session-options.js';
import { claimSession } from './claims.js';
import { finishMatcher } from './finish-url.js';
import { type FinishWatch, watchForFinish } from './watch.js';

/**
 * Default of {@link RecordOptions.timeoutMs}: ten minutes for a person to log in.
 *
 * @example
 * ```ts
 * await manager.record('portal', { timeoutMs: 2 * DEFAULT_RECORD_TIMEOUT_MS }); // a slow SSO: twenty minutes
 * ```
 */
export const DEFAULT_RECORD_TIMEOUT_MS = 10 * 60_000;

/** Node's timers overflow past this many milliseconds (and would fire at once). */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** After the finish URL: how long the finishing page may take to load before the state is captured. */
const SETTLE_MS = 10_000;

/**
 * Receives the recording's first page, already on its way to `startUrl`: a test plays the person with it, an
 * application watches or streams it. Not awaited by the recorder: the finish is detected while it runs.
 *
 * @example
 * ```ts
 * const person: RecorderPageHandler = async (page) => {
 *   await page.fill('#username', 'alice');
 *   await page.fill('#password', process.env.DEMO_PASSWORD!);
 *   await page.click('#login');
 * };
 * ```
 */
export type RecorderPageHandler = (page: Page) => unknown;

/**
 * Options of `manager.record(auth, options)`.
 *
 * @example
 * ```ts
 * const options: RecordOptions = { labels: { customer: 'acme' }, timeoutMs: 5 * 60_000 };
 * ```
 */
export interface RecordOptions extends SessionPlacementOptions {
  /**
   * Milliseconds the person has to reach the finish URL (on the manager's clock; waiting for a browser slot
   * does not count). Then `RECORDER_TIMEOUT`.
   * @default 600000 (10 minutes)
   */
  readonly timeoutMs?: number;
  /**
   * Run the recording browser without a window. A person needs a window; a scripted person (tests, CI) does
   * not. A visible browser needs a display (`DISPLAY`, e.g. under `xvfb-run`).
   * @default false
   */
  readonly headless?: boolean;
  /** Gets the page opened at `startUrl`; see {@link RecorderPageHandler}. */
  readonly onPage?: RecorderPageHandler;
  /**
   * When recording an existing session again, start from its last saved browser state, so the site sees the
   * same browser (its "trusted device" cookies included). `false` starts from an empty browser.
   * @default true
   */
  readonly reuseState?: boolean;
  /** Aborts the recording (`ABORTED`); nothing is stored and the browser is closed. */
  readonly signal?: AbortSignal;
}

/**
 * Records a login performed by a person: opens a browser context (with the session's proxy and device) at
 * the auth's `startUrl`, hands the page to `onPage`, waits until any page of the context (tabs and popups
 * too) reaches `finishUrl`, captures the full state (cookies, localStorage, IndexedDB, sessionStorage), runs
 * `check` in the same context, and stores the session as `active` (never any credentials). A new session
 * emits `created`; an existing one recorded again emits `updated`.
 *
 * Failure leaves nothing half-made: a new session is removed again, an existing one is restored exactly as it
 * was. The context is closed on every path.
 *
 * @throws AuthSessionError `RECORDER_CLOSED` (the browser, or its last page, closed before the finish),
 *   `RECORDER_TIMEOUT`, `CREATE_FAILED` (the recorded login fails the check, or `onPage` threw before the
 *   finish), `TARGET_UNREACHABLE`/`PROXY_ERROR`, `ABORTED`, `INVALID_OPTIONS`, `UNKNOWN_AUTH`,
 *   `SESSION_EXISTS` (the id belongs to another auth), `INVALID_STATE` (the id is being recorded already).
 * @example
 * ```ts
 * const session = await recordSession(lifecycle, 'portal', { headless: true, onPage: person });
 * ```
 */
export async function recordSession(
  lifecycle: Lifecycle,
  authName: string,
  options: RecordOptions = {},
): Promise<AuthSessionInfo> {
  const d = lifecycle.deps;
  if (d.closed.aborted) throw new AuthSessionError('CLOSED', 'The manager was closed');
  assertOptionsObject(options, 'record(auth, options)');
  const auth = d.auth(authName);
  if (auth.type !== 'recorder') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `Auth "${auth.name}" is credentials-based: create its sessions with create(), or bring a state with importState()`,
    );
  }
  validateRecordOptions(options);
  const id = options.id ?? d.newId();
  assertSessionId(id);
  const labels = options.labels === undefined ? undefined : parseSessionLabels(options.labels);
  const proxy = options.proxy == null ? options.proxy : parseProxy(options.proxy);

  const release = claimSession(lifecycle, id);
  try {
    const codec = await d.codec();
    const existing = await d.store.read(id);
    if (existing) assertSameAuth(existing, auth);
    const fields = editedFields({ labels, device: options.device, proxy }, codec, id);
    const fresh = existing
      ? undefined
      : newRecord(lifecycle, auth, id, codec, {
          labels,
          proxy,
          // As for create: one device for the whole life of the session, chosen now and used from the login on.
          device: await chooseDevice(id, d.browser(), auth.device, options.device),
        });
    const startState = existing && options.reuseState !== false ? openQuietly(codec, existing) : undefined;
    const started = d.clock.now();
    const { record, existed } = await runLogin(lifecycle, {
      id,
      begin: (loginId) =>
        beginLogin({
          id,
          loginId,
          fields,
          ...(fresh ? { fresh } : {}),
          allow: (latest) => assertSameAuth(latest, auth),
        }),
      perform: (pending) => recordInContext(lifecycle, pending, auth, codec, startState, options),
      onFailure: (before) => (before ? 'undo' : 'drop'),
      failure: { code: 'CREATE_FAILED', message: `Recording the login of "${auth.name}" failed` },
    });
    if (existed) d.events.emit('updated', { session: toInfo(record) });
    else d.events.emit('created', { session: toInfo(record), durationMs: d.clock.now() - started });
    return toInfo(record);
  } finally {
    release();
  }
}

interface RecordChanges {
  readonly labels: Record<string, string> | undefined;
  readonly proxy: ReturnType<typeof parseProxy> | null | undefined;
  readonly device: DeviceProfile | undefined;
}

function newRecord(
  lifecycle: Lifecycle,
  auth: RecorderAuthDefinition,
  id: string,
  codec: SessionCodec,
  changes: RecordChanges,
): SessionRecord {
  const now = lifecycle.iso();
  const device = parseSessionDevice(changes.device);
  const proxy = changes.proxy ?? undefined;
  return {
    v: 1,
    id,
    auth: auth.name,
    type: 'recorder',
    state: 'pending',
    revision: 0,
    generation: 0,
    createdAt: now,
    updatedAt: now,
    labels: changes.labels ?? {},
    ...(proxy ? { proxy: { server: proxy.server } } : {}),
    ...(device ? { device } : {}),
    sealed: proxy ? { proxy: codec.seal(id, 'proxy', proxy) } : {},
  };
}

/** The context part: open, watch, hand the page over, capture, check, close. */
async function recordInContext(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: RecorderAuthDefinition,
  codec: SessionCodec,
  startState: BrowserState | undefined,
  options: RecordOptions,
): Promise<{ state: BrowserState; checkedAt: string }> {
  const d = lifecycle.deps;
  const signal = anySignal(options.signal, d.closed);
  const opts = resolveAuthOptions(auth, options);
  const matches = finishMatcher(auth.finishUrl, auth.startUrl, auth.name);
  const lease = await lifecycle.openContext(record, codec, startState, signal, {
    headless: options.headless ?? false,
  });
  let contextClosed = false;
  lease.context.once('close', () => {
    contextClosed = true;
  });
  // The person's time starts once the browser is there: waiting for a slot does not count.
  const watch = watchForFinish({
    context: lease.context,
    matches,
    clock: d.clock,
    timeoutMs: options.timeoutMs ?? DEFAULT_RECORD_TIMEOUT_MS,
    signal,
    sessionId: record.id,
    authName: auth.name,
  });
  const phase = { finishing: false, done: false };
  try {
    const page = await Promise.race([lease.newPage(), watch.failed]);
    void playPerson(lifecycle, page, record, auth, watch, options.onPage, phase);
    const finishPage = await watch.done;
    phase.finishing = true;

    // The lease reports a context closed under it as CLOSED, Playwright as "Target closed".
    const closedOr = (err: unknown): unknown => {
      if (signal.aborted) return abortError(signal);
      if (err instanceof AuthSessionError && err.code !== 'CLOSED') return err;
      return new AuthSessionError(
        'RECORDER_CLOSED',
        `The recording browser was closed before the login of "${auth.name}" could be captured; nothing was stored`,
        { sessionId: record.id, cause: err },
      );
    };

    // Let the finishing page run its scripts (a token written on load) before reading the state.
    if (!finishPage.isClosed()) {
      await raceAbort(
        finishPage.waitForLoadState('load', { timeout: SETTLE_MS }).catch(() => {}),
        signal,
      );
    }
    let state: BrowserState;
    let checkPage: Page;
    try {
      state = await raceAbort(lease.captureState(), signal);
      checkPage = pickCheckPage(lease, finishPage) ?? (await raceAbort(lease.newPage(), signal));
    } catch (err) {
      throw closedOr(err);
    }
    // sessionStorage belongs to a tab: the check runs in the tab that finished, which holds it.
    const ok = await checkSession(lifecycle, record, auth, lease, checkPage, opts, signal);
    if (!ok) {
      if (contextClosed || checkPage.isClosed()) throw closedOr(undefined);
      throw new AuthSessionError(
        'CREATE_FAILED',
        `The recorded login of "${auth.name}" did not pass the check; nothing was stored`,
        { sessionId: record.id },
      );
    }
    return { state, checkedAt: lifecycle.iso() };
  } catch (err) {
    if (err instanceof AuthSessionError) throw err;
    throw toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined }) ?? err;
  } finally {
    phase.done = true;
    watch.fail(new AuthSessionError('ABORTED', 'The recording ended'));
    watch.dispose();
    await lease.close();
  }
}

/**
 * Goes to `startUrl`, then hands the page to `onPage`. Never rejects: what goes wrong ends the watch (or is
 * reported) instead.
 */
async function playPerson(
  lifecycle: Lifecycle,
  page: Page,
  record: SessionRecord,
  auth: RecorderAuthDefinition,
  watch: FinishWatch,
  onPage: RecorderPageHandler | undefined,
  phase: { finishing: boolean; done: boolean },
): Promise<void> {
  try {
    await page.goto(auth.startUrl);
  } catch (err) {
    if (watch.settled) return;
    const infra = toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined });
    if (infra) {
      watch.fail(infra);
      return;
    }
    // Anything else (a redirect that interrupted the load, a slow page): the person still has the browser.
  }
  if (watch.settled || onPage === undefined) return;
  try {
    await onPage(page);
  } catch (err) {
    // A page or context closing makes every wait on it reject; let the close events arrive first: a closed
    // page is the watch's business (RECORDER_CLOSED when it was the last), not a failure of the handler.
    await nextTurn();
    if (phase.done || page.isClosed()) return;
    if (!watch.settled) {
      watch.fail(
        new AuthSessionError(
          'CREATE_FAILED',
          `The onPage handler of the recording of "${auth.name}" threw before the finish URL was reached; nothing was stored`,
          { sessionId: record.id, cause: err },
        ),
      );
    } else if (phase.finishing) {
      lifecycle.deps.events.emit('warning', {
        session: toInfo(record),
        error: {
          code: 'TASK_ERROR',
          message: `The onPage handler of the recording of "${auth.name}" threw after the finish URL was reached (ignored): ${summariseError(err).message}`,
        },
      });
    }
  }
}

function pickCheckPage(lease: ContextLease, finishPage: Page): Page | undefined {
  if (!finishPage.isClosed()) return finishPage;
  return lease.context.pages().find((p) => !p.isClosed());
}

/** A re-recording starts from the previous state when it can be opened; a broken one is no reason to fail. */
function openQuietly(codec: SessionCodec, record: SessionRecord): BrowserState | undefined {
  try {
    return codec.state(record);
  } catch {
    return undefined;
  }
}

/** Recorder sessions never hold credentials, whatever an older record carried. */
function _withoutCredentials(sealed: SessionRecord['sealed']): SessionRecord['sealed'] {
  const { credentials: _dropped, ...rest } = sealed;
  return rest;
}

function validateRecordOptions(options: RecordOptions): void {
  validateAuthOptions(options, 'record');
  const { timeoutMs, headless, onPage, reuseState } = options;
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' ||
      !Number.isFinite(timeoutMs) ||
      timeoutMs <= 0 ||
      timeoutMs > MAX_TIMEOUT_MS)
  ) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `record: "timeoutMs" must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`,
    );
  }
  if (headless !== undefined && typeof headless !== 'boolean') {
    throw new AuthSessionError('INVALID_OPTIONS', 'record: "headless" must be a boolean');
  }
  if (reuseState !== undefined && typeof reuseState !== 'boolean') {
    throw new AuthSessionError('INVALID_OPTIONS', 'record: "reuseState" must be a boolean');
  }
  if (onPage !== undefined && typeof onPage !== 'function') {
    throw new AuthSessionError('INVALID_OPTIONS', 'record: "onPage" must be a function');
  }
  assertSignal(options.signal, 'record');
}
