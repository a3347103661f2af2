import type { AuthSessionInfo } from '../session/info.js';
import { SESSION_STATES, type SessionState } from '../session/states.js';
import { parseCount, parseLabels } from './args.js';
import { type Command, emitJson, list, notFound, out, str } from './command-context.js';
import { EXIT, UsageError } from './exit-codes.js';
import { formatAge, formatAgo, formatTime, Progress, stateStyle, table } from './output.js';
import { historyTable, labelsText, sessionLine } from './session-text.js';

/** `auth-sessions list`: the sessions, filtered. */
export const listCommand: Command = async (ctx) => {
  const states = list(ctx, 'state');
  for (const s of states ?? []) {
    if (!(SESSION_STATES as readonly string[]).includes(s)) {
      throw new UsageError(`--state must be one of ${SESSION_STATES.join(', ')}, got "${s}"`);
    }
  }
  const labels = parseLabels(list(ctx, 'label'));
  const limit = parseCount(str(ctx, 'limit'), '--limit');
  const auth = str(ctx, 'auth');
  const progress = new Progress(ctx.io.stderr, 'Reading sessions…');
  const rows: AuthSessionInfo[] = [];
  try {
    for await (const info of ctx.manager.sessions({
      ...(auth === undefined ? {} : { auth }),
      ...(states ? { state: states as SessionState[] } : {}),
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(limit === undefined ? {} : { limit }),
    })) {
      rows.push(info);
      progress.update(rows.length);
    }
  } finally {
    progress.done();
  }
  if (ctx.json) {
    emitJson(ctx, rows);
    return EXIT.OK;
  }
  if (rows.length === 0) {
    out(ctx, ctx.paint('dim', 'No sessions.'));
    return EXIT.OK;
  }
  const body = rows.map((s) => [
    s.id,
    s.auth,
    ctx.paint(stateStyle(s.state), s.state),
    formatAge(ctx.now - Date.parse(s.createdAt)),
    formatAgo(s.lastCheckedAt, ctx.now),
    labelsText(s.labels),
  ]);
  out(ctx, table(['ID', 'AUTH', 'STATE', 'AGE', 'LAST CHECK', 'LABELS'], body, ctx.paint));
  out(ctx, ctx.paint('dim', `${rows.length} session${rows.length === 1 ? '' : 's'}`));
  return EXIT.OK;
};

/** `auth-sessions show <id>`: a session and its history. */
export const showCommand: Command = async (ctx) => {
  const id = ctx.positionals.id!;
  const limit = parseCount(str(ctx, 'limit'), '--limit');
  const info = await ctx.manager.get(id);
  if (!info) throw notFound(id);
  const history = await ctx.manager.history(id, limit === undefined ? {} : { limit });
  if (ctx.json) {
    emitJson(ctx, { session: info, history });
    return EXIT.OK;
  }
  const field = (name: string, value: string | undefined) =>
    value ? [`  ${ctx.paint('dim', name.padEnd(11))} ${value}`] : [];
  const when = (iso: string | undefined) =>
    iso ? `${formatTime(iso)} (${formatAgo(iso, ctx.now)})` : undefined;
  const lines = [
    `${ctx.paint('bold', info.id)}  ${info.auth} (${info.type})  ${ctx.paint(stateStyle(info.state), info.state)}`,
    ...field('created', when(info.createdAt)),
    ...field('updated', when(info.updatedAt)),
    ...field('last check', info.lastCheckedAt ? when(info.lastCheckedAt) : 'never'),
    ...field('expired', when(info.expiredAt)),
    ...field('labels', labelsText(info.labels)),
    ...field('proxy', info.proxy?.server),
    ...field('failure', info.failure ? `${info.failure.code}: ${info.failure.message}` : undefined),
    ...field('waits for', info.input ? `${info.input.kind}: ${info.input.message}` : undefined),
    ...field('revision', String(info.revision)),
    '',
    history.length
      ? `${ctx.paint('bold', 'History')} ${ctx.paint('dim', `(${history.length} latest, oldest first)`)}`
      : ctx.paint('dim', 'No history.'),
  ];
  out(ctx, lines.join('\n'));
  if (history.length) out(ctx, historyTable(ctx, history));
  return EXIT.OK;
};

/** `auth-sessions validate <id>`: checks (and refreshes) a session now. */
export const validateCommand: Command = async (ctx) => {
  const id = ctx.positionals.id!;
  const info = await ctx.manager.validate(id, { signal: ctx.io.signal });
  if (ctx.json) emitJson(ctx, info);
  else out(ctx, sessionLine(ctx, info, 'checked'));
  return EXIT.OK;
};
