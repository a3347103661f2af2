import type { AuthSessionManager } from '../manager.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { SessionState } from '../session/states.js';

/** One page of the sessions list. */
export interface SessionPage {
  readonly sessions: AuthSessionInfo[];
  /** Cursor of the next page, when there are more sessions. */
  readonly next?: string;
}

/** `customer=acme, tier=gold` → labels; undefined when malformed; `{}` for none. */
export function parseLabels(text: string | undefined): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  if (text === undefined) return labels;
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const at = part.indexOf('=');
    if (at <= 0) return undefined;
    labels[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return labels;
}

/** The cursor is how many matching sessions came before the page (base36, opaque to people). */
function offsetOf(cursor: string | undefined): number {
  if (cursor === undefined || !/^[0-9a-z]{1,8}$/.test(cursor)) return 0;
  return Number.parseInt(cursor, 36);
}

/**
 * One page of the sessions matching a filter, streamed from `manager.sessions()` (the store's index narrows
 * label, state and auth filters): at most `offset + limit + 1` sessions are read, never the whole store.
 */
export async function listSessions(
  manager: AuthSessionManager,
  filter: {
    readonly auth?: string;
    readonly state?: SessionState;
    readonly labels: Readonly<Record<string, string>>;
    readonly cursor: string | undefined;
    readonly limit: number;
  },
): Promise<SessionPage> {
  const offset = offsetOf(filter.cursor);
  const sessions: AuthSessionInfo[] = [];
  let seen = 0;
  let more = false;
  for await (const info of manager.sessions({
    ...(filter.auth === undefined ? {} : { auth: filter.auth }),
    ...(filter.state === undefined ? {} : { state: filter.state }),
    ...(Object.keys(filter.labels).length ? { labels: filter.labels } : {}),
  })) {
    if (seen++ < offset) continue;
    if (sessions.length === filter.limit) {
      more = true;
      break;
    }
    sessions.push(info);
  }
  return more ? { sessions, next: (offset + sessions.length).toString(36) } : { sessions };
}
