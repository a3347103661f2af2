/**
 * The README and the guides cannot drift from the code: every ```ts block of README.md and docs/*.md is
 * type-checked as its own module, in one TypeScript program (imports of `auth-sessions` resolve to src/
 * through the tsconfig paths). A block that is deliberately a fragment is marked ```ts no-check (or has a
 * `<!-- no-check -->` line before it); a block after `<!-- example: path -->` must be that file, word for
 * word (the file itself is compiled with the project and run by its own test).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Snippet {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
  readonly check: boolean;
  readonly example?: string;
}

/** The ```ts blocks of a markdown text, with how each one is marked. */
function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b(.*)$/.exec(lines[i]!);
    if (!open) {
      // Skip over blocks of other languages so their contents are never read as fences.
      if (/^```\S*/.test(lines[i]!)) {
        const end = lines.findIndex((l, j) => j > i && l === '```');
        if (end > i) i = end;
      }
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && l === '```');
    if (end < 0) throw new Error(`${file}:${i + 1}: a \`\`\`ts block is never closed`);
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? lines[before]!.trim() : '';
    const example = /^<!-- example: (\S+) -->$/.exec(marker)?.[1];
    snippets.push({
      file,
      line: i + 1,
      code: `${lines.slice(i + 1, end).join('\n')}\n`,
      check: !/\bno-check\b/.test(open[2]!) && marker !== '<!-- no-check -->' && example === undefined,
      ...(example === undefined ? {} : { example }),
    });
    i = end;
  }
  return snippets;
}

/**
 * Names the guides use without defining them: the objects of the surrounding story (a manager, an auth, a
 * session id, your own helpers). Each block is a module, so a block that defines one of these itself simply
 * shadows it.
 */
const PRELUDE = `import type { Browser, Page } from 'playwright-core';
import type { AuthSessionInfo, AuthSessionManager, CredentialsAuthDefinition, RecorderAuthDefinition, RunTask } from 'auth-sessions';
import type { ZodType } from 'zod';
declare global {
  const manager: AuthSessionManager;
  const crm: CredentialsAuthDefinition<ZodType<{ username: string; password: string; totpSecret?: string }>>;
  const portal: RecorderAuthDefinition;
  const credentials: { username: string; password: string };
  const newCredentials: { username: string; password: string };
  const session: AuthSessionInfo;
  const sessionId: string;
  const id: string;
  const task: RunTask<unknown>;
  const urls: readonly string[];
  const browser: Browser;
  const codeTypedByTheUser: string;
  function scrape(page: Page): Promise<unknown>;
  function notify(...args: unknown[]): void;
  function askSomeoneToLogIn(sessionId: string): Promise<void>;
  function askTheUserToLogInAgain(sessionId: string): Promise<void>;
  const metrics: { observe(...args: unknown[]): void };
}
export {};
`;

/** Packages the guides mention that the library does not depend on. */
const AMBIENT = `declare module 'pino' {
  const pino: (options?: { level?: string }) => import('auth-sessions').AuthSessionLogger;
  export default pino;
}
`;

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join('docs', f));
  return ['README.md', ...docs];
}

const snippets = markdownFiles().flatMap((file) =>
  extractSnippets(file, readFileSync(join(ROOT, file), 'utf8')),
);
const dir = join(ROOT, '.tmp', `docs-snippets-${process.pid}`);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('extractSnippets', () => {
  it('finds ts blocks, their markers, and skips other languages', () => {
    const md = [
      '```sh',
      '```ts',
      '```',
      '```ts',
      'const a = 1;',
      '```',
      '<!-- no-check -->',
      '',
      '```ts',
      'fragment(',
      '```',
      '```ts no-check',
      'also(',
      '```',
      '<!-- example: examples/x.ts -->',
      '```ts',
      'x',
      '```',
    ].join('\n');
    expect(extractSnippets('a.md', md)).toEqual([
      { file: 'a.md', line: 4, code: 'const a = 1;\n', check: true },
      { file: 'a.md', line: 9, code: 'fragment(\n', check: false },
      { file: 'a.md', line: 12, code: 'also(\n', check: false },
      { file: 'a.md', line: 16, code: 'x\n', check: false, example: 'examples/x.ts' },
    ]);
  });
});

describe('docs', () => {
  it('README.md and the guides have code blocks, and few are left unchecked', () => {
    expect(snippets.filter((s) => s.file === 'README.md' && s.check).length).toBeGreaterThan(0);
    expect(snippets.filter((s) => s.check).length).toBeGreaterThan(15);
    expect(snippets.filter((s) => !s.check && !s.example).length).toBeLessThanOrEqual(8);
  });

  it('an example block is its file, word for word (README testing section = examples/testing.ts)', () => {
    const examples = snippets.filter((s) => s.example);
    expect(examples.map((s) => `${s.file} → ${s.example}`)).toContain('README.md → examples/testing.ts');
    for (const s of examples) {
      expect(s.code, `${s.file}:${s.line}`).toBe(readFileSync(join(ROOT, s.example!), 'utf8'));
    }
  });

  it('every ts block type-checks (one program for all of them)', () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = new Map<string, Snippet>();
    const prelude = join(dir, 'prelude.ts');
    writeFileSync(prelude, PRELUDE);
    const ambient = join(dir, 'ambient.d.ts');
    writeFileSync(ambient, AMBIENT);
    snippets.forEach((s, n) => {
      if (!s.check) return;
      const path = join(dir, `${s.file.replace(/[^a-z0-9]+/gi, '-')}-${s.line}-${n}.ts`);
      // `export {}` makes every block a module: its names are its own, top-level await works.
      writeFileSync(path, `${s.code}\nexport {};\n`);
      files.set(path, s);
    });
    const config = ts.getParsedCommandLineOfConfigFile(
      join(ROOT, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (!config) throw new Error('cannot read tsconfig.json');
    const program = ts.createProgram([prelude, ambient, ...files.keys()], {
      ...config.options,
      noEmit: true,
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter(
        (d) =>
          d.file &&
          (files.has(d.file.fileName) || d.file.fileName === prelude || d.file.fileName === ambient),
      )
      .map((d) => {
        const s = files.get(d.file!.fileName);
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const where = s ? `${s.file}:${s.line + 1 + line}` : relative(ROOT, d.file!.fileName);
        return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);
});
