/**
 * `auth-sessions/playwright` as a Playwright Test user runs it: `npx playwright test` on
 * examples/playwright-test (3 workers, 3 accounts, real Chromium) against the demo site, with every login of
 * the site ended mid-run (projects `before` → `lapse` → `after`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoSite, startDemoSite } from '../../examples/demo-site/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PLAYWRIGHT = join(ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
/** The pool of examples/playwright-test/accounts.ts (that file imports `auth-sessions`, which only Playwright maps). */
const ACCOUNTS = [
  { username: 'ann', password: 'ann-pw-1' },
  { username: 'bob', password: 'bob-pw-2' },
  { username: 'cid', password: 'cid-pw-3' },
];

interface JsonAnnotation {
  readonly type: string;
  readonly description?: string;
}
interface JsonSuite {
  readonly suites?: JsonSuite[];
  readonly specs?: Array<{
    readonly title: string;
    readonly tests: Array<{
      readonly projectName: string;
      readonly annotations?: JsonAnnotation[];
      readonly results: Array<{
        readonly status: string;
        readonly annotations?: JsonAnnotation[];
        readonly errors?: Array<{ readonly message?: string }>;
      }>;
    }>;
  }>;
}
interface JsonReport {
  readonly stats: { readonly expected: number; readonly unexpected: number; readonly flaky: number };
  readonly suites: JsonSuite[];
}

/** Per project, the `account` annotations: "workerIndex:parallelIndex:sessionId". */
function accountsByProject(report: JsonReport): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (suite: JsonSuite) => {
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests) {
        // Newer reports carry a run's annotations on its result, and repeat them on the test.
        const perResult = test.results.flatMap((r) => r.annotations ?? []);
        const notes = perResult.length > 0 ? perResult : (test.annotations ?? []);
        for (const note of notes) {
          if (note.type !== 'account' || !note.description) continue;
          out.set(test.projectName, [...(out.get(test.projectName) ?? []), note.description]);
        }
      }
    }
    for (const child of suite.suites ?? []) walk(child);
  };
  for (const suite of report.suites) walk(suite);
  return out;
}

/** Each run that did not pass: project, title, status and Playwright's error messages. */
function failuresOf(report: JsonReport): string[] {
  const out: string[] = [];
  const walk = (suite: JsonSuite) => {
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests) {
        for (const result of test.results) {
          if (result.status === 'passed' || result.status === 'skipped') continue;
          const errors = (result.errors ?? []).map((e) => e.message ?? '').join('\n');
          out.push(`[${test.projectName}] ${spec.title}: ${result.status}\n${errors}`);
        }
      }
    }
    for (const child of suite.suites ?? []) walk(child);
  };
  for (const suite of report.suites) walk(suite);
  return out;
}

describe.runIf(process.platform === 'linux')('auth-sessions/playwright with Playwright Test', () => {
  let site: DemoSite;
  let dir: string;

  beforeAll(async () => {
    site = await startDemoSite({ users: ACCOUNTS });
    dir = mkdtempSync(join(tmpdir(), 'auth-sessions-playwright-'));
  });

  afterAll(async () => {
    await site?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('3 workers, 3 accounts: each worker holds its own account, each logs in once, and once more after the lapse', async () => {
    const report = join(dir, 'report.json');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EXAMPLE_LAPSE: '1',
      DEMO_SITE_URL: site.url,
      AUTH_SESSIONS_DIR: join(dir, 'data'),
      AUTH_SESSIONS_KEY: randomBytes(32).toString('base64'),
      PLAYWRIGHT_JSON_OUTPUT_NAME: report,
      NO_COLOR: '1',
    };
    delete env.CI;
    const child = spawn(
      process.execPath,
      [
        PLAYWRIGHT,
        'test',
        '-c',
        join(ROOT, 'examples/playwright-test/playwright.config.ts'),
        '--reporter=json',
        '--output',
        join(dir, 'test-results'),
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 280_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    const json = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
    expect({ code, stats: json.stats }, [stderr, ...failuresOf(json)].join('\n')).toMatchObject({
      code: 0,
      stats: { expected: 19, unexpected: 0, flaky: 0 },
    });

    for (const project of ['before', 'after']) {
      const notes = accountsByProject(json).get(project) ?? [];
      expect(notes, project).toHaveLength(9);
      // worker → the accounts it used: one each, and no two workers of the phase on one account.
      const byWorker = new Map<string, Set<string>>();
      for (const note of notes) {
        const [worker, , account] = note.split(':');
        byWorker.set(worker!, (byWorker.get(worker!) ?? new Set()).add(account!));
      }
      const held = [...byWorker.values()].map((accounts) => {
        expect(accounts.size, project).toBe(1);
        return [...accounts][0]!;
      });
      expect(new Set(held).size, `${project}: ${notes.join(' ')}`).toBe(held.length);
      expect(held.length, project).toBeGreaterThanOrEqual(2);
    }
    // One login per account before the lapse (global setup), one refresh per account after it: had a worker
    // not refreshed its account, its `after` tests would have run logged out and failed.
    expect(site.stats().byUser).toEqual({ ann: 2, bob: 2, cid: 2 });
  }, 300_000);
});
