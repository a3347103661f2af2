import type { AuthSessionManager } from '../manager.js';
import { type COMMANDS, type ParsedArgs, parseCommandLine } from './args.js';
import { type CliIo, COMMAND_HANDLERS } from './commands.js';
import { completionScript } from './completion.js';
import { findConfig, loadManager } from './config.js';
import { ConfigError, EXIT, exitCodeFor, UsageError } from './exit-codes.js';
import { commandHelp, mainHelp, version } from './help.js';
import { painter, safeJson, safeText, useColor } from './output.js';

export type { CliIo } from './commands.js';

/**
 * Runs the `auth-sessions` CLI with arguments and streams; resolves to the exit code. The bin
 * (`dist/cli/main.js`) calls it with the process's streams and exits with the code.
 *
 * @example
 * ```ts
 * const code = await runCli(['list', '--json'], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const jsonRequested = argv.includes('--json');
  const errPaint = painter(useColor(io.stderr, io.env, flagsFrom(argv)));
  let parsed: ParsedArgs;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    return report(err, io, jsonRequested, false, errPaint);
  }
  if (parsed.version) {
    io.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  if (parsed.values.help === true || parsed.command === undefined) {
    io.stdout.write(parsed.command ? commandHelp(parsed.command) : mainHelp());
    return EXIT.OK;
  }
  const command = parsed.command;
  if (command === 'completion') {
    // Needs no manager: works outside a project, where shells load it.
    try {
      io.stdout.write(completionScript(parsed.positionals.shell!));
      return EXIT.OK;
    } catch (err) {
      return report(err, io, jsonRequested, false, errPaint, command);
    }
  }
  const json = parsed.values.json === true;
  const verbose = parsed.values.verbose === true;
  const flags = { color: parsed.values.color === true, noColor: parsed.values['no-color'] === true };
  const paint = painter(!json && useColor(io.stdout, io.env, flags));
  let manager: AuthSessionManager | undefined;
  // Ctrl-C: closing the manager aborts what it is doing (a login, a recording, a check) and frees the browser.
  const onAbort = () => {
    manager?.close().catch(() => {});
  };
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const path = findConfig(
      io.cwd,
      typeof parsed.values.config === 'string' ? parsed.values.config : undefined,
    );
    manager = await loadManager(path, io.cwd);
    if (io.signal.aborted) return EXIT.INTERRUPTED;
    return await COMMAND_HANDLERS[command]({
      io,
      manager,
      json,
      paint,
      positionals: parsed.positionals,
      values: parsed.values,
      now: Date.now(),
    });
  } catch (err) {
    return report(err, io, json, verbose, painter(!json && useColor(io.stderr, io.env, flags)), command);
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    if (manager) {
      // History is written in the background: make sure this short-lived process leaves it behind.
      await manager.flushHistory?.().catch(() => {});
      await manager.close().catch(() => {});
    }
  }
}

function flagsFrom(argv: readonly string[]) {
  return { color: argv.includes('--color'), noColor: argv.includes('--no-color') };
}

/** Prints an error (JSON on stdout with --json, text on stderr otherwise) and returns its exit code. */
function report(
  err: unknown,
  io: CliIo,
  json: boolean,
  verbose: boolean,
  paint: ReturnType<typeof painter>,
  command?: keyof typeof COMMANDS,
): number {
  const exitCode = exitCodeFor(err, io.signal.aborted);
  const code = errorCode(err, exitCode);
  const message = exitCode === EXIT.INTERRUPTED ? 'Interrupted' : errorMessage(err);
  if (json) {
    io.stdout.write(`${safeJson({ error: { code, message, exitCode } })}\n`);
    return exitCode;
  }
  const lines = [
    `${paint('red', 'error:')} ${message}${code.includes('_') ? paint('dim', ` (${code})`) : ''}`,
  ];
  if (err instanceof UsageError) {
    lines.push(`Run "auth-sessions ${command ? `${command} ` : ''}--help" for usage.`);
  }
  const hint = hintFor(code, command);
  if (hint) lines.push(paint('dim', `hint: ${hint}`));
  if (verbose) {
    const seen = new Set<unknown>([err]);
    for (let cause = causeOf(err); cause !== undefined && !seen.has(cause); cause = causeOf(cause)) {
      seen.add(cause);
      lines.push(
        paint(
          'dim',
          `  caused by: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`,
        ),
      );
    }
  }
  io.stderr.write(`${safeText(lines.join('\n'))}\n`);
  return exitCode;
}

function errorCode(err: unknown, exitCode: number): string {
  if (exitCode === EXIT.INTERRUPTED) return 'INTERRUPTED';
  if (err instanceof UsageError) return 'USAGE';
  if (err instanceof ConfigError) return 'CONFIG';
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'ERROR';
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function causeOf(err: unknown): unknown {
  return err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
}

function hintFor(code: string, command: string | undefined): string | undefined {
  if (code === 'SESSION_EXPIRED') {
    return 'give it new credentials with "auth-sessions update <id>", or record it again with "auth-sessions record <auth> --id <id>"';
  }
  if (code === 'DECRYPT_FAILED' || code === 'KEY_MISMATCH')
    return 'is the config using the key the sessions were sealed with (AUTH_SESSIONS_KEY)?';
  if (code === 'BROWSER_UNAVAILABLE' && command === 'record') {
    return 'the recorder needs a desktop browser: set AUTH_SESSIONS_CHROMIUM or install Chrome/Chromium';
  }
  return undefined;
}
