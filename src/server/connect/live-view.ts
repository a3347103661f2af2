import type { CDPSession, Page } from 'playwright-core';
import type { Clock, TimerHandle } from '../../clock.js';

/** One picture of the remote page, as the connect page shows it. */
export interface LiveFrame {
  /** The JPEG, base64. */
  readonly data: string;
  /** Width of the remote viewport in CSS pixels (what a click's x is a fraction of). */
  readonly width: number;
  /** Height of the remote viewport in CSS pixels. */
  readonly height: number;
}

/** Limits of the picture stream. */
export interface LiveViewLimits {
  /** Frames per second at most (acknowledgements are held back, so Chromium paints no more than this). */
  readonly maxFps: number;
  /** JPEG quality, 0–100. */
  readonly quality: number;
  /** Largest picture width in pixels (the screencast scales the viewport down to fit). */
  readonly maxWidth: number;
  /** Largest picture height in pixels. */
  readonly maxHeight: number;
}

export const DEFAULT_LIVE_VIEW_LIMITS: LiveViewLimits = {
  maxFps: 8,
  quality: 60,
  maxWidth: 1280,
  maxHeight: 800,
};

/** Keys sent by name; any single character is typed as text. */
const NAMED_KEYS = new Set([
  'Enter',
  'Tab',
  'Backspace',
  'Delete',
  'Escape',
  'ArrowLeft',
  'ArrowRight',
  'ArrowUp',
  'ArrowDown',
  'Home',
  'End',
  'PageUp',
  'PageDown',
  ' ',
]);

/** Modifiers a key may be pressed with (select all, copy, undo inside the remote page). */
export interface KeyModifiers {
  readonly ctrl?: boolean;
  readonly alt?: boolean;
  readonly meta?: boolean;
  readonly shift?: boolean;
}

/**
 * A live view of one page of a headless browser: a CDP screencast (started while somebody watches, stopped
 * when the last watcher leaves; every frame acknowledged, at a bounded rate) and the person's input played
 * back into the page with Playwright's mouse and keyboard.
 *
 * @example
 * ```ts
 * const view = new LiveView(page, clock);
 * const stop = view.watch((frame) => send(frame));
 * await view.click(0.5, 0.25); // the middle of the top quarter of the remote viewport
 * stop();
 * await view.close();
 * ```
 */
export class LiveView {
  readonly #page: Page;
  readonly #clock: Clock;
  readonly #limits: LiveViewLimits;
  readonly #watchers = new Set<(frame: LiveFrame) => void>();
  #cdp: CDPSession | undefined;
  #last: LiveFrame | undefined;
  #lastAckAt = 0;
  #acks = new Set<TimerHandle>();
  /** Start and stop of the screencast, one after the other. */
  #steps: Promise<void> = Promise.resolve();
  #casting = false;
  #closed = false;
  /** Input events, played in the order they came. */
  #input: Promise<void> = Promise.resolve();

  constructor(page: Page, clock: Clock, limits: LiveViewLimits = DEFAULT_LIVE_VIEW_LIMITS) {
    this.#page = page;
    this.#clock = clock;
    this.#limits = limits;
  }

  /** How many pages watch now. */
  get watchers(): number {
    return this.#watchers.size;
  }

