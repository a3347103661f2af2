import type { Page } from 'playwright-core';
import type { Clock, TimerHandle } from '../../clock.js';
import { AuthSessionError } from '../../errors.js';
import type { AuthSessionManager } from '../../manager.js';
import { type KeyModifiers, type LiveFrame, LiveView } from './live-view.js';
import type { VisitFlow } from './used-links.js';

/** Where a recording stands, as the live page shows it. */
export type RecorderStatus =
  | { readonly step: 'idle'; readonly error?: string }
  | { readonly step: 'starting' }
  | { readonly step: 'live' }
  | { readonly step: 'connected'; readonly sessionId: string };

/** What the live page receives: pictures, and the recording's status when it changes. */
export type RecorderEvent =
  | { readonly type: 'frame'; readonly frame: LiveFrame }
  | { readonly type: 'status'; readonly status: RecorderStatus };

/** What a recording records into: a new session of `auth` (with `labels`), or an existing one again. */
export type RecorderTarget =
  | { readonly kind: 'create'; readonly auth: string; readonly labels?: Readonly<Record<string, string>> }
  | { readonly kind: 'update'; readonly auth: string; readonly sessionId: string };

/** Timing of a live recording. */
export interface RecorderFlowTimes {
  /** How long the person has to reach the finish URL (the recorder's `timeoutMs`). */
  readonly timeoutMs: number;
  /** With no page watching for this long, the recording is given up and its browser closed. */
  readonly leaveMs: number;
}

/**
 * One person recording a login through a connect link: `manager.record` runs headless, and the page it opens
 * at `startUrl` is shown to the person as a live view; the session becomes active exactly as with `record`
 * (finish URL, full state, check). The browser context is the recorder's and is closed on every path: finish,
 * failure, timeout, the person leaving (no watcher for `leaveMs`), and {@link RecorderFlow.dispose}.
 *
 * @example
 * ```ts
 * const flow = new RecorderFlow(manager, { kind: 'create', auth: 'portal' }, clock, times);
 * flow.start();
 * const stop = flow.subscribe((event) => stream(event));
 * ```
 */
export class RecorderFlow implements VisitFlow {
  readonly #manager: AuthSessionManager;
  readonly #target: RecorderTarget;
  readonly #clock: Clock;
  readonly #times: RecorderFlowTimes;
  readonly #listeners = new Set<(event: RecorderEvent) => void>();
  /** Per listener: how to stop its pictures. */
  readonly #viewStops = new Map<(event: RecorderEvent) => void, () => void>();
  #status: RecorderStatus = { step: 'idle' };
  #abort: AbortController | undefined;
  #view: LiveView | undefined;
  #leaveTimer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  /** The id of a new session, once its first recording ran: a retry records the same one. */
  #sessionId: string | undefined;
  #disposed = false;

  constructor(manager: AuthSessionManager, target: RecorderTarget, clock: Clock, times: RecorderFlowTimes) {
    this.#manager = manager;
    this.#target = target;
    this.#clock = clock;
    this.#times = times;
    if (target.kind === 'update') this.#sessionId = target.sessionId;
  }

  get finished(): boolean {
    return this.#status.step === 'connected' || this.#disposed;
  }

  /** The auth's name. */
  get auth(): string {
    return this.#target.auth;
  }

  get status(): RecorderStatus {
    return this.#status;
  }

