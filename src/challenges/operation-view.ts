import type { AuthSessionErrorCode } from '../errors.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { OperationRecord, OperationStatus } from './operation-store.js';

/**
 * A login started with `startCreate` / `startUpdate`, as any process sees it. Never an answer or a secret.
 *
 * @example
 * ```ts
 * const op = await manager.startCreate('crm', { credentials });
 * // { id: '…', kind: 'create', status: 'running', sessionId: '…', auth: 'crm', … }
 * ```
 */
export interface AuthOperation {
  /** Random id of the operation: pass it to `operation`, `resume`, `result`, `cancel`. */
  readonly id: string;
  /** What the operation does. */
  readonly kind: 'create' | 'update';
  /**
   * `running` (logging in), `waiting_for_input` (see `request`; answer with `resume`), or final:
   * `succeeded`, `failed` (see `error`), `canceled`.
   */
  readonly status: OperationStatus;
  /** The session being created or updated. */
  readonly sessionId: string;
  /** Name of the session's auth. */
  readonly auth: string;
  /** What the login waits for, while `status` is `waiting_for_input`. */
  readonly request?: {
    readonly id: string;
    readonly kind: string;
    readonly message: string;
    readonly choices?: readonly string[];
  };
  /** The session as stored now (pending with its `input` while waiting, active once succeeded). */
  readonly session?: AuthSessionInfo;
  /** Why the operation failed or was canceled. */
  readonly error?: { readonly code: AuthSessionErrorCode; readonly message: string };
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What any process sees of a stored operation (with its session as stored now, when read). */
export function viewOf(record: OperationRecord, session: AuthSessionInfo | undefined): AuthOperation {
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    sessionId: record.sessionId,
    auth: record.auth,
    ...(record.request === undefined
      ? {}
      : {
          request: {
            id: record.request.id,
            kind: record.request.kind,
            message: record.request.message,
            ...(record.request.choices === undefined ? {} : { choices: [...record.request.choices] }),
          },
        }),
    ...(session === undefined ? {} : { session }),
    ...(record.error === undefined
      ? {}
      : { error: { code: record.error.code as AuthSessionErrorCode, message: record.error.message } }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
