import { randomBytes } from 'node:crypto';
import { createConsole } from '../server/index.js';
import { type Command, emitJson, note, notFound, out, str } from './command-context.js';
import { EXIT, UsageError } from './exit-codes.js';
import { Progress } from './output.js';
import { confirm } from './prompt.js';

/** `auth-sessions delete <id>`: deletes a session, after a confirmation (or `--yes`). */
export const deleteCommand: Command = async (ctx) => {
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

/** `auth-sessions rotate-key`: re-seals every session with the current key. */
export const rotateKeyCommand: Command = async (ctx) => {
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

/** `auth-sessions serve`: the web console, until Ctrl-C. */
export const serveCommand: Command = async (ctx) => {
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
