import { type CommandContext, note, str } from './command-context.js';
import { parseJsonInput, readAll, readInput } from './command-input.js';
import { UsageError } from './exit-codes.js';
import { promptHidden, promptVisible } from './prompt.js';

/** Prompts for the credentials of `auth`: each field (secrets without echo), or JSON. */
export async function promptCredentials(
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

/** Whether stdin is a terminal that can be prompted on. */
export function hasTerminal(ctx: CommandContext): boolean {
  return ctx.io.stdin.isTTY === true && typeof ctx.io.stdin.setRawMode === 'function';
}

/** Credentials from --credentials-file / --credentials-stdin, or undefined when neither was given. */
export async function credentialsFromOptions(ctx: CommandContext, command: string): Promise<unknown> {
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
