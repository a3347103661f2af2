#!/usr/bin/env node
/**
 * The `auth-sessions` command (the package's `bin`). See `auth-sessions --help`, and {@link runCli}.
 *
 * @example
 * ```sh
 * npx auth-sessions list --state expired
 * ```
 *
 * @module
 */
import { runCli } from './run.js';

// `auth-sessions list | head`: the reader went away; that is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const interrupt = new AbortController();
process.once('SIGINT', () => {
  interrupt.abort();
  // A second Ctrl-C does not wait for the cleanup.
  process.once('SIGINT', () => process.exit(130));
});

// The library's own timers are unref'd (they never keep an application alive); the CLI must stay alive until
// its command ends, e.g. while a recording waits for a person with no browser process holding the loop open.
const keepAlive = setInterval(() => {}, 60_000);
const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: interrupt.signal,
});

clearInterval(keepAlive);

// Exit explicitly: a config may hold handles open (a Redis client, a server) that are not ours to close.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(code);
