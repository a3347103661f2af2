import { Webhook } from 'standardwebhooks';
import type { Clock } from '../clock.js';

/** The outcome of one delivery attempt. */
export type PostOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** One signed request. */
export interface SignedPost {
  readonly url: string;
  readonly secret: string;
  /** The `webhook-id`. */
  readonly id: string;
  readonly body: string;
  readonly timeoutMs: number;
  /** Stamps `webhook-timestamp`. */
  readonly clock: Clock;
  /** Aborts the request (the manager closes). */
  readonly signal: AbortSignal;
}

/**
 * POSTs one webhook, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp` of this attempt by
 * `clock`, `webhook-signature`), bounded by `timeoutMs` (real time) and by `signal`. A 2xx answer is a delivery;
 * anything else (another status, a redirect, a network error, the time-out) is a failed attempt described
 * by status or condition only (the response body is never read).
 */
export async function postSigned(request: SignedPost): Promise<PostOutcome> {
  const { clock, signal, timeoutMs } = request;
  if (signal.aborted) return { ok: false, reason: 'aborted' };
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  // Real time: the request waits for real I/O, whatever clock schedules the attempts.
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timed out'));
  }, timeoutMs);
  try {
    const now = new Date(clock.now());
    const signature = new Webhook(request.secret).sign(request.id, now, request.body);
    const response = await fetch(request.url, {
      method: 'POST',
      body: request.body,
      redirect: 'manual',
      signal: controller.signal,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'auth-sessions-webhooks',
        'webhook-id': request.id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signature,
      },
    });
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return { ok: false, reason: `HTTP ${response.status}` };
  } catch (err) {
    if (timedOut) return { ok: false, reason: `no answer within ${timeoutMs} ms` };
    if (signal.aborted) return { ok: false, reason: 'aborted' };
    return { ok: false, reason: networkReason(err) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** A network failure by its code (ECONNREFUSED…), never its message (it may quote the URL). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return code && /^[A-Z0-9_]{1,40}$/.test(code) ? `connection failed (${code})` : 'connection failed';
}
