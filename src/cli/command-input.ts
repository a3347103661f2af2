import { readFile } from 'node:fs/promises';
import { parseJsonSafely } from '../session/record.js';
import type { CommandContext } from './command-context.js';
import { UsageError } from './exit-codes.js';

const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** Reads a stream to its end (at most 16 MiB); `what` names it in the error. */
export async function readAll(stream: AsyncIterable<string | Buffer>, what: string): Promise<string> {
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

/** Reads a file, or stdin for `-`. */
export async function readInput(ctx: CommandContext, file: string, what: string): Promise<string> {
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
export function parseJsonInput(text: string, what: string): unknown {
  try {
    return parseJsonSafely(text);
  } catch {
    throw new UsageError(`${what} is not valid JSON (or uses a forbidden key such as "__proto__")`);
  }
}
