import type { Hono } from 'hono';
import type { Clock } from '../../clock.js';
import { AuthSessionError } from '../../errors.js';
import type { AuthSessionManager } from '../../manager.js';

/** What a connect link connects: an existing session, or a new one of `auth` with `labels`. */
export type ConnectTarget =
  | string
  | { readonly auth: string; readonly labels?: Readonly<Record<string, string>> };

/** Options of `connectLink`. */
export interface ConnectLinkOptions {
  /** How long the link can be used, in milliseconds. @default 900_000 (15 minutes) */
  readonly ttlMs?: number;
}

/** A signed, expiring, single-use link a person opens to log in. */
export interface ConnectLink {
  /** Absolute URL of the link. */
  readonly url: string;
  /** When the link stops working (ISO 8601). */
  readonly expiresAt: string;
}

/** What the console hands the connect pages (internal wiring). */
export interface ConnectOptions {
  /** Path the connect routes are mounted under, e.g. `/connect` (after the console's `basePath`). */
  readonly mountPath: string;
  /** The console's public origin + basePath, known once it listens (or given as `publicUrl`). */
  readonly publicUrl: () => string | undefined;
  /** Time source of link expiry. */
  readonly clock?: Clock;
}

/** The connect pages: routes to mount, and the function that makes links. */
export interface Connect {
  /** Routes, mounted by the console at `mountPath`. */
  readonly app: Hono;
  /** Makes a signed, expiring, single-use link. */
  connectLink(target: ConnectTarget, options?: ConnectLinkOptions): Promise<ConnectLink>;
  /** Ends live views and streams still open. */
  close(): Promise<void>;
}

/**
 * Builds the connect pages for `manager` (internal: `createConsole` mounts them).
 * Placeholder until the connect pages land; the console wires it in.
 */
export function createConnect(_manager: AuthSessionManager, _options: ConnectOptions): Connect {
  throw new AuthSessionError('INVALID_STATE', 'Connect links are not available in this build');
}
