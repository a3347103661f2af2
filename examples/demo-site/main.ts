/**
 * Runs the demo site on its own, for other processes (multi-process tests, stress runs, the demo):
 *
 *   tsx examples/demo-site/main.ts --port 0 --ttl 5
 *
 * Prints one JSON line `{"url":"http://127.0.0.1:PORT"}` on stdout once listening, then nothing else; stops
 * on SIGINT or SIGTERM (and when a parent that spawned it with an IPC channel goes away). Drive it over HTTP
 * through the `/__admin/…` endpoints.
 */
import { parseArgs } from 'node:util';
import { startDemoSite } from './server.js';

const USAGE = 'usage: tsx examples/demo-site/main.ts [--port 0] [--host 127.0.0.1] [--ttl 3600]';

function numberArg(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) {
    process.stderr.write(`--${name} must be a number\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: { port?: string; host?: string; ttl?: string };
  try {
    ({ values } = parseArgs({
      options: { port: { type: 'string' }, host: { type: 'string' }, ttl: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const site = await startDemoSite({
    port: numberArg('port', values.port, 0),
    host: values.host ?? '127.0.0.1',
    sessionTtlSeconds: numberArg('ttl', values.ttl, 3600),
  });
  process.stdout.write(`${JSON.stringify({ url: site.url })}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    site.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Spawned with an IPC channel (fork): do not outlive the parent.
  if (process.send) process.on('disconnect', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo site failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
