import type { SessionRecord } from './record.js';
import type { SessionState } from './states.js';

/**
 * What the library tells about a session: never credentials, cookies, tokens or proxy passwords.
 * Timestamps are ISO 8601 strings.
 */
export interface AuthSessionInfo {
  readonly id: string;
  /** Name of the auth definition. */
  readonly auth: string;
  readonly type: 'credentials' | 'recorder';
  readonly state: SessionState;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Last successful check. */
  readonly lastCheckedAt?: string;
  /** When the session went `expired`. */
  readonly expiredAt?: string;
  /**
   * When the current login is expected to lapse, when known: from the auth's `expiresAt` hook, the `exp` of
   * a JWT in the state, or the `expires` of its `authCookies` (see the health guide).
   */
  readonly expiresAt?: string;
  /** When this process's health checks will next look at the session (only while they run here). */
  readonly nextCheckAt?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The proxy server the session is bound to (never its user name or password). */
  readonly proxy?: { readonly server: string };
  /** Why the session is `failed` or `expired`, when known. */
  readonly failure?: { readonly code: string; readonly message: string };
  /** The input a pending login waits for (kind and message only). */
  readonly input?: {
    readonly id: string;
    readonly kind: string;
    readonly message: string;
    readonly choices?: readonly string[];
  };
  /**
   * Until when the session is leased (`manager.lease`), renewed while its holder lives. Absent when no
   * lease is held; a time in the past is the lease of a holder that died without releasing it (it is free).
   */
  readonly leasedUntil?: string;
  /** Storage revision, bumped on every write. */
  readonly revision: number;
}

/** The public view of a record. */
export function toInfo(record: SessionRecord): AuthSessionInfo {
  return {
    id: record.id,
    auth: record.auth,
    type: record.type,
    state: record.state,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.lastCheckedAt === undefined ? {} : { lastCheckedAt: record.lastCheckedAt }),
    ...(record.expiredAt === undefined ? {} : { expiredAt: record.expiredAt }),
    ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }),
    labels: { ...record.labels },
    ...(record.proxy === undefined ? {} : { proxy: { server: record.proxy.server } }),
    ...(record.failure === undefined ? {} : { failure: { ...record.failure } }),
    ...(record.input === undefined ? {} : { input: { ...record.input } }),
    ...(record.lease === undefined ? {} : { leasedUntil: record.lease.until }),
    revision: record.revision,
  };
}
