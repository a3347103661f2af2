import { AuthSessionError } from '../errors.js';
import type { AuthSessionManager } from '../manager.js';
import { type OutStream, type Paint, safeJson, safeText } from './output.js';
import type { InStream } from './prompt.js';

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

/** Writes a line for people to stdout. */
export function out(ctx: CommandContext, text: string): void {
  ctx.io.stdout.write(`${safeText(text)}\n`);
}

/** Writes a line for people to stderr (notes, warnings, prompts). */
export function note(ctx: CommandContext, text: string): void {
  ctx.io.stderr.write(`${safeText(text)}\n`);
}

/** Writes a value as JSON to stdout (`--json`). */
export function emitJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${safeJson(value)}\n`);
}

/** The value of a string option, or undefined. */
export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The values of a repeatable option, or undefined. */
export function list(ctx: CommandContext, name: string): string[] | undefined {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : undefined;
}

/** `SESSION_NOT_FOUND` for a session id given on the command line. */
export function notFound(id: string): AuthSessionError {
  return new AuthSessionError('SESSION_NOT_FOUND', `No session with id "${id}"`, { sessionId: id });
}
