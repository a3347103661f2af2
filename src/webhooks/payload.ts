import type { AuthSessionEventName, AuthSessionEvents, ErrorSummary } from '../monitor/events.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { WebhookEventType } from './options.js';

/**
 * The JSON body of a webhook request. Never a secret: the session as `manager.get` shows it, an error as
 * its code and the library's message.
 *
 * @example
 * ```ts
 * const body = JSON.parse(rawBody) as WebhookPayload;
 * if (body.type === 'session.expired') await askToLogInAgain(body.data.session.id);
 * ```
 */
export interface WebhookPayload {
  readonly type: WebhookEventType;
  /** When the event happened (ISO 8601). */
  readonly timestamp: string;
  readonly data: {
    readonly session: AuthSessionInfo;
    /** Why (`session.expired`, `session.failed`): a stable code and the library's message. */
    readonly error?: { readonly code: string; readonly message: string };
    /** `session.input_required`: the operation waiting (answer it with `manager.resume(operationId, …)`). */
    readonly operationId?: string;
    /** `session.input_required`: what is asked (kind only, e.g. `otp`) and the request's id. */
    readonly input?: { readonly requestId: string; readonly kind: string };
    /** `session.expiring`: when the session lapses (ISO 8601). */
    readonly expiresAt?: string;
  };
}

/** The manager events that become webhook events, and how. */
export const WEBHOOK_SOURCES = {
  created: 'session.created',
  refreshed: 'session.refreshed',
  expired: 'session.expired',
  failed: 'session.failed',
  'input:requested': 'session.input_required',
  expiring: 'session.expiring',
  deleted: 'session.deleted',
} as const satisfies Partial<Record<AuthSessionEventName, WebhookEventType>>;

/** A manager event that becomes a webhook event. */
export type WebhookSource = keyof typeof WEBHOOK_SOURCES;

/** The webhook payload of a manager event. */
export function toPayload<E extends WebhookSource>(
  event: E,
  payload: AuthSessionEvents[E],
  timestamp: string,
): WebhookPayload {
  const type = WEBHOOK_SOURCES[event];
  const data: Record<string, unknown> = { session: payload.session };
  if (event === 'expired') data.error = errorOf((payload as AuthSessionEvents['expired']).reason);
  if (event === 'failed') data.error = errorOf((payload as AuthSessionEvents['failed']).error);
  if (event === 'input:requested') {
    const p = payload as AuthSessionEvents['input:requested'];
    if (p.operationId !== undefined) data.operationId = p.operationId;
    data.input = { requestId: p.request.id, kind: p.request.kind };
  }
  if (event === 'expiring') data.expiresAt = (payload as AuthSessionEvents['expiring']).expiresAt;
  return { type, timestamp, data: data as WebhookPayload['data'] };
}

/** Code and message only: nothing else an error carries (cause, stack) goes out. */
function errorOf(error: ErrorSummary): { code: string; message: string } {
  return { code: error.code, message: error.message };
}
