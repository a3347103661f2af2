/**
 * The `auth-sessions` CLI as a user runs it: the package is built once into a temp folder, installed into a
 * temp project (node_modules/auth-sessions, node_modules/.bin/auth-sessions), and every test spawns the bin
 * against an `auth-sessions.config.mjs` of that project (SQLite file in the project, fake browser from
 * `auth-sessions/testing`), checking stdout, stderr and exit codes. Terminal behaviour (hidden prompts,
 * confirmation, colours, progress) runs under a real pseudo-terminal through `script(1)`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const KEY_OLD = Buffer.alloc(32, 7).toString('base64');
const KEY_NEW = Buffer.alloc(32, 9).toString('base64');
/**
 * `script` (util-linux) gives the CLI a real terminal, for the checks of hidden input, confirmation and
 * colours. CI must run them: there a missing `script` fails loudly instead of skipping them.
 */
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;
if (!HAS_SCRIPT && process.env.CI) {
  throw new Error('CI needs `script` (util-linux) for the terminal tests of the CLI');
}

let tmp: string;
let proj: string;
let bin: string;

const CONFIG = `import { AuthSessionManager, createSqliteStore, defineAuth } from 'auth-sessions';
import { FakeBrowserProvider, FakeSite, fakeSiteAuth } from 'auth-sessions/testing';
import { z } from 'zod';

const site = new FakeSite();
site.addUser('alice', process.env.ALICE_PASSWORD ?? 'alice-pw-1');
site.addUser('carol', 'carol-pw-1');
const browser = new FakeBrowserProvider({ site });
const hooks = fakeSiteAuth(site, { timeout: 500 });
const crm = defineAuth({
  name: 'crm',
  type: 'credentials',
  retryDelay: 0,
  credentials: z.object({ username: z.string(), password: z.string() }),
  ...hooks,
});
const portal = defineAuth({
  name: 'portal',
  type: 'recorder',
  retryDelay: 0,
  startUrl: site.origin + '/login',
  finishUrl: site.origin + '/account',
  check: hooks.check,
});
const keys = { old: '${KEY_OLD}', new: '${KEY_NEW}' };
const key =
  process.env.KEYRING === 'both' ? { current: keys.new, previous: [keys.old] } : keys[process.env.KEYRING ?? 'old'];

export default async function makeManager() {
  const manager = new AuthSessionManager({
    auths: [crm, portal],
    store: createSqliteStore(new URL('./data/sessions.sqlite', import.meta.url).pathname),
    key,
    browser,
  });
  if (process.env.FAKE_PERSON) {
    // Plays the person in front of the recorder's browser window.
    const record = manager.record.bind(manager);
    manager.record = (auth, options = {}) => {
      process.stderr.write('[config] record headless=' + options.headless + '\\n');
      return record(auth, {
        ...options,
        onPage: async (page) => {
          await page.fill('#username', 'carol');
          await page.fill('#password', 'carol-pw-1');
          await page.click('#login');
        },
      });
    };
  }
  return manager;
}
`;

