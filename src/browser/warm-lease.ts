import type { BrowserContext, Page } from 'playwright-core';
import { AuthSessionError } from '../errors.js';
import type { ContextLease } from './provider.js';
import { closePage, endRun, isDirty, type PageRun, startRun, trackPage } from './run-hygiene.js';
import type { BrowserState } from './state.js';

/** What a {@link WarmLease} asks of the pool that lent it. */
export interface WarmLeaseHooks {
  readonly giveBack: () => Promise<void>;
  readonly discard: () => void;
  readonly adopt: (tag: string, revision: number) => void;
  /** A page kept from an earlier run, cleaned, if any. */
  readonly takePage: () => Promise<Page | undefined>;
  /** Whether pages may be kept for the next run now. */
  readonly canKeep: () => boolean;
  /** Keeps a page for the next run once `ready` resolves true; false when it must be closed instead. */
  readonly keep: (page: Page, ready: Promise<boolean>) => boolean;
}

/** Pages lent to runs, per warm context and the lease whose run has each. */
const lent = new WeakMap<BrowserContext, Map<Page, WarmLease>>();

/**
 * A run's share of a warm context: pages opened through it are the run's and are closed by
 * {@link WarmLease.close}, which gives the context back to the pool instead of closing it.
 */
export class WarmLease implements ContextLease {
  readonly context: BrowserContext;
  readonly #lease: ContextLease;
  readonly #hooks: WarmLeaseHooks;
  readonly #runs = new Map<Page, PageRun>();
  #keepPages = true;
  #closing: Promise<void> | undefined;

  constructor(lease: ContextLease, hooks: WarmLeaseHooks) {
    this.#lease = lease;
    this.context = lease.context;
    this.#hooks = hooks;
  }

  async newPage(): Promise<Page> {
    if (this.#closing) throw new AuthSessionError('CLOSED', 'This browser context was closed');
    const page = trackPage((await this.#hooks.takePage()) ?? (await this.#lease.newPage()));
    this.#runs.set(page, startRun(page));
    let pages = lent.get(this.context);
    if (!pages) {
      pages = new Map();
      lent.set(this.context, pages);
    }
    pages.set(page, this);
    if (this.#closing) {
      pages.delete(page);
      await closePage(page);
    }
    return page;
  }

  /**
   * The context's state: the pages of the runs still going on beside this one are left to their own
   * captures where the provider can (see `CaptureStateOptions.inUse`).
   */
  captureState(): Promise<BrowserState> {
    const inUse = new Set<Page>();
    for (const [page, lease] of lent.get(this.context) ?? []) if (lease !== this) inUse.add(page);
    return this.#lease.captureState(inUse.size > 0 ? { inUse } : undefined);
  }

  /**
   * The run did not end well (the task threw or was abandoned and may still be using its page): its pages are
   * closed rather than kept for the next run.
   */
  keepNoPages(): void {
    this.#keepPages = false;
  }

  /** The context no longer holds a valid login (a failed check, a task that found itself logged out). */
  discard(): void {
    this.#hooks.discard();
  }

  /**
   * The state with this tag, about to be written as record `revision`, was produced from this context: runs
   * that read it may use the context.
   */
  adopt(tag: string, revision: number): void {
    this.#hooks.adopt(tag, revision);
  }

  /**
   * Ends the run: closes the pages it opened, cancels its downloads, and closes its page or keeps it for the
   * next run (cleaned in the background: the next run waits for that, this one does not). A context the run
   * changed in a way that cannot be undone is retired. Gives the context back. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const pages = lent.get(this.context);
      for (const page of this.#runs.keys()) if (pages?.get(page) === this) pages.delete(page);
      if (isDirty(this.context)) this.#hooks.discard();
      await Promise.allSettled(
        [...this.#runs.values()].map(async (run) => {
          const { page } = run;
          if (this.#keepPages && !page.isClosed() && !isDirty(page) && this.#hooks.canKeep()) {
            const ready = endRun(run, true);
            if (this.#hooks.keep(page, ready)) return;
            await ready;
          } else {
            await endRun(run, false);
          }
          await closePage(page);
        }),
      );
      this.#runs.clear();
      await this.#hooks.giveBack();
    })();
    return this.#closing;
  }
}
