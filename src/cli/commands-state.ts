import { open } from 'node:fs/promises';
import type { AuthSessionManager } from '../manager.js';
import { parseLabels } from './args.js';
import { type Command, emitJson, list, note, out, str } from './command-context.js';
import { parseJsonInput, readInput } from './command-input.js';
import { credentialsFromOptions } from './credentials-input.js';
import { EXIT, UsageError } from './exit-codes.js';
import { sessionLine } from './session-text.js';

/** `auth-sessions export <id>`: the browser state, to stdout or a file made mode 0600. */
export const exportCommand: Command = async (ctx) => {
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

/** `auth-sessions import <auth> <file>`: stores a browser state made elsewhere. */
export const importCommand: Command = async (ctx) => {
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
