import type { Hono } from 'hono';
import type { Clock } from '../../clock.js';

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
  /**
   * Milliseconds a person has to log in on the live view of a recorder auth (the recorder's `timeoutMs`).
   * @default 600000 (10 minutes)
   */
  readonly recordTimeoutMs?: number;
  /**
   * Milliseconds a live recording goes on with no page watching it (the person closed the tab) before it is
   * given up and its browser closed.
   * @default 60000
   */
  readonly leaveTimeoutMs?: number;
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

/** Default of {@link ConnectLinkOptions.ttlMs}: 15 minutes. */
export const DEFAULT_LINK_TTL_MS = 15 * 60_000;
/** The longest a link may live: a week. */
export const MAX_LINK_TTL_MS = 7 * 24 * 60 * 60_000;
/** How long a visit (the browser that used a link) may go on. */
export const MAX_VISIT_MS = 60 * 60_000;
/** Request bodies larger than this are refused (413): credentials forms and input events are small. */
export const MAX_BODY_BYTES = 64 * 1024;
/** The longest pasted text the live view takes in one event. */
export const MAX_PASTE_CHARS = 10_000;
export const VISIT_COOKIE = 'connect_visit';