  /** Sends every frame to `onFrame` (the latest one at once, when there is one) until the returned stop. */
  watch(onFrame: (frame: LiveFrame) => void): () => void {
    if (this.#closed) return () => {};
    this.#watchers.add(onFrame);
    if (this.#last) onFrame(this.#last);
    if (this.#watchers.size === 1) this.#step(() => this.#start());
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.#watchers.delete(onFrame);
      if (this.#watchers.size === 0) this.#step(() => this.#stop());
    };
  }

  /** A click at a fraction (0–1) of the picture's width and height, mapped onto the remote viewport. */
  click(fx: number, fy: number): Promise<void> {
    return this.#play(async () => {
      const { width, height } = this.#viewport();
      const x = clamp(fx) * width;
      const y = clamp(fy) * height;
      await this.#page.mouse.click(x, y);
    });
  }

  /** A key press: a named key (Enter, Tab, arrows…) or one character, possibly with modifiers. */
  key(key: string, modifiers: KeyModifiers = {}): Promise<void> {
    return this.#play(async () => {
      const combo = modifiers.ctrl || modifiers.meta || modifiers.alt;
      if (key.length === 1 && !combo) {
        // One character, typed as such: its key events where the layout has the key, plain text otherwise.
        await this.#page.keyboard.type(key);
        return;
      }
      if (!NAMED_KEYS.has(key) && !(key.length === 1 && /[a-z0-9]/i.test(key))) return;
      const parts = [
        ...(modifiers.ctrl ? ['Control'] : []),
        ...(modifiers.alt ? ['Alt'] : []),
        ...(modifiers.meta ? ['Meta'] : []),
        ...(modifiers.shift && key.length > 1 ? ['Shift'] : []),
        key,
      ];
      await this.#page.keyboard.press(parts.join('+'));
    });
  }

  /** Pasted text, inserted where the remote page's focus is (CDP `Input.insertText`). */
  text(text: string): Promise<void> {
    return this.#play(() => this.#page.keyboard.insertText(text));
  }

  /** Stops the screencast and lets the page go (the browser context is closed by its owner). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchers.clear();
    for (const t of this.#acks) this.#clock.clearTimeout(t);
    this.#acks.clear();
    this.#step(() => this.#stop());
    await this.#steps;
    const cdp = this.#cdp;
    this.#cdp = undefined;
    await cdp?.detach().catch(() => {});
  }

  #play(action: () => Promise<void>): Promise<void> {
    const next = this.#input.then(async () => {
      if (this.#closed || this.#page.isClosed()) return;
      await action();
    });
    // One failed action (the page navigated away under a click) does not stop the ones after it.
    this.#input = next.catch(() => {});
    return next;
  }

  #viewport(): { width: number; height: number } {
    if (this.#last) return { width: this.#last.width, height: this.#last.height };
    return this.#page.viewportSize() ?? { width: 1280, height: 720 };
  }

  #step(fn: () => Promise<void>): void {
    this.#steps = this.#steps.then(fn).catch(() => {});
  }

  async #start(): Promise<void> {
    if (this.#closed || this.#casting || this.#watchers.size === 0 || this.#page.isClosed()) return;
    if (!this.#cdp) {
      this.#cdp = await this.#page.context().newCDPSession(this.#page);
      this.#cdp.on('Page.screencastFrame', (event) => this.#frame(event));
    }
    const { quality, maxWidth, maxHeight } = this.#limits;
    await this.#cdp.send('Page.startScreencast', {
      format: 'jpeg',
      quality,
      maxWidth,
      maxHeight,
      everyNthFrame: 1,
    });
    this.#casting = true;
  }

  async #stop(): Promise<void> {
    if (!this.#casting || (this.#watchers.size > 0 && !this.#closed)) return;
    this.#casting = false;
    await this.#cdp?.send('Page.stopScreencast').catch(() => {});
  }

  #frame(event: {
    data: string;
    sessionId: number;
    metadata: { deviceWidth?: number; deviceHeight?: number };
  }): void {
    const viewport = this.#page.isClosed() ? undefined : this.#page.viewportSize();
    const frame: LiveFrame = {
      data: event.data,
      width: event.metadata.deviceWidth ?? viewport?.width ?? 1280,
      height: event.metadata.deviceHeight ?? viewport?.height ?? 720,
    };
    this.#last = frame;
    for (const watcher of this.#watchers) watcher(frame);
    // Chromium sends the next frame only after this one is acknowledged: holding the acknowledgement back
    // bounds the frame rate at the source, and no frame is ever left unacknowledged.
    const now = this.#clock.now();
    const wait = Math.max(0, this.#lastAckAt + 1000 / this.#limits.maxFps - now);
    const ack = () => {
      this.#acks.delete(timer);
      this.#lastAckAt = this.#clock.now();
      void this.#cdp?.send('Page.screencastFrameAck', { sessionId: event.sessionId }).catch(() => {});
    };
    const timer = this.#clock.setTimeout(ack, wait);
    this.#acks.add(timer);
  }
}

function clamp(n: number): number {
  return Math.min(1, Math.max(0, n));
}
