/**
 * The runnable examples, run as a user runs them (`tsx examples/….ts`), each in a fresh working directory so
 * their embedded defaults (./.auth-sessions/) land in a temporary folder. Twice each: a second run in the same
 * folder must work too. Real Chromium, so the examples can never rot.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DEMO_USER, demoSiteAuth } from '../../examples/demo-auth.js';
import { AuthSessionManager } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const KILL_AFTER_MS = 150_000;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `tsx examples/<file>` in `cwd`, with no key in the environment and no colour. */
function runExample(file: string, cwd: string, args: string[] = []): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.AUTH_SESSIONS_KEY;
  const started = Date.now();
  const child = spawn(process.execPath, [TSX, join(ROOT, 'examples', file), ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Fails with the example's own output, which says what went wrong. */
function expectSuccess(outcome: Outcome): void {
  expect(outcome.code, `exit code\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`).toBe(0);
}

/** The password is never printed, nor readable in the store's files. */
function expectNoSecret(outcome: Outcome, dataDir: string): void {
  expect(outcome.stdout).not.toContain(DEMO_USER.password);
  expect(outcome.stderr).not.toContain(DEMO_USER.password);
  for (const file of readdirSync(dataDir)) {
    expect(readFileSync(join(dataDir, file)).includes(DEMO_USER.password), file).toBe(false);
  }
}

const dirs: string[] = [];
function tempCwd(): string {
  const dir = mkdtempSync(join(tmpdir(), 'auth-sessions-example-'));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(process.platform === 'linux')('examples, run as a user runs them', () => {
  it('examples/credentials.ts creates a session, runs a task, and reuses the session on the next run', async () => {
    const cwd = tempCwd();
    const dataDir = join(cwd, '.auth-sessions');

    const first = await runExample('credentials.ts', cwd);
    expectSuccess(first);
    expect(first.stdout).toContain('created session "alice": signed in as alice');
    expect(first.stdout).toContain('logins at the site during this run: 1');
    // The embedded default key file: created on first use, private, announced once.
    expect(first.stderr).toContain('created a new encryption key');
    expect(statSync(join(dataDir, 'key')).mode & 0o777).toBe(0o600);
    expectNoSecret(first, dataDir);

    const second = await runExample('credentials.ts', cwd);
    expectSuccess(second);
    expect(second.stdout).toContain('reused session "alice": signed in as alice');
    expect(second.stderr).not.toContain('created a new encryption key');
    expectNoSecret(second, dataDir);
  }, 300_000);

  it('examples/demo.ts (npm run demo) shows every phase, ends expired and refused, in under a minute, twice', async () => {
    const cwd = tempCwd();
    const dataDir = join(cwd, '.auth-sessions');

    for (const run of [1, 2]) {
      const outcome = await runExample('demo.ts', cwd);
      expectSuccess(outcome);
      const out = outcome.stdout;
      const phases = [
        'Setup',
        'manager on the embedded defaults',
        '1. Create the session',
        'event created',
        'session "demo-alice" is active · site logins: 1',
        '2. Run tasks',
        'task 3   ✓ account page: signed in as alice',
        "3. The site's session lapses",
        'event checked ✗',
        'event refreshed',
        /site logins \d+ → \d+: refreshed transparently/,
        '4. Health checks',
        'event refreshed ahead',
        'health checks stopped',
        '5. The password changes at the site',
        'event expired',
        '✗ refused: SESSION_EXPIRED (status 401)',
        '✗ refused at once: SESSION_EXPIRED, no browser context opened',
        'session "demo-alice" is expired',
        'deleted the demo session; closed the browser, the store and the site',
      ];
      let at = 0;
      for (const phase of phases) {
        const offset = typeof phase === 'string' ? out.slice(at).indexOf(phase) : out.slice(at).search(phase);
        const found = offset < 0 ? -1 : at + offset;
        expect(found, `"${phase}" (in order) in run ${run}:\n${out}`).toBeGreaterThanOrEqual(0);
        at = found;
      }
      expect(out).toMatch(/Done in \d+\.\d s/);
      expect(out).not.toContain('\u001b[');
      expect(out).toContain(run === 1 ? '(created now, mode 0600)' : '(from an earlier run, mode 0600)');
      expect(out).not.toContain('left by an earlier run');
      expect(outcome.ms).toBeLessThan(60_000);
      expectNoSecret(outcome, dataDir);
    }

    // The demo cleans up after itself: the store does not grow from run to run.
    vi.stubEnv('AUTH_SESSIONS_KEY', undefined);
    const manager = new AuthSessionManager({ auths: [demoSiteAuth('http://127.0.0.1:9')], dataDir });
    try {
      expect(await manager.list()).toEqual([]);
    } finally {
      await manager.close();
      vi.unstubAllEnvs();
    }
  }, 300_000);
});
