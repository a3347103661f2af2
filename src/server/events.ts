import type { AuthSessionManager } from '../manager.js';
import type { AuthSessionInfo } from '../session/info.js';

/** What a live update tells about a session: its state and times, nothing else. */
export interface LiveUpdate {
  readonly id: string;
  readonly state: string;
  readonly updatedAt: string;
  readonly lastCheckedAt?: string;
  readonly deleted?: true;
}

function update(session: AuthSessionInfo, deleted = false): LiveUpdate {
  return {
    id: session.id,
    state: session.state,
    updatedAt: session.updatedAt,
    ...(session.lastCheckedAt === undefined ? {} : { lastCheckedAt: session.lastCheckedAt }),
    ...(deleted ? { deleted: true as const } : {}),
  };
}

const EVENTS = ['created', 'updated', 'transition', 'checked', 'refreshed', 'expired', 'failed'] as const;
const MAX_STREAMS = 100;
const KEEP_ALIVE_MS = 25_000;

/**
 * Server-Sent Events of session states (`event: session`, data {@link LiveUpdate}). Each stream has its own
 * listeners on the manager, removed when the browser goes away, the console closes or the stream is cancelled.
 */
export class EventStreams {
  readonly #manager: AuthSessionManager;
  readonly #open = new Set<() => void>();

  constructor(manager: AuthSessionManager) {
    this.#manager = manager;
  }

  /** How many streams are open now. */
  get size(): number {
    return this.#open.size;
  }

  open(signal: AbortSignal): Response {
    if (this.#open.size >= MAX_STREAMS) return new Response('Too many open event streams', { status: 503 });
    const manager = this.#manager;
    const encoder = new TextEncoder();
    let end: () => void = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = (text: string) => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            end();
          }
        };
        const onSession = (e: { session: AuthSessionInfo }) =>
          send(`event: session\ndata: ${JSON.stringify(update(e.session))}\n\n`);
        const onDeleted = (e: { session: AuthSessionInfo }) =>
          send(`event: session\ndata: ${JSON.stringify(update(e.session, true))}\n\n`);
        for (const name of EVENTS) manager.on(name, onSession);
        manager.on('deleted', onDeleted);
        const keepAlive = setInterval(() => send(': keep-alive\n\n'), KEEP_ALIVE_MS);
        keepAlive.unref?.();
        let ended = false;
        end = () => {
          if (ended) return;
          ended = true;
          clearInterval(keepAlive);
          for (const name of EVENTS) manager.off(name, onSession);
          manager.off('deleted', onDeleted);
          signal.removeEventListener('abort', end);
          this.#open.delete(end);
          try {
            controller.close();
          } catch {
            // already closed or cancelled
          }
        };
        this.#open.add(end);
        if (signal.aborted) end();
        else signal.addEventListener('abort', end, { once: true });
        send('retry: 5000\n: connected\n\n');
      },
      cancel: () => end(),
    });
    return new Response(stream, {
      headers: {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
      },
    });
  }

  /** Ends every open stream. */
  close(): void {
    for (const end of [...this.#open]) end();
  }
}
