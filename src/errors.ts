/**
 * Every stable error code the library throws. Codes never change meaning between releases; match on
 * `err.code`, never on the message.
 */
export type AuthSessionErrorCode =
  | 'SESSION_EXPIRED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_EXISTS'
  | 'UNKNOWN_AUTH'
  | 'INVALID_CREDENTIALS'
  | 'INVALID_OPTIONS'
  | 'INVALID_STATE'
  | 'INVALID_HOOK_RESULT'
  | 'ILLEGAL_TRANSITION'
  | 'CREATE_FAILED'
  | 'CHECK_FAILED'
  | 'HOOK_TIMEOUT'
  | 'DECRYPT_FAILED'
  | 'KEY_MISMATCH'
  | 'CORRUPT_RECORD'
  | 'STORAGE_UNAVAILABLE'
  | 'STALE_WRITE'
  | 'LOCK_TIMEOUT'
  | 'LEASE_TIMEOUT'
  | 'LEASE_LOST'
  | 'BROWSER_UNAVAILABLE'
  | 'RECORDER_CLOSED'
  | 'RECORDER_TIMEOUT'
  | 'INPUT_REQUIRED'
  | 'INPUT_TIMEOUT'
  | 'OPERATION_NOT_FOUND'
  | 'ABORTED'
  | 'CLOSED'
  | 'TARGET_UNREACHABLE'
  | 'PROXY_ERROR'
  | 'AUTH_INVALID'
  | 'WEBHOOK_UNDELIVERED';

/** Options accepted by {@link AuthSessionError}. */
export interface AuthSessionErrorOptions {
  /** The underlying error, when there is one. Never carries a secret the library put there. */
  readonly cause?: unknown;
  /** The session the error is about, when there is one. */
  readonly sessionId?: string;
  /** An HTTP-like status, for applications that map errors to responses. */
  readonly status?: number;
}

/**
 * The one error class of `auth-sessions`. Every fault the library throws is an `AuthSessionError` with a
 * stable {@link AuthSessionErrorCode} in `code`; the message is for people, the code for programs.
 *
 * @example
 * ```ts
 * try {
 *   await manager.run(id, task);
 * } catch (err) {
 *   if (err instanceof AuthSessionError && err.code === 'SESSION_EXPIRED') askUserToLogInAgain();
 *   else throw err;
 * }
 * ```
 */
export class AuthSessionError extends Error {
  /** Stable machine-readable code. */
  readonly code: AuthSessionErrorCode;
  /** The session concerned, if any. */
  readonly sessionId: string | undefined;
  /** HTTP-like status: 401 for `SESSION_EXPIRED`, 404 for not found, 503 for infrastructure faults. */
  readonly status: number | undefined;

  constructor(code: AuthSessionErrorCode, message: string, options: AuthSessionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthSessionError';
    this.code = code;
    this.sessionId = options.sessionId;
    this.status = options.status ?? defaultStatus(code);
  }

  /** A plain JSON view: code, message, session id and status (never the cause, which may come from user code). */
  toJSON(): {
    name: string;
    code: AuthSessionErrorCode;
    message: string;
    sessionId?: string;
    status?: number;
  } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.sessionId === undefined ? {} : { sessionId: this.sessionId }),
      ...(this.status === undefined ? {} : { status: this.status }),
    };
  }
}

function defaultStatus(code: AuthSessionErrorCode): number | undefined {
  switch (code) {
    case 'SESSION_EXPIRED':
      return 401;
    case 'SESSION_NOT_FOUND':
    case 'OPERATION_NOT_FOUND':
      return 404;
    case 'TARGET_UNREACHABLE':
    case 'PROXY_ERROR':
    case 'STORAGE_UNAVAILABLE':
    case 'BROWSER_UNAVAILABLE':
      return 503;
    default:
      return undefined;
  }
}

/**
 * Thrown by a task passed to `manager.run` when it notices mid-task that it is no longer logged in. The
 * manager then checks the session again (refreshing it when it can) and retries the task once.
 *
 * @example
 * ```ts
 * await manager.run(id, async ({ page }) => {
 *   await page.goto('https://crm.example/reports');
 *   if (page.url().includes('/login')) throw new AuthSessionInvalidError();
 * });
 * ```
 */
export class AuthSessionInvalidError extends AuthSessionError {
  constructor(message = 'The task found the session logged out', options: AuthSessionErrorOptions = {}) {
    super('AUTH_INVALID', message, options);
    this.name = 'AuthSessionInvalidError';
  }
}

/** True when `err` is an {@link AuthSessionError}, optionally with the given code. */
export function isAuthSessionError(err: unknown, code?: AuthSessionErrorCode): err is AuthSessionError {
  return err instanceof AuthSessionError && (code === undefined || err.code === code);
}

/** Field paths of zod issues, never the values. */
export function issuePaths(error: { issues: readonly { path: readonly PropertyKey[] }[] }): string {
  const paths = error.issues.map((i) => (i.path.length ? i.path.map(String).join('.') : '(root)'));
  return [...new Set(paths)].join(', ');
}
