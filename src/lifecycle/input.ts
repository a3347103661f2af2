import type { InputRequest } from '../define.js';
import { durationOption } from '../duration.js';
import { AuthSessionError } from '../errors.js';
import type { SessionRecord } from '../session/record.js';

/** How long a login waits for an answer to one `requestInput` before `INPUT_TIMEOUT`: 5 minutes. */
export const DEFAULT_INPUT_TIMEOUT_MS = 5 * 60_000;

/** Longest answer accepted (a code, a choice, a short text): anything longer is a mistake. */
export const MAX_INPUT_LENGTH = 4096;

const MAX_KIND = 64;
const MAX_MESSAGE = 2000;
const MAX_CHOICES = 100;

/** A request for input with the id the library gave it: what the application sees and answers. */
export interface PendingInputRequest extends InputRequest {
  /** Random id of this request; `resume` can name it to be sure it answers this one. */
  readonly id: string;
}

/**
 * Validates what a hook passed to `requestInput` and returns a clean copy (only `kind`, `message` and
 * `choices`). Throws `INVALID_OPTIONS` naming the field.
 *
 * @example
 * ```ts
 * parseInputRequest({ kind: 'otp', message: 'Enter the code we e-mailed you' });
 * ```
 */
export function parseInputRequest(request: unknown): InputRequest {
  const bad = (why: string) => new AuthSessionError('INVALID_OPTIONS', `requestInput(request): ${why}`);
  if (typeof request !== 'object' || request === null) throw bad('expected { kind, message, choices? }');
  const { kind, message, choices } = request as Record<string, unknown>;
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > MAX_KIND) {
    throw bad(`"kind" must be a non-empty string of at most ${MAX_KIND} characters, e.g. 'otp'`);
  }
  if (typeof message !== 'string' || message.length > MAX_MESSAGE) {
    throw bad(`"message" must be a string of at most ${MAX_MESSAGE} characters`);
  }
  if (choices === undefined) return { kind, message };
  if (
    !Array.isArray(choices) ||
    choices.length === 0 ||
    choices.length > MAX_CHOICES ||
    !choices.every((c) => typeof c === 'string' && c.length <= MAX_INPUT_LENGTH)
  ) {
    throw bad(`"choices" must be a non-empty array of at most ${MAX_CHOICES} strings`);
  }
  return { kind, message, choices: [...choices] };
}

/**
 * Checks an answer against its request: a string of at most {@link MAX_INPUT_LENGTH} characters, one of the
 * `choices` when there are some. Throws `INVALID_OPTIONS`; the message never quotes the answer.
 *
 * @example
 * ```ts
 * assertValidAnswer({ id: 'r1', kind: 'otp', message: 'Code?' }, '123456');
 * ```
 */
export function assertValidAnswer(request: InputRequest, answer: unknown, sessionId?: string): string {
  if (typeof answer !== 'string') {
    throw new AuthSessionError('INVALID_OPTIONS', 'An input answer must be a string', { sessionId });
  }
  if (answer.length > MAX_INPUT_LENGTH) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `An input answer must be at most ${MAX_INPUT_LENGTH} characters long`,
      { sessionId },
    );
  }
  if (request.choices !== undefined && !request.choices.includes(answer)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      `The answer to the "${request.kind}" request must be one of its choices`,
      { sessionId },
    );
  }
  return answer;
}

/**
 * The input timeout that applies: the call's, else the auth's `inputTimeout`, else
 * {@link DEFAULT_INPUT_TIMEOUT_MS}. Throws `INVALID_OPTIONS` when a given one is not a positive number.
 *
 * @example
 * ```ts
 * resolveInputTimeout({ inputTimeout: 60_000 }, {}); // 60000
 * ```
 */
export function resolveInputTimeout(
  auth: { readonly inputTimeout?: unknown },
  call: { readonly inputTimeout?: unknown },
): number {
  const value = call.inputTimeout ?? auth.inputTimeout;
  if (value === undefined) return DEFAULT_INPUT_TIMEOUT_MS;
  assertInputTimeout(value, 'inputTimeout');
  return value;
}

/**
 * Throws `INVALID_OPTIONS` unless `value` is a positive, finite number of milliseconds.
 *
 * @example
 * ```ts
 * assertInputTimeout(options.inputTimeout, 'startCreate: "inputTimeout"');
 * ```
 */
export function assertInputTimeout(value: unknown, where: string): asserts value is number {
  durationOption(value, where);
}

/**
 * The input request as shown on the pending record (and by `get()`): kind and message only, never an answer.
 *
 * @example
 * ```ts
 * await lifecycle.commit(id, showInput(loginId, shownRequest(request), operationId));
 * ```
 */
export function shownRequest(request: PendingInputRequest): NonNullable<SessionRecord['input']> {
  return {
    id: request.id,
    kind: request.kind,
    message: request.message,
    ...(request.choices === undefined ? {} : { choices: [...request.choices] }),
  };
}