const SEED = `import makeManager from './auth-sessions.config.mjs';
const m = await makeManager();
await m.create('crm', { id: 'alice-1', credentials: { username: 'alice', password: 'alice-pw-1' }, labels: { team: 'ops' } });
await m.create('crm', { id: 'bob-1', credentials: { username: 'bob', password: 'nope' }, labels: { team: 'sales' } }).catch(() => {});
await m.create('crm', { id: 'alice-2', credentials: { username: 'alice', password: 'alice-pw-1' } });
await m.flushHistory();
await m.close();
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['FORCE_COLOR', 'NO_COLOR', 'ALICE_PASSWORD', 'KEYRING', 'FAKE_PERSON', 'NODE_OPTIONS'])
    delete env[k];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs the installed bin (through its shebang, as a shell would). */
function run(
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string | undefined>;
    input?: string;
    onStart?: (c: ChildProcess) => void;
  } = {},
): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { cwd: options.cwd ?? proj, env: cleanEnv(options.env ?? {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
    options.onStart?.(child);
  });
}

/** Runs the bin in a pseudo-terminal (script(1)), answering prompts as they appear. */
function runPty(
  args: string,
  answers: Array<[RegExp, string]>,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('script', ['-qec', `${bin} ${args}`, '/dev/null'], {
      cwd: proj,
      env: cleanEnv({ TERM: 'xterm', ...env }),
    });
    let output = '';
    const pending = [...answers];
    child.stdout.on('data', (d) => {
      output += d;
      const next = pending[0];
      if (next?.[0].test(output)) {
        pending.shift();
        child.stdin.write(next[1]);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

function json(result: Result): unknown {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'auth-sessions-cli-'));
  const pkg = join(tmp, 'pkg');
  // Build into a private folder: other builds of dist/ running at the same time cannot race with this one.
  const build = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(pkg, 'dist'),
      '--declaration',
      'false',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  // Type errors in files other engineers are editing do not stop the emit; missing output does.
  for (const file of ['dist/cli/main.js', 'dist/index.js', 'dist/testing/index.js']) {
    if (!existsSync(join(pkg, file))) throw new Error(`build failed:\n${build.stdout}\n${build.stderr}`);
  }
  await writeFile(join(pkg, 'package.json'), await readFile(join(ROOT, 'package.json')));
  await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  // What npm does on install: the bin is executable and linked into node_modules/.bin.
  await chmod(join(pkg, 'dist/cli/main.js'), 0o755);

  proj = join(tmp, 'project');
  await mkdir(join(proj, 'node_modules/.bin'), { recursive: true });
  await symlink(pkg, join(proj, 'node_modules/auth-sessions'));
  await symlink(join(ROOT, 'node_modules/zod'), join(proj, 'node_modules/zod'));
  await symlink('../auth-sessions/dist/cli/main.js', join(proj, 'node_modules/.bin/auth-sessions'));
  bin = join(proj, 'node_modules/.bin/auth-sessions');
  await writeFile(join(proj, 'package.json'), '{ "name": "my-automation", "type": "module" }\n');
  await writeFile(join(proj, 'auth-sessions.config.mjs'), CONFIG);
  await writeFile(join(proj, 'seed.mjs'), SEED);
  const seed = spawnSync(process.execPath, ['seed.mjs'], { cwd: proj, encoding: 'utf8', env: cleanEnv({}) });
  if (seed.status !== 0) throw new Error(`seed failed:\n${seed.stdout}\n${seed.stderr}`);
}, 600_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('usage', () => {
  it('prints help and the version; bad command lines exit 2 with a hint', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: auth-sessions <command>');
    expect(help.stdout).toContain('rotate-key');
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*4 +the session is expired/);
    const cmdHelp = await run(['update', '--help']);
    expect(cmdHelp.code).toBe(0);
    expect(cmdHelp.stdout).toContain('--credentials-file');
    // The exit-code table once, in the top-level help only.
    expect(cmdHelp.stdout).not.toContain('130');
    expect(cmdHelp.stdout).toContain('Exit codes: see "auth-sessions --help"');
    // A bare command is the help, not an error.
    expect(await run([])).toEqual({ code: 0, stdout: help.stdout, stderr: '' });
    const version = await run(['--version']);
    expect(version).toMatchObject({
      code: 0,
      stdout: `${JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version}\n`,
    });

    for (const [args, message] of [
      [['frob'], 'Unknown command "frob".'],
      [['lst'], 'Unknown command "lst". Did you mean "list"?'],
      [['valdiate', 'x'], 'Did you mean "validate"?'],
      [['list', '--bogus'], "Unknown option '--bogus'"],
      [['list', '--lable', 'a=b'], 'Did you mean "--label"?'],
      [['update', 'x', '--credentials-fil', 'f'], 'Did you mean "--credentials-file"?'],
      [['completion', 'bsh'], 'Did you mean "bash"?'],
      [['show'], 'missing <id>'],
      [['show', 'a', 'b'], 'unexpected argument "b"'],
      [['list', '--state', 'sleepy'], '--state must be one of'],
      [['list', '--label', 'novalue'], '--label must be key=value'],
      [['list', '--limit', '0'], '--limit must be a positive integer'],
      [['record', 'portal', '--timeout', 'soon'], '--timeout must be a duration'],
    ] as const) {
      const r = await run([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr).toContain('--help" for usage');
      expect(r.stdout).toBe('');
    }
    const asJson = await run(['frob', '--json']);
    expect(asJson.code).toBe(2);
    expect(json(asJson)).toEqual({
      error: { code: 'USAGE', message: 'Unknown command "frob".', exitCode: 2 },
    });
  });

  it('a missing or broken config exits 2 with a message naming the fix', async () => {
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    const none = await run(['list'], { cwd: empty });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('No auth-sessions.config.{ts,mjs,js} in');
    expect(none.stderr).toContain('--config <path>');

    const missing = await run(['list', '--config', 'nope.mjs', '--json']);
    expect(missing.code).toBe(2);
    expect(json(missing)).toEqual({
      error: { code: 'CONFIG', message: 'Config file not found: nope.mjs', exitCode: 2 },
    });

    await writeFile(join(empty, 'wrong.mjs'), 'export default 42;\n');
    const wrong = await run(['list', '-c', 'wrong.mjs'], { cwd: empty });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('wrong.mjs: the default export must be an AuthSessionManager');

    await writeFile(
      join(empty, 'throws.mjs'),
      'export default () => { throw new Error("boom in config"); };\n',
    );
    const throws = await run(['list', '--config', join(empty, 'throws.mjs')], { cwd: empty });
    expect(throws.code).toBe(2);
    expect(throws.stderr).toContain('Loading throws.mjs failed: boom in config');

    await writeFile(join(empty, 'syntax.mjs'), 'export default {{;\n');
    const syntax = await run(['list', '--config', 'syntax.mjs'], { cwd: empty });
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain('Loading syntax.mjs failed: SyntaxError');
  });
});

describe('list and show', () => {
  it('list prints a table with state, age, last check and labels, and filters', async () => {
    const all = await run(['list']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +AUTH +STATE +AGE +LAST CHECK +LABELS$/);
    expect(all.stdout).toMatch(/alice-1 +crm +active +\d+[smh] +\d+[smh] ago +team=ops/);
    expect(all.stdout).toMatch(/bob-1 +crm +failed +\d+[smh] +never +team=sales/);
    expect(lines.at(-1)).toBe('3 sessions');
    expect(all.stdout).not.toContain('\u001b[');
    expect(all.stderr).toBe('');

    const failed = await run(['list', '--state', 'failed']);
    expect(failed.stdout).toContain('bob-1');
    expect(failed.stdout).not.toContain('alice-1');
    const ops = await run(['list', '--label', 'team=ops', '--json']);
    expect((json(ops) as Array<{ id: string }>).map((s) => s.id)).toEqual(['alice-1']);
    const two = await run(['list', '--state', 'active', '--state', 'failed', '--auth', 'crm', '--json']);
    expect((json(two) as unknown[]).length).toBe(3);
    const limited = await run(['list', '--limit', '1', '--json']);
    expect((json(limited) as unknown[]).length).toBe(1);
    const none = await run(['list', '--auth', 'portal']);
    expect(none).toMatchObject({ code: 0, stdout: 'No sessions.\n' });
    expect(json(await run(['list', '--auth', 'portal', '--json']))).toEqual([]);
  });

  it('show prints the session and its history; an unknown id exits 3', async () => {
    const shown = await run(['show', 'alice-1']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('alice-1  crm (credentials)  active');
    expect(shown.stdout).toMatch(/labels +team=ops/);
    expect(shown.stdout).toMatch(/History/);
    expect(shown.stdout).toMatch(/TIME +KIND +OUTCOME +DURATION +ERROR/);
    expect(shown.stdout).toMatch(/create +ok +\d+ms/);

    const failed = json(await run(['show', 'bob-1', '--json'])) as {
      session: { state: string; failure: { code: string } };
      history: Array<{ kind: string; outcome: string; error?: { code: string } }>;
    };
    expect(failed.session).toMatchObject({ state: 'failed', failure: { code: 'CREATE_FAILED' } });
    expect(failed.history).toEqual([
      expect.objectContaining({
        kind: 'create',
        outcome: 'failed',
        error: expect.objectContaining({ code: 'CREATE_FAILED' }),
      }),
    ]);

    const unknown = await run(['show', 'nope']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('No session with id "nope" (SESSION_NOT_FOUND)');
    const unknownJson = await run(['show', 'nope', '--json']);
    expect(unknownJson.code).toBe(3);
    expect(json(unknownJson)).toEqual({
      error: { code: 'SESSION_NOT_FOUND', message: 'No session with id "nope"', exitCode: 3 },
    });
  });
});

describe('validate and update', () => {
  it('validate: 0 when the login holds (refreshing it), 4 when it expired, 3 when unknown', async () => {
    // This process's fake site has never seen the session's cookie: the check fails and it logs in again.
    const ok = await run(['validate', 'alice-2']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('✔ checked alice-2 (crm): active');

    const expired = await run(['validate', 'alice-2'], { env: { ALICE_PASSWORD: 'changed-on-the-site' } });
    expect(expired.code).toBe(4);
    expect(expired.stderr).toContain('has expired');
    expect(expired.stderr).toContain('hint: give it new credentials with "auth-sessions update <id>"');
    const again = await run(['validate', 'alice-2', '--json']);
    expect(again.code).toBe(4);
    expect(json(again)).toMatchObject({ error: { code: 'SESSION_EXPIRED', exitCode: 4 } });

    // The history written by those short-lived processes is there for the next one.
    const history = (
      json(await run(['show', 'alice-2', '--json'])) as { history: Array<{ kind: string; outcome: string }> }
    ).history;
    expect(history.map((e) => `${e.kind}:${e.outcome}`)).toEqual([
      'create:ok',
      'check:failed',
      'refresh:ok',
      'run:ok',
      'check:failed',
      'expire:failed',
      'run:failed',
    ]);

    expect((await run(['validate', 'nope'])).code).toBe(3);
  });

  it('update: credentials from a file or stdin, labels; bad input is refused without echoing it', async () => {
    const env = { ALICE_PASSWORD: 'changed-on-the-site' };
    await writeFile(
      join(proj, 'creds.json'),
      JSON.stringify({ username: 'alice', password: 'changed-on-the-site' }),
    );
    const fromFile = await run(['update', 'alice-2', '--credentials-file', 'creds.json'], { env });
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toContain('✔ updated alice-2 (crm): active');
    expect(fromFile.stdout + fromFile.stderr).not.toContain('changed-on-the-site');

    const fromStdin = await run(['update', 'alice-2', '--credentials-stdin', '--json'], {
      env,
      input: JSON.stringify({ username: 'alice', password: 'changed-on-the-site' }),
    });
    expect(fromStdin.code).toBe(0);
    expect(json(fromStdin)).toMatchObject({ id: 'alice-2', state: 'active' });

    const labels = await run(['update', 'alice-2', '--label', 'tier=gold', '--label', 'team=ops', '--json']);
    expect(json(labels)).toMatchObject({ labels: { tier: 'gold', team: 'ops' } });
    const removed = await run(['update', 'alice-2', '--remove-label', 'team', '--json']);
    expect((json(removed) as { labels: object }).labels).toEqual({ tier: 'gold' });

    await writeFile(join(proj, 'broken.json'), '{"username": "alice", "password": "Secret-in-broken-file"');
    const broken = await run(['update', 'alice-2', '--credentials-file', 'broken.json']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('broken.json is not valid JSON');
    expect(broken.stdout + broken.stderr).not.toContain('Secret-in-broken-file');

    const missing = await run(['update', 'alice-2', '--credentials-file', 'missing.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Cannot read credentials file "missing.json": no such file');

    await writeFile(join(proj, 'shape.json'), JSON.stringify({ username: 'alice', password: 12345 }));
    const shape = await run(['update', 'alice-2', '--credentials-file', 'shape.json']);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('(INVALID_CREDENTIALS)');
    expect(shape.stderr).toContain('check password');
    expect(shape.stderr).not.toContain('12345');

    await writeFile(
      join(proj, 'wrong.json'),
      JSON.stringify({ username: 'alice', password: 'Wrong-pw-typo' }),
    );
    const wrong = await run(['update', 'alice-2', '--credentials-file', 'wrong.json'], { env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('(CREATE_FAILED)');
    expect(wrong.stdout + wrong.stderr).not.toContain('Wrong-pw-typo');
    // A failed update leaves the session as it was.
    expect(json(await run(['show', 'alice-2', '--json']))).toMatchObject({ session: { state: 'active' } });

    const nothing = await run(['update', 'alice-2']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('no terminal to prompt on');
    const both = await run(['update', 'alice-2', '--credentials-stdin', '--credentials-file', 'creds.json']);
    expect(both.code).toBe(2);
    expect((await run(['update', 'nope', '--label', 'a=b'])).code).toBe(3);
  });

  it.skipIf(!HAS_SCRIPT)(
    'update on a terminal prompts for each credential field without echoing it',
    async () => {
      const { code, output } = await runPty(
        'update alice-2',
        [
          [/username: $/, 'alice\r'],
          [/password: $/, 'Typed-at-the-prompt\r'],
        ],
        { ALICE_PASSWORD: 'Typed-at-the-prompt' },
      );
      expect(code).toBe(0);
      expect(output).toContain('New credentials for "crm" (secrets are typed without echo)');
      expect(output).toContain('updated');
      expect(output).not.toContain('Typed-at-the-prompt');
      // The user name is no secret: it is echoed; the password is not.
      expect(output).toMatch(/username: alice/);
      // On a terminal there are colours.
      expect(output).toContain('\u001b[32m');
    },
  );
});

describe('create', () => {
  it('create logs in with credentials from a file or stdin, with an id and labels', async () => {
    await writeFile(join(proj, 'carol.json'), JSON.stringify({ username: 'carol', password: 'carol-pw-1' }));
    const created = await run([
      'create',
      'crm',
      '--id',
      'carol-1',
      '--label',
      'team=ops',
      '--credentials-file',
      'carol.json',
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('✔ created carol-1 (crm): active  team=ops');
    expect(created.stdout + created.stderr).not.toContain('carol-pw-1');
    const viaStdin = await run(['create', 'crm', '--credentials-stdin', '--json'], {
      input: JSON.stringify({ username: 'carol', password: 'carol-pw-1' }),
    });
    expect(json(viaStdin)).toMatchObject({ auth: 'crm', type: 'credentials', state: 'active' });
    expect(json(await run(['show', 'carol-1', '--json']))).toMatchObject({
      session: { state: 'active', labels: { team: 'ops' } },
    });
  });

  it('create refuses a wrong password, a wrong shape, a recorder auth and a missing source of credentials', async () => {
    await writeFile(
      join(proj, 'carol-wrong.json'),
      JSON.stringify({ username: 'carol', password: 'Nope-pw-9' }),
    );
    const wrong = await run(['create', 'crm', '--id', 'carol-x', '--credentials-file', 'carol-wrong.json']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('(CREATE_FAILED)');
    expect(wrong.stdout + wrong.stderr).not.toContain('Nope-pw-9');
    await writeFile(join(proj, 'carol-shape.json'), JSON.stringify({ username: 'carol' }));
    const shape = await run(['create', 'crm', '--credentials-file', 'carol-shape.json']);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('(INVALID_CREDENTIALS)');
    const recorder = await run(['create', 'portal', '--credentials-file', 'carol.json']);
    expect(recorder.code).toBe(2);
    expect(recorder.stderr).toContain('auth-sessions record portal');
    const none = await run(['create', 'crm']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no terminal to prompt on');
    expect((await run(['create', 'nope', '--credentials-file', 'carol.json'])).code).toBe(3);
  });

  it.skipIf(!HAS_SCRIPT)(
    'create on a terminal asks for each field of the schema; the password is typed without echo',
    async () => {
      const { code, output } = await runPty('create crm --id carol-pty', [
        [/username: $/, 'carol\r'],
        [/password: $/, 'carol-pw-1\r'],
      ]);
      expect(code).toBe(0);
      expect(output).toContain('Credentials for "crm" (secrets are typed without echo)');
      expect(output).toMatch(/username: carol/);
      expect(output).not.toContain('carol-pw-1');
      expect(output).toContain('created');
      expect(json(await run(['show', 'carol-pty', '--json']))).toMatchObject({
        session: { state: 'active' },
      });
    },
  );
});

describe('completion', () => {
  it('prints a script for bash, zsh and fish, outside any project', async () => {
    const empty = join(tmp, 'no-project');
    await mkdir(empty, { recursive: true });
    const bash = await run(['completion', 'bash'], { cwd: empty });
    expect(bash.code).toBe(0);
    expect(spawnSync('bash', ['-n'], { input: bash.stdout }).status).toBe(0);
    const complete = (line: string) => {
      const words = line.split(' ');
      const script = `${bash.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _auth_sessions; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: empty }).stdout.trim().split('\n');
    };
    expect(complete('auth-sessions li')).toEqual(['list']);
    expect(complete('auth-sessions cr')).toEqual(['create']);
    expect(complete('auth-sessions create crm --cred').sort()).toEqual([
      '--credentials-file',
      '--credentials-stdin',
    ]);

    const zsh = await run(['completion', 'zsh'], { cwd: empty });
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toContain('#compdef auth-sessions');
    expect(zsh.stdout).toContain("'create:log in with credentials");
    const fish = await run(['completion', 'fish'], { cwd: empty });
    expect(fish.code).toBe(0);
    expect(fish.stdout).toContain("complete -c auth-sessions -n '__fish_use_subcommand' -a rotate-key");
    expect(fish.stdout).toContain("-n '__fish_seen_subcommand_from create' -l credentials-file -r");
    // The summary of export has an apostrophe: quoted, not cutting the line short.
    expect(fish.stdout).toContain("-a export -d 'write a session\\'s browser state");
  });
});

