/**
 * The package as a user gets it: built, packed with `npm pack`, installed from the tarball into an empty
 * project next to zod 4 (and valibot), then compiled by that project's own `tsc` (strict, no skipLibCheck):
 * `@ts-expect-error` lines prove that a wrong auth name and a wrong credentials shape are type errors. With
 * `lib: ["es2022"]` only playwright-core's own declarations may fail (they need the DOM lib); ours need none.
 * Finally the README's testing example (examples/testing.ts) runs inside that project.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const PLAYWRIGHT = JSON.parse(readFileSync(join(ROOT, 'node_modules/playwright-core/package.json'), 'utf8'))
  .version as string;

let dir: string;

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 240_000 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** `tsc -p <config>` in the consumer project: its diagnostics, one per line ('' when clean). */
function tsc(config: string): string {
  const result = spawnSync(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', config], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return `${result.stdout}${result.stderr}`.trim();
}

const ZOD_CONSUMER = `
import { AuthSessionManager, type AuthSessionInfo, defineAuth } from 'auth-sessions';
import { FakeBrowserProvider, FakeClock, FakeSite, fakeSiteAuth } from 'auth-sessions/testing';
import { z } from 'zod';

const clock = new FakeClock();
const site = new FakeSite({ clock, origin: 'https://crm.example' });
const crm = defineAuth({
  name: 'crm',
  type: 'credentials',
  credentials: z.object({ username: z.string(), password: z.string(), tries: z.number().default(1) }),
  ...fakeSiteAuth(site),
});
const portal = defineAuth({
  name: 'portal',
  type: 'recorder',
  startUrl: 'https://portal.example/login',
  finishUrl: 'https://portal.example/home',
  check: () => true,
});
const manager = new AuthSessionManager({ auths: [crm, portal], browser: new FakeBrowserProvider({ site }), clock });

export const ok: Promise<AuthSessionInfo> = manager.create('crm', { credentials: { username: 'a', password: 'b' } });
// @ts-expect-error a wrong auth name
export const wrongName = manager.create('CRM', { credentials: { username: 'a', password: 'b' } });
// @ts-expect-error a wrong credentials shape
export const wrongShape = manager.create('crm', { credentials: { username: 'a' } });
// @ts-expect-error a recorder-based auth is recorded, not created
export const wrongType = manager.create('portal', { credentials: {} });
export const recorded = manager.record('portal', { headless: true });
// @ts-expect-error a credentials-based auth is not recorded
export const notRecorded = manager.record('crm');
// Any manager fits the untyped type (what a CLI config exports).
export const anyManager: AuthSessionManager = manager;
`;

const VALIBOT_CONSUMER = `
import { AuthSessionManager, defineAuth } from 'auth-sessions';
import * as v from 'valibot';

const erp = defineAuth({
  name: 'erp',
  type: 'credentials',
  credentials: v.object({ user: v.string(), pin: v.pipe(v.string(), v.length(4)) }),
  async create({ page, credentials }) {
    const pin: string = credentials.pin;
    await page.fill('#pin', pin);
  },
  check: () => true,
});
const manager = new AuthSessionManager({ auths: [erp] });
export const ok = manager.create('erp', { credentials: { user: 'a', pin: '1234' } });
// @ts-expect-error a wrong auth name
export const wrongName = manager.create('crm', { credentials: { user: 'a', pin: '1234' } });
// @ts-expect-error a wrong credentials shape
export const wrongShape = manager.create('erp', { credentials: { user: 'a', pin: 1234 } });
`;

function tsconfig(lib: string[], include: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'es2022',
      lib,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      types: ['node'],
    },
    include,
  });
}

describe('the packed package in a fresh project', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'auth-sessions-consumer-'));
    run(NPM, ['run', 'build'], ROOT);
    const tarball = execFileSync(NPM, ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string;
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    run(
      NPM,
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--ignore-scripts',
        '--no-package-lock',
        join(dir, tarball),
        'zod@4',
        'valibot@1',
        'typescript@5.9',
        '@types/node@20',
        `playwright-core@${PLAYWRIGHT}`,
      ],
      dir,
    );
    // `import 'auth-sessions'` loads sqlite3 (the embedded default store), whose native binding comes from
    // its install script: npm 11 runs it only once approved (`npm install-scripts approve sqlite3`), and it
    // downloads a prebuilt binary from GitHub, which this machine cannot reach. The binding the repository
    // built for the same sqlite3 version stands in for that download.
    const sqlite3 = (root: string) =>
      JSON.parse(readFileSync(join(root, 'node_modules/sqlite3/package.json'), 'utf8')).version as string;
    expect(sqlite3(dir)).toBe(sqlite3(ROOT));
    cpSync(join(ROOT, 'node_modules/sqlite3/build'), join(dir, 'node_modules/sqlite3/build'), {
      recursive: true,
    });
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src/zod-consumer.ts'), ZOD_CONSUMER);
    writeFileSync(join(dir, 'src/valibot-consumer.ts'), VALIBOT_CONSUMER);
    writeFileSync(join(dir, 'src/testing.ts'), readFileSync(join(ROOT, 'examples/testing.ts'), 'utf8'));
    // playwright-core's declarations use DOM types (Element, Window…): a consumer needs the DOM lib for them.
    writeFileSync(join(dir, 'tsconfig.json'), tsconfig(['es2022', 'dom'], ['src']));
    writeFileSync(join(dir, 'tsconfig.nodom.json'), tsconfig(['es2022'], ['src']));
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compiles strictly without skipLibCheck; wrong names and shapes are type errors (zod 4, valibot)', () => {
    // Every @ts-expect-error is used (an unused one is itself an error), nothing else fails.
    expect(tsc('tsconfig.json')).toBe('');
  });

  it('without the DOM lib, only playwright-core’s own declarations fail', () => {
    const failing = new Set(
      tsc('tsconfig.nodom.json')
        .split('\n')
        .filter((line) => /error TS/.test(line))
        .map((line) => line.split('(')[0]),
    );
    expect([...failing].filter((file) => !file?.startsWith('node_modules/playwright-core/'))).toEqual([]);
  });

  it('names the package to install when an entry point’s optional peer is missing', () => {
    for (const [entry, peer] of [
      ['auth-sessions/redis', '@keyv/redis'],
      ['auth-sessions/postgres', '@keyv/postgres'],
      ['auth-sessions/bullmq', 'bullmq'],
    ] as const) {
      const script = `import(${JSON.stringify(entry)}).then(() => console.log('loaded'), (e) => console.log(e.code + ': ' + e.message))`;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.stdout.trim()).toBe(
        `INVALID_OPTIONS: ${entry} needs the optional dependency "${peer}", which is not installed (npm install ${peer})`,
      );
    }
  });

  it('runs the README testing example to completion', () => {
    const result = spawnSync(process.execPath, [TSX, 'src/testing.ts'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout).toBe('ok: 3 logins, events: refreshed, expired\n');
    // The package came from the tarball, not from the repository.
    expect(readdirSync(join(dir, 'node_modules/auth-sessions'))).not.toContain('node_modules');
  });
});
