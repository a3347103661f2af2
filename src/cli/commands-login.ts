import type { AuthSessionInfo } from '../session/info.js';
import { parseDuration, parseLabels } from './args.js';
import { type Command, emitJson, list, note, notFound, out, str } from './command-context.js';
import { credentialsFromOptions, hasTerminal, promptCredentials } from './credentials-input.js';
import { EXIT, UsageError } from './exit-codes.js';
import { formatDuration, Progress } from './output.js';
import { sessionLine } from './session-text.js';

/** `auth-sessions record <auth>`: a person logs in in a browser window. */
export const recordCommand: Command = async (ctx) => {
  const auth = ctx.positionals.auth!;
  const id = str(ctx, 'id');
  const labels = parseLabels(list(ctx, 'label'));
  const timeout = str(ctx, 'timeout');
  const timeoutMs = timeout === undefined ? undefined : parseDuration(timeout, '--timeout');
  const description = ctx.manager.describeAuth(auth);
  if (description.type !== 'recorder') {
    throw new UsageError(
      `Auth "${auth}" is credentials-based: its sessions log in with credentials (create them in code; change them with "auth-sessions update")`,
    );
  }
  note(
    ctx,
    `A browser window opens at ${description.startUrl}: log in there. Waiting up to ${formatDuration(timeoutMs ?? 600_000)}…`,
  );
  const progress = new Progress(ctx.io.stderr, 'Waiting for the login…', { spin: true });
  let info: AuthSessionInfo;
  try {
    info = await ctx.manager.record(auth, {
      ...(id === undefined ? {} : { id }),
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      headless: false,
      signal: ctx.io.signal,
    });
  } finally {
    progress.done();
  }
  if (ctx.json) emitJson(ctx, info);
  else out(ctx, sessionLine(ctx, info, 'recorded'));
  return EXIT.OK;
};

/** `auth-sessions create <auth>`: logs in with credentials from a file, stdin or prompts. */
export const createCommand: Command = async (ctx) => {
  const auth = ctx.positionals.auth!;
  const id = str(ctx, 'id');
  const labels = parseLabels(list(ctx, 'label'));
  const description = ctx.manager.describeAuth(auth);
  if (description.type !== 'credentials') {
    throw new UsageError(
      `Auth "${auth}" is recorder-based: a person logs in by hand ("auth-sessions record ${auth}")`,
    );
  }
  let credentials = await credentialsFromOptions(ctx, 'create');
  if (credentials === undefined) {
    if (!hasTerminal(ctx)) {
      throw new UsageError(
        'create: give --credentials-file <file> or --credentials-stdin (no terminal to prompt on)',
      );
    }
    credentials = await promptCredentials(ctx, auth, 'Credentials');
  }
  const progress = new Progress(ctx.io.stderr, 'Logging in…', { spin: true });
  let info: AuthSessionInfo;
  try {
    info = await ctx.manager.create(auth, {
      credentials,
      ...(id === undefined ? {} : { id }),
      ...(Object.keys(labels).length ? { labels } : {}),
      signal: ctx.io.signal,
    });
  } finally {
    progress.done();
  }
  if (ctx.json) emitJson(ctx, info);
  else out(ctx, sessionLine(ctx, info, 'created'));
  return EXIT.OK;
};

/** `auth-sessions update <id>`: new credentials and/or labels. */
export const updateCommand: Command = async (ctx) => {
  const id = ctx.positionals.id!;
  const set = parseLabels(list(ctx, 'label'));
  const remove = list(ctx, 'remove-label') ?? [];
  const changesLabels = Object.keys(set).length > 0 || remove.length > 0;
  const current = await ctx.manager.get(id);
  if (!current) throw notFound(id);
  let credentials = await credentialsFromOptions(ctx, 'update');
  if (credentials === undefined && !changesLabels) {
    if (!hasTerminal(ctx)) {
      throw new UsageError(
        'update: nothing to change; give --credentials-file <file>, --credentials-stdin or --label (no terminal to prompt on)',
      );
    }
    credentials = await promptCredentials(ctx, current.auth);
  }
  let labels: Record<string, string> | undefined;
  if (changesLabels) {
    labels = { ...current.labels, ...set };
    for (const key of remove) delete labels[key];
  }
  const info = await ctx.manager.update(id, {
    ...(credentials === undefined ? {} : { credentials }),
    ...(labels === undefined ? {} : { labels }),
    signal: ctx.io.signal,
  });
  if (ctx.json) emitJson(ctx, info);
  else out(ctx, sessionLine(ctx, info, 'updated'));
  return EXIT.OK;
};