describe('delete', () => {
  it('refuses without --yes off a terminal; asks on a terminal; deletes with --yes', async () => {
    const refused = await run(['delete', 'bob-1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    if (HAS_SCRIPT) {
      const declined = await runPty('delete bob-1', [[/\[y\/N\] $/, 'n\r']]);
      expect(declined.code).toBe(1);
      expect(declined.output).toContain('Delete session bob-1 (crm, failed) and its secrets? [y/N]');
      expect(declined.output).toContain('Nothing deleted.');
      const accepted = await runPty('delete bob-1', [[/\[y\/N\] $/, 'y\r']]);
      expect(accepted.code).toBe(0);
      expect(accepted.output).toContain('deleted');
    } else {
      expect((await run(['delete', 'bob-1', '--yes'])).code).toBe(0);
    }
    expect((await run(['show', 'bob-1'])).code).toBe(3);
    const gone = await run(['delete', 'bob-1', '--yes', '--json']);
    expect(gone.code).toBe(3);
    expect(json(gone)).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });
  });
});

describe('export and import', () => {
  it('export: the state on stdout with a warning, or a 0600 file that is not overwritten without --force', async () => {
    const out = await run(['export', 'alice-1']);
    expect(out.code).toBe(0);
    const state = json(out) as { cookies: Array<{ name: string; value: string }>; origins: unknown[] };
    expect(state.cookies.map((c) => c.name)).toContain('sid');
    expect(out.stderr).toContain('warning: this is the browser state of session alice-1');

    const file = join(proj, 'state.json');
    const written = await run(['export', 'alice-1', '--out', 'state.json', '--json']);
    expect(written.code).toBe(0);
    expect(json(written)).toEqual({ exported: 'alice-1', out: 'state.json' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const refused = await run(['export', 'alice-1', '-o', 'state.json']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('state.json exists; pass --force');
    chmodSync(file, 0o644);
    expect((await run(['export', 'alice-1', '-o', 'state.json', '--force'])).code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await run(['export', 'nope'])).code).toBe(3);
  });

  it('import: a state file becomes a session; a state that is not logged in, a malformed file or an unknown auth fail', async () => {
    const imported = await run([
      'import',
      'portal',
      'state.json',
      '--id',
      'imp-1',
      '--label',
      'src=cli',
      '--no-check',
    ]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('✔ imported imp-1 (portal): active  src=cli');
    const viaStdin = await run(['import', 'portal', '-', '--id', 'imp-2', '--no-check', '--json'], {
      input: await readFile(join(proj, 'state.json'), 'utf8'),
    });
    expect(json(viaStdin)).toMatchObject({ id: 'imp-2', auth: 'portal', type: 'recorder', state: 'active' });

    // Checked against this process's fake site, which never issued that cookie: not logged in.
    const stale = await run(['import', 'portal', 'state.json', '--id', 'imp-3']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/\((CHECK_FAILED|CREATE_FAILED)\)/);

    const cookie = (
      JSON.parse(await readFile(join(proj, 'state.json'), 'utf8')) as { cookies: Array<{ value: string }> }
    ).cookies[0]!.value;
    await writeFile(join(proj, 'bad-state.json'), `{"cookies": [{"name": "sid", "value": "${cookie}"`);
    const malformed = await run(['import', 'portal', 'bad-state.json']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('bad-state.json is not valid JSON');
    expect(malformed.stdout + malformed.stderr).not.toContain(cookie);

    await writeFile(join(proj, 'shape-state.json'), JSON.stringify({ cookies: 'all of them' }));
    const shape = await run(['import', 'portal', 'shape-state.json']);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('(INVALID_OPTIONS)');

    expect((await run(['import', 'portal', 'missing.json'])).code).toBe(2);
    const unknownAuth = await run(['import', 'nope', 'state.json']);
    expect(unknownAuth.code).toBe(3);
    expect(unknownAuth.stderr).toContain('(UNKNOWN_AUTH)');
  });

  it('import for a credentials auth takes --credentials-file, so the session can log in again later', async () => {
    const refused = await run(['import', 'crm', 'state.json', '--id', 'imp-crm', '--no-check']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass "credentials"');
    await writeFile(join(proj, 'alice.json'), JSON.stringify({ username: 'alice', password: 'alice-pw-1' }));
    const imported = await run([
      'import',
      'crm',
      'state.json',
      '--id',
      'imp-crm',
      '--no-check',
      '--credentials-file',
      'alice.json',
      '--json',
    ]);
    expect(json(imported)).toMatchObject({
      id: 'imp-crm',
      auth: 'crm',
      type: 'credentials',
      state: 'active',
    });
    // This process's fake site never issued the imported cookie: the check fails, and the stored
    // credentials log in again.
    const validated = await run(['validate', 'imp-crm', '--json']);
    expect(json(validated)).toMatchObject({ id: 'imp-crm', state: 'active' });
    const stdinTwice = await run(['import', 'crm', '-', '--credentials-file', '-']);
    expect(stdinTwice.code).toBe(2);
    expect(stdinTwice.stderr).toContain('cannot both come from stdin');
  });
});

describe('record', () => {
  it('records a session with a headed browser while a person logs in', async () => {
    const recorded = await run(['record', 'portal', '--id', 'rec-1', '--label', 'src=rec'], {
      env: { FAKE_PERSON: '1' },
    });
    expect(recorded.code).toBe(0);
    expect(recorded.stderr).toContain('A browser window opens at https://fake-site.test/login: log in there');
    expect(recorded.stderr).toContain('[config] record headless=false');
    expect(recorded.stdout).toContain('✔ recorded rec-1 (portal): active  src=rec');
    const json1 = await run(['record', 'portal', '--id', 'rec-1', '--json'], { env: { FAKE_PERSON: '1' } });
    expect(json(json1)).toMatchObject({ id: 'rec-1', state: 'active', labels: { src: 'rec' } });
  });

  it('fails clearly: nobody logs in in time (1), a credentials auth (2), an unknown auth (3)', async () => {
    const timeout = await run(['record', 'portal', '--timeout', '300ms']);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toContain('(RECORDER_TIMEOUT)');
    const credentials = await run(['record', 'crm']);
    expect(credentials.code).toBe(2);
    expect(credentials.stderr).toContain('credentials-based');
    expect((await run(['record', 'nope'])).code).toBe(3);
  });

  it('Ctrl-C stops a recording and exits 130', async () => {
    const interrupted = await run(['record', 'portal', '--timeout', '5m'], {
      onStart: (child) => {
        child.stderr!.on('data', (d: Buffer) => {
          if (String(d).includes('A browser window opens')) setTimeout(() => child.kill('SIGINT'), 200);
        });
      },
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('Interrupted');
  });
});

describe('rotate-key', () => {
  it('re-seals every session with the new key; afterwards the old key alone cannot open them', async () => {
    const rotated = await run(['rotate-key', '--json'], { env: { KEYRING: 'both' } });
    expect(rotated.code).toBe(0);
    const counts = json(rotated) as { resealed: number; current: number; failed: number };
    expect(counts.resealed).toBeGreaterThanOrEqual(4);
    expect(counts.failed).toBe(0);
    const again = await run(['rotate-key'], { env: { KEYRING: 'both' } });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/re-sealed 0 sessions; \d+ already used the current key/);

    const withNew = await run(['export', 'alice-1'], { env: { KEYRING: 'new' } });
    expect(withNew.code).toBe(0);
    const withOld = await run(['export', 'alice-1'], { env: { KEYRING: 'old' } });
    expect(withOld.code).toBe(1);
    expect(withOld.stderr).toContain('(KEY_MISMATCH)');
    expect(withOld.stderr).toContain('hint: is the config using the key');
  });
});

describe('terminal output', () => {
  it('colours only on a terminal or when forced, never with NO_COLOR or --json', async () => {
    const env = { KEYRING: 'new' };
    expect((await run(['list'], { env })).stdout).not.toContain('\u001b[');
    expect((await run(['list'], { env: { ...env, FORCE_COLOR: '1' } })).stdout).toContain('\u001b[32mactive');
    expect((await run(['list', '--color'], { env })).stdout).toContain('\u001b[1mID');
    expect((await run(['list'], { env: { ...env, FORCE_COLOR: '1', NO_COLOR: '1' } })).stdout).not.toContain(
      '\u001b[',
    );
    expect((await run(['list', '--no-color'], { env: { ...env, FORCE_COLOR: '1' } })).stdout).not.toContain(
      '\u001b[',
    );
    expect((await run(['list', '--json'], { env: { ...env, FORCE_COLOR: '1' } })).stdout).not.toContain(
      '\u001b[',
    );
  });

  it.skipIf(!HAS_SCRIPT)('on a terminal, long work shows progress on stderr, then erases it', async () => {
    const listed = await runPty('list', [], { KEYRING: 'new' });
    expect(listed.code).toBe(0);
    expect(listed.output).toContain('Reading sessions…');
    expect(listed.output).toContain('\r\u001b[2K');
    const rotated = await runPty('rotate-key', [], { KEYRING: 'new' });
    expect(rotated.code).toBe(0);
    expect(rotated.output).toContain('Re-sealing sessions with the current key…');
    const plain = await runPty('list', [], { KEYRING: 'new', NO_COLOR: '1' });
    expect(plain.output).not.toContain('\u001b[32m');
  });
});

describe('TypeScript config', () => {
  it('loads auth-sessions.config.ts through tsx', async () => {
    const dir = join(tmp, 'ts-project');
    await mkdir(dir, { recursive: true });
    await symlink(join(proj, 'node_modules'), join(dir, 'node_modules'));
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await writeFile(
      join(dir, 'auth-sessions.config.ts'),
      `import type { AuthSessionManager } from 'auth-sessions';
import makeManager from '../project/auth-sessions.config.mjs';
const manager: Promise<AuthSessionManager> = makeManager();
export default (): Promise<AuthSessionManager> => manager;
`,
    );
    const listed = await run(['list', '--json'], { cwd: dir, env: { KEYRING: 'new' } });
    expect(listed.code).toBe(0);
    expect((json(listed) as Array<{ id: string }>).map((s) => s.id)).toContain('alice-1');
  });

  it('without tsx installed, a .ts config fails with the fix in the message', async () => {
    // A second install of the package whose node_modules has everything but tsx.
    const pkg = join(tmp, 'pkg-no-tsx');
    cpSync(join(tmp, 'pkg/dist'), join(pkg, 'dist'), { recursive: true });
    await writeFile(join(pkg, 'package.json'), await readFile(join(ROOT, 'package.json')));
    await mkdir(join(pkg, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === 'tsx' || name === '.bin') continue;
      await symlink(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
    }
    const dir = join(tmp, 'ts-project-no-tsx');
    await mkdir(join(dir, 'node_modules'), { recursive: true });
    await symlink(pkg, join(dir, 'node_modules/auth-sessions'));
    await writeFile(join(dir, 'auth-sessions.config.ts'), 'export default 1 as number;\n');
    const child = spawnSync(process.execPath, [join(pkg, 'dist/cli/main.js'), 'list'], {
      cwd: dir,
      encoding: 'utf8',
      env: cleanEnv({}),
    });
    expect(child.status).toBe(2);
    expect(child.stderr).toContain('auth-sessions.config.ts is TypeScript: install tsx in your project');
  });
});
