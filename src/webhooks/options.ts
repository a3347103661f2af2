import { createHash } from 'node:crypto';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import { quoteShort } from '../input-limits.js';
import { assertKnownOptions, WEBHOOK_OPTION_NAMES } from '../option-names.js';

/** Every type of webhook event, in the order the docs list them. */
export const WEBHOOK_EVENT_TYPES = [
  'session.created',
  'session.refreshed',
  'session.expired',
  'session.failed',
  'session.input_required',
  'session.expiring',
  'session.deleted',
] as const;

/** The type of a webhook event (the body's `type`). */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Default of {@link WebhookEndpoint.timeoutMs}: 10 seconds. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Default of {@link WebhookEndpoint.retryWindowMs}: 1 hour. */
export const DEFAULT_WEBHOOK_RETRY_WINDOW_MS = 60 * 60_000;

/**
 * One HTTP endpoint that receives the manager's events (manager option `webhooks`), signed per the Standard
 * Webhooks spec with its `secret`.
 *
 * @example
 * ```ts
 * const endpoint: WebhookEndpoint = {
 *   url: 'https://app.example/hooks/auth-sessions',
 *   secret: process.env.AUTH_SESSIONS_WEBHOOK_SECRET ?? '',
 *   events: ['session.expired', 'session.input_required'],
 * };
 * ```
 */
export interface WebhookEndpoint {
  /** Where events are POSTed: an `http:` or `https:` URL without user name or password. */
  readonly url: string;
  /** The signing secret: `whsec_` followed by base64 of 24 to 64 random bytes. */
  readonly secret: string;
  /**
   * The event types this endpoint receives.
   * @default every type
   */
  readonly events?: readonly WebhookEventType[];
  /**
   * Milliseconds one delivery attempt may take (connect, send, answer) before it counts as failed.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * Milliseconds after the event during which failed deliveries are retried (with growing delays); an event
   * still undelivered then is dropped with a `warning` event.
   * @default 3600000 (1 hour)
   */
  readonly retryWindowMs?: number;
}

/** An endpoint as checked: its id in the outbox is a hash of its URL (never of its secret). */
export interface ResolvedEndpoint {
  /** Stable across processes configured with the same URL. */
  readonly id: string;
  readonly url: string;
  /** `webhooks[i] (origin)`: how messages name it (a URL's path or query may hold a token). */
  readonly label: string;
  readonly secret: string;
  readonly events: ReadonlySet<WebhookEventType>;
  readonly timeoutMs: number;
  readonly retryWindowMs: number;
}

const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/** The id of an endpoint in the outbox. */
export function endpointId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/**
 * Checks the `webhooks` option once; throws `INVALID_OPTIONS` naming the option (never echoing a secret).
 * Returns the endpoints, or an empty list when the option is absent.
 */
export function resolveWebhooks(input: unknown): ResolvedEndpoint[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) {
    throw invalid('"webhooks" must be an array of { url, secret, events? }');
  }
  const out: ResolvedEndpoint[] = [];
  input.forEach((item: unknown, index) => {
    const at = `webhooks[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw invalid(`"${at}" must be an object { url, secret, events? }`);
    }
    assertKnownOptions(item, WEBHOOK_OPTION_NAMES, `"${at}"`);
    const endpoint = item as Partial<WebhookEndpoint>;
    const url = checkUrl(endpoint.url, `"${at}.url"`);
    checkSecret(endpoint.secret, `"${at}.secret"`);
    const events = checkEvents(endpoint.events, `"${at}.events"`);
    const timeoutMs = durationOption(endpoint.timeoutMs, `"${at}.timeoutMs"`) ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    const retryWindowMs =
      durationOption(endpoint.retryWindowMs, `"${at}.retryWindowMs"`) ?? DEFAULT_WEBHOOK_RETRY_WINDOW_MS;
    const id = endpointId(url);
    if (out.some((e) => e.id === id)) {
      throw invalid(`"${at}.url" is listed twice in "webhooks"; give each endpoint once`);
    }
    out.push({
      id,
      url,
      label: `webhooks[${index}] (${new URL(url).origin})`,
      secret: endpoint.secret as string,
      events,
      timeoutMs,
      retryWindowMs,
    });
  });
  return out;
}

function checkUrl(value: unknown, where: string): string {
  if (typeof value !== 'string') throw invalid(`${where} must be an http(s) URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${where} must be an absolute http(s) URL, e.g. "https://app.example/hooks"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${where} must use http: or https:, not ${quoteShort(url.protocol)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(
      `${where} must not carry a user name or password; the signature authenticates each request`,
    );
  }
  return url.href;
}

function checkSecret(value: unknown, where: string): void {
  const hint = 'a Standard Webhooks secret: "whsec_" followed by base64 of 24 to 64 random bytes';
  if (typeof value !== 'string' || !SECRET_PATTERN.test(value)) throw invalid(`${where} must be ${hint}`);
  const bytes = Buffer.from(value.slice('whsec_'.length), 'base64').length;
  if (bytes < 24 || bytes > 64) throw invalid(`${where} must be ${hint} (it decodes to ${bytes} bytes)`);
}

function checkEvents(value: unknown, where: string): ReadonlySet<WebhookEventType> {
  if (value === undefined) return new Set(WEBHOOK_EVENT_TYPES);
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid(`${where} must be a non-empty array of event types (leave it out for every type)`);
  }
  for (const type of value) {
    if (!(WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(type)) {
      throw invalid(
        `${where} has an unknown event type ${quoteShort(type, 40)}; known types: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
      );
    }
  }
  return new Set(value as WebhookEventType[]);
}

function invalid(message: string): AuthSessionError {
  return new AuthSessionError('INVALID_OPTIONS', message);
}