  /** Opens the recording browser (ignored while one is open or once connected). */
  start(): void {
    if (this.#disposed || (this.#status.step !== 'idle' && this.#status.step !== 'starting')) return;
    if (this.#running) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#set({ step: 'starting' });
    this.#armLeave();
    const auth = this.#target.auth;
    const onPage = (page: Page) => {
      if (abort.signal.aborted) return;
      this.#view = new LiveView(page, this.#clock);
      for (const listener of this.#listeners) this.#attach(listener);
      this.#set({ step: 'live' });
    };
    this.#running = this.#manager
      .record(auth, {
        headless: true,
        timeoutMs: this.#times.timeoutMs,
        signal: abort.signal,
        onPage,
        ...(this.#sessionId ? { id: this.#sessionId } : {}),
        ...(this.#target.kind === 'create' && this.#target.labels ? { labels: this.#target.labels } : {}),
      })
      .then(
        async (session) => {
          this.#sessionId = session.id;
          const view = this.#ended();
          this.#set({ step: 'connected', sessionId: session.id });
          await view?.close();
        },
        async (err: unknown) => {
          const view = this.#ended();
          if (!this.#disposed) this.#set({ step: 'idle', error: explain(err) });
          await view?.close();
        },
      );
  }

  /** Receives the status now and every change, and the pictures while the browser is open. */
  subscribe(listener: (event: RecorderEvent) => void): () => void {
    this.#listeners.add(listener);
    listener({ type: 'status', status: this.#status });
    this.#attach(listener);
    this.#clearLeave();
    return () => {
      if (!this.#listeners.delete(listener)) return;
      this.#viewStops.get(listener)?.();
      this.#viewStops.delete(listener);
      if (this.#listeners.size === 0) this.#armLeave();
    };
  }

  /** A click at a fraction (0–1) of the picture. */
  click(fx: number, fy: number): Promise<void> {
    return this.#view?.click(fx, fy) ?? Promise.resolve();
  }

  /** A key press in the remote page. */
  key(key: string, modifiers: KeyModifiers): Promise<void> {
    return this.#view?.key(key, modifiers) ?? Promise.resolve();
  }

  /** Pasted text, inserted into the remote page. */
  text(text: string): Promise<void> {
    return this.#view?.text(text) ?? Promise.resolve();
  }

  /** Ends the recording (nothing is stored unless it finished) and waits until its browser is closed. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    this.#clearLeave();
    this.#abort?.abort(new AuthSessionError('ABORTED', 'The connect page was closed'));
    const running = this.#running;
    this.#listeners.clear();
    this.#viewStops.clear();
    await running;
  }

  /** The recording is over: ready to start again (before anyone hears of it); returns the view to close. */
  #ended(): LiveView | undefined {
    this.#clearLeave();
    const view = this.#view;
    this.#view = undefined;
    for (const stop of this.#viewStops.values()) stop();
    this.#viewStops.clear();
    this.#abort = undefined;
    this.#running = undefined;
    return view;
  }

  #attach(listener: (event: RecorderEvent) => void): void {
    const view = this.#view;
    if (!view || !this.#listeners.has(listener)) return;
    this.#viewStops.get(listener)?.();
    this.#viewStops.set(
      listener,
      view.watch((frame) => listener({ type: 'frame', frame })),
    );
  }

  #set(status: RecorderStatus): void {
    this.#status = status;
    for (const listener of this.#listeners) listener({ type: 'status', status });
  }

  /** Nobody watches: give the person `leaveMs` to come back, then give the recording up. */
  #armLeave(): void {
    this.#clearLeave();
    if (!this.#running && this.#status.step !== 'starting') return;
    if (this.#listeners.size > 0) return;
    this.#leaveTimer = this.#clock.setTimeout(() => {
      this.#leaveTimer = undefined;
      this.#abort?.abort(
        new AuthSessionError('ABORTED', 'Nobody watched the live view any more; the recording was given up'),
      );
    }, this.#times.leaveMs);
  }

  #clearLeave(): void {
    if (this.#leaveTimer !== undefined) this.#clock.clearTimeout(this.#leaveTimer);
    this.#leaveTimer = undefined;
  }
}

function explain(err: unknown): string {
  if (err instanceof AuthSessionError) {
    if (err.code === 'ABORTED') return 'The recording was stopped. Start again when you are ready.';
    if (err.code === 'RECORDER_TIMEOUT') return 'The time to log in ran out. Start again when you are ready.';
    return `${err.message} (${err.code})`;
  }
  return 'Something went wrong on the server. Try again later.';
}
