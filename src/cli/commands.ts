import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { AuthSessionError } from '../errors.js';
import type { AuthSessionManager } from '../manager.js';
import type { HistoryEntry } from '../monitor/history.js';
import { createConsole } from '../server/index.js';
import type { AuthSessionInfo } from '../session/info.js';
import { parseJsonSafely } from '../session/record.js';
import { SESSION_STATES, type SessionState } from '../session/states.js';
import { type CommandName, parseCount, parseDuration, parseLabels } from './args.js';
import { completionScript } from './completion.js';
import { EXIT, UsageError } from './exit-codes.js';
import {
  formatAge,
  formatAgo,
  formatDuration,
  formatTime,
  type OutStream,
  type Paint,
  Progress,
  safeJson,
  safeText,
  stateStyle,
  table,
} from './output.js';
import { confirm, type InStream, promptHidden, promptVisible } from './prompt.js';

/** Where the CLI reads and writes, and what it runs in (process streams, or test doubles). */
export interface CliIo {
  readonly stdin: InStream & AsyncIterable<string | Buffer>;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Aborted on Ctrl-C. */
  readonly signal: AbortSignal;
}

/** What a command gets. */
export interface CommandContext {
  readonly io: CliIo;
  readonly manager: AuthSessionManager;
  readonly json: boolean;
  readonly paint: Paint;
  readonly positionals: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly now: number;
}

/** A command: resolves to its exit code. */
export type Command = (ctx: CommandContext) => Promise<number>;

const MAX_INPUT_BYTES = 16 * 1024 * 1024;

function out(ctx: CommandContext, text: string): void {
  ctx.io.stdout.write(`${safeText(text)}\n`);
}

function note(ctx: CommandContext, text: string): void {
  ctx.io.stderr.write(`${safeText(text)}\n`);
}

function emitJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${safeJson(value)}\n`);
}

function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

function list(ctx: CommandContext, name: string): string[] | undefined {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : undefined;
}

function notFound(id: string): AuthSessionError {
  return new AuthSessionError('SESSION_NOT_FOUND', `No session with id "${id}"`, { sessionId: id });
}

function labelsText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** One line about a session for people: `✔ id  auth  state  labels`. */
function sessionLine(ctx: CommandContext, info: AuthSessionInfo, verb: string): string {
  const mark = info.state === 'active' ? ctx.paint('green', '✔') : ctx.paint('yellow', '!');
  const labels = labelsText(info.labels);
  return `${mark} ${verb} ${ctx.paint('bold', info.id)} (${info.auth}): ${ctx.paint(stateStyle(info.state), info.state)}${
    labels ? `  ${ctx.paint('dim', labels)}` : ''
  }`;
}

async function readAll(stream: AsyncIterable<string | Buffer>, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_INPUT_BYTES) throw new UsageError(`${what} is larger than 16 MiB`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readInput(ctx: CommandContext, file: string, what: string): Promise<string> {
  if (file === '-') return readAll(ctx.io.stdin, 'stdin');
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `Cannot read ${what} "${file}": ${code === 'ENOENT' ? 'no such file' : (code ?? 'read error')}`,
    );
  }
}

/** JSON text into a value. Never quotes the text: it holds secrets (credentials, cookies). */
function parseJsonInput(text: string, what: string): unknown {
  try {
    return parseJsonSafely(text);
  } catch {
    throw new UsageError(`${what} is not valid JSON (or uses a forbidden key such as "__proto__")`);
  }
}

// ——— commands ———

const listCommand: Command = async (ctx) => {
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

function historyTable(ctx: CommandContext, history: readonly HistoryEntry[]): string {
  const rows = history.map((e) => [
    formatTime(e.at),
    e.kind,
    ctx.paint(e.outcome === 'ok' ? 'green' : 'red', e.outcome),
    formatDuration(e.durationMs),
    e.error ? `${e.error.code}: ${e.error.message}` : '',
  ]);
  return table(['TIME', 'KIND', 'OUTCOME', 'DURATION', 'ERROR'], rows, ctx.paint);
}

const showCommand: Command = async (ctx) => {
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

const validateCommand: Command = async (ctx) => {
  const id = ctx.positionals.id!;
  const info = await ctx.manager.validate(id, { signal: ctx.io.signal });
  if (ctx.json) emitJson(ctx, info);
  else out(ctx, sessionLine(ctx, info, 'checked'));
  return EXIT.OK;
};

const recordCommand: Command = async (ctx) => {
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

async function promptCredentials(
  ctx: CommandContext,
  auth: string,
  what = 'New credentials',
): Promise<unknown> {
  const fields = ctx.manager.describeAuth(auth).credentialFields;
  if (!fields) {
    note(ctx, `${what} for "${auth}" (typing is not shown):`);
    return parseJsonInput(
      await promptHidden(ctx.io.stdin, ctx.io.stderr, '  credentials as JSON: '),
      'The answer',
    );
  }
  note(ctx, `${what} for "${auth}" (secrets are typed without echo):`);
  const credentials: Record<string, unknown> = {};
  for (const field of fields) {
    const question = `  ${field.name}${field.optional ? ' (optional, Enter to skip)' : ''}: `;
    const ask = field.secret ? promptHidden : promptVisible;
    const answer = await ask(ctx.io.stdin, ctx.io.stderr, question);
    if (answer !== '' || !field.optional) credentials[field.name] = typedAnswer(answer, field.type);
  }
  return credentials;
}

/** A prompted answer as the schema's type wants it (`42` for a number field); else the text. */
function typedAnswer(answer: string, type: string | undefined): unknown {
  if ((type === 'number' || type === 'integer') && answer.trim() !== '' && Number.isFinite(Number(answer))) {
    return Number(answer);
  }
  if (type === 'boolean' && /^(true|false)$/i.test(answer.trim()))
    return answer.trim().toLowerCase() === 'true';
  return answer;
}

function hasTerminal(ctx: CommandContext): boolean {
  return ctx.io.stdin.isTTY === true && typeof ctx.io.stdin.setRawMode === 'function';
}

/** Credentials from --credentials-file / --credentials-stdin, or undefined when neither was given. */
async function credentialsFromOptions(ctx: CommandContext, command: string): Promise<unknown> {
  const file = str(ctx, 'credentials-file');
  const fromStdin = ctx.values['credentials-stdin'] === true;
  if (file !== undefined && fromStdin) {
    throw new UsageError(`${command}: give --credentials-file or --credentials-stdin, not both`);
  }
  if (file !== undefined) {
    return parseJsonInput(await readInput(ctx, file, 'credentials file'), file === '-' ? 'stdin' : file);
  }
  if (fromStdin) return parseJsonInput(await readAll(ctx.io.stdin, 'stdin'), 'stdin');
  return undefined;
}

const createCommand: Command = async (ctx) => {
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

const updateCommand: Command = async (ctx) => {
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

const deleteCommand: Command = async (ctx) => {
  const id = ctx.positionals.id!;
  const info = await ctx.manager.get(id);
  if (!info) throw notFound(id);
  if (ctx.values.yes !== true) {
    if (ctx.io.stdin.isTTY !== true || typeof ctx.io.stdin.setRawMode !== 'function') {
      throw new UsageError('delete: pass --yes to delete without a terminal to confirm on');
    }
    const ok = await confirm(
      ctx.io.stdin,
      ctx.io.stderr,
      `Delete session ${info.id} (${info.auth}, ${info.state}) and its secrets?`,
    );
    if (!ok) {
      note(ctx, 'Nothing deleted.');
      return EXIT.FAILURE;
    }
  }
  await ctx.manager.delete(id);
  if (ctx.json) emitJson(ctx, { deleted: id });
  else out(ctx, `${ctx.paint('green', '✔')} deleted ${ctx.paint('bold', id)}`);
  return EXIT.OK;
};

const exportCommand: Command = async (ctx) => {
  const id = ctx.positionals.id!;
  const file = str(ctx, 'out');
  const state = await ctx.manager.exportState(id);
  const text = `${JSON.stringify(state, null, 2)}\n`;
  note(
    ctx,
    `${ctx.paint('yellow', 'warning:')} this is the browser state of session ${id}: its cookies and tokens let anyone act as the user. Keep it like a password; never commit it.`,
  );
  if (file === undefined) {
    ctx.io.stdout.write(text);
    return EXIT.OK;
  }
  try {
    // The mode is set before a byte is written: `writeFile`'s mode only applies to a file it creates, and an
    // existing one (--force) would hold the state under its old permissions until a later chmod.
    const handle = await open(file, ctx.values.force === true ? 'w' : 'wx', 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EEXIST') throw new UsageError(`${file} exists; pass --force to overwrite it`);
    throw new UsageError(`Cannot write ${file}: ${code ?? 'write error'}`);
  }
  if (ctx.json) emitJson(ctx, { exported: id, out: file });
  else out(ctx, `${ctx.paint('green', '✔')} wrote ${file} (mode 0600)`);
  return EXIT.OK;
};

const importCommand: Command = async (ctx) => {
  const auth = ctx.positionals.auth!;
  const file = ctx.positionals.file!;
  const id = str(ctx, 'id');
  const labels = parseLabels(list(ctx, 'label'));
  const credentialsFile = str(ctx, 'credentials-file');
  if (credentialsFile === '-' && file === '-') {
    throw new UsageError('import: the state and the credentials cannot both come from stdin');
  }
  const state = parseJsonInput(await readInput(ctx, file, 'state file'), file === '-' ? 'stdin' : file);
  const credentials = await credentialsFromOptions(ctx, 'import');
  const info = await ctx.manager.importState(
    auth,
    state as Parameters<AuthSessionManager['importState']>[1],
    {
      ...(id === undefined ? {} : { id }),
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(ctx.values['no-check'] === true ? { check: false } : {}),
      ...(credentials === undefined ? {} : { credentials }),
      signal: ctx.io.signal,
    },
  );
  if (ctx.json) emitJson(ctx, info);
  else out(ctx, sessionLine(ctx, info, 'imported'));
  return EXIT.OK;
};

const rotateKeyCommand: Command = async (ctx) => {
  const progress = new Progress(ctx.io.stderr, 'Re-sealing sessions with the current key…', { spin: true });
  let result: { resealed: number; current: number; failed: number };
  try {
    result = await ctx.manager.rotateKey();
  } finally {
    progress.done();
  }
  if (ctx.json) emitJson(ctx, result);
  else {
    out(
      ctx,
      `${ctx.paint('green', '✔')} re-sealed ${result.resealed} session${result.resealed === 1 ? '' : 's'}; ${result.current} already used the current key`,
    );
    if (result.failed > 0) {
      out(
        ctx,
        ctx.paint(
          'red',
          `✖ ${result.failed} could not be opened with any key of the keyring (left untouched)`,
        ),
      );
    }
  }
  return result.failed > 0 ? EXIT.FAILURE : EXIT.OK;
};

const serveCommand: Command = async (ctx) => {
  const portText = str(ctx, 'port');
  if (portText !== undefined && !(/^\d+$/.test(portText) && Number(portText) <= 65_535)) {
    throw new UsageError(`--port must be a port number from 0 to 65535, got "${portText}"`);
  }
  const port = portText === undefined ? 4000 : Number(portText);
  const host = str(ctx, 'host') ?? '127.0.0.1';
  // A token of this run only: whoever has the printed URL can sign in while the command runs.
  const token = ctx.io.env.AUTH_SESSIONS_CONSOLE_TOKEN || randomBytes(32).toString('base64url');
  const web = createConsole(ctx.manager, { token });
  const listening = await web.listen({ port, host });
  try {
    const signInUrl = `${listening.url}?token=${encodeURIComponent(token)}`;
    if (ctx.json) emitJson(ctx, { url: listening.url, signInUrl });
    else {
      out(ctx, `${ctx.paint('green', '✔')} console on ${listening.url}`);
      out(ctx, `open ${signInUrl}`);
      note(ctx, ctx.paint('dim', 'The URL signs you in: do not share it. Ctrl-C stops the console.'));
    }
    await new Promise<void>((resolve) => {
      if (ctx.io.signal.aborted) resolve();
      else ctx.io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await web.close();
  }
  return EXIT.OK;
};

/** Every command, by name. */
export const COMMAND_HANDLERS: Readonly<Record<CommandName, Command>> = {
  list: listCommand,
  show: showCommand,
  validate: validateCommand,
  create: createCommand,
  record: recordCommand,
  update: updateCommand,
  delete: deleteCommand,
  export: exportCommand,
  import: importCommand,
  'rotate-key': rotateKeyCommand,
  serve: serveCommand,
  completion: async (ctx) => {
    ctx.io.stdout.write(completionScript(ctx.positionals.shell!));
    return EXIT.OK;
  },
};
