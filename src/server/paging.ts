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

/** Where a page starts: after `offset` matching sessions, the last of them being `after`. */
interface Cursor {
  readonly offset: number;
  readonly after?: string;
}

/** `<offset in base36>.<id of the last session before the page, base64url>`: opaque to people. */
function encodeCursor(cursor: Cursor): string {
  return `${cursor.offset.toString(36)}.${Buffer.from(cursor.after ?? '', 'utf8').toString('base64url')}`;
}

function decodeCursor(text: string | undefined): Cursor {
  const match = text === undefined ? null : /^([0-9a-z]{1,8})(?:\.([\w-]{0,400}))?$/.exec(text);
  if (match === null) return { offset: 0 };
  const after = match[2] ? Buffer.from(match[2], 'base64url').toString('utf8') : '';
  return { offset: Number.parseInt(match[1]!, 36), ...(after ? { after } : {}) };
}

/**
 * One page of the sessions matching a filter, streamed from `manager.sessions()`: the store's index narrows
 * label, state and auth filters, and a page starts after the last session of the page before (`after`: the
 * sessions before it are skipped without being decoded). When that session is gone, the page falls back to
 * counting `offset` matching sessions. At most one session more than the page is read past its start.
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
  const cursor = decodeCursor(filter.cursor);
  const base = {
    ...(filter.auth === undefined ? {} : { auth: filter.auth }),
    ...(filter.state === undefined ? {} : { state: filter.state }),
    ...(Object.keys(filter.labels).length ? { labels: filter.labels } : {}),
  };
  const read = async (after: string | undefined, skip: number): Promise<SessionPage> => {
    const sessions: AuthSessionInfo[] = [];
    let seen = 0;
    let more = false;
    for await (const info of manager.sessions({ ...base, ...(after === undefined ? {} : { after }) })) {
      if (seen++ < skip) continue;
      if (sessions.length === filter.limit) {
        more = true;
        break;
      }
      sessions.push(info);
    }
    const last = sessions.at(-1);
    return more && last !== undefined
      ? { sessions, next: encodeCursor({ offset: cursor.offset + sessions.length, after: last.id }) }
      : { sessions };
  };
  if (cursor.after !== undefined) {
    const page = await read(cursor.after, 0);
    if (page.sessions.length > 0) return page;
  }
  return read(undefined, cursor.offset);
}
