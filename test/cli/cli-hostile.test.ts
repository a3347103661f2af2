/**
 * The CLI prints data (labels, ids, failure texts, hook errors) that anyone able to write the store or call
 * the API chose: control characters are escaped, and hook errors never show a credential, even with
 * `--verbose`. Spawns the CLI from source (tsx) with a config whose sessions carry such data.
 */
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeControl, painter, safeJson, safeText, table } from '../../src/cli/output.js';
import { promptVisible } from '../../src/cli/prompt.js';
import { CANARY_PASSWORD } from './fixtures/hostile.config.js';

const ROOT = resolve(import.meta.dirname, '../..');

function cli(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', '--config', 'test/cli/fixtures/hostile.config.ts', ...args],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '1' } },
  );
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    all: result.stdout + result.stderr,
  };
}

/** Any character a terminal acts on, except newlines and the SGR colours the CLI writes itself. */
function controls(text: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the CLI's own colours is the point
  const withoutOwnColours = text.replace(/\u001b\[(1|2|22|31|32|33|36|39)m/g, '');
  return [...withoutOwnColours].filter((c) => {
    const code = c.charCodeAt(0);
    return (
      (code < 0x20 && code !== 0x0a) ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    );
  });
}

describe('CLI output escapes control characters from data', () => {
  it('list, show and their --json forms', () => {
    for (const args of [
      ['list'],
      ['show', 'evil'],
      ['show', 'broken'],
      ['list', '--json'],
      ['show', 'broken', '--json'],
    ]) {
      const r = cli(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ args, code: 0 });
      expect({ args, controls: controls(r.all) }).toEqual({ args, controls: [] });
      if (args[1] !== 'broken' && !args.includes('--json')) expect(r.stdout).toContain('\\x1b]0;pwned\\x07');
    }
    // JSON stays JSON and keeps the value.
    const parsed = JSON.parse(cli('list', '--json').stdout) as Array<{
      id: string;
      labels: Record<string, string>;
    }>;
    expect(parsed.find((s) => s.id === 'evil')?.labels.note).toBe(
      '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e',
    );
  }, 120_000);

  it('errors, with --verbose causes: escaped, and no credential', () => {
    const r = cli('validate', 'evil', '--verbose');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('caused by');
    expect(controls(r.all)).toEqual([]);
    expect(r.all).not.toContain(CANARY_PASSWORD);
    expect(r.all).toContain('[redacted]');
  }, 120_000);
});

describe('output helpers', () => {
  it('escapeControl escapes C0, DEL, C1 and bidirectional controls', () => {
    expect(escapeControl('a\u001b[2Jb\u0007\u007f\u009b\u202e\n')).toBe(
      'a\\x1b[2Jb\\x07\\x7f\\x9b\\u202e\\x0a',
    );
    expect(escapeControl('plain – text ✔')).toBe('plain – text ✔');
  });

  it('safeText keeps the painter colours and newlines, nothing else', () => {
    const paint = painter(true);
    const line = `${paint('green', '✔')} ${'\u001b]0;t\u0007'}\n${paint('dim', 'x\u001b[31my')}`;
    expect(safeText(line)).toBe('\u001b[32m✔\u001b[39m \\x1b]0;t\\x07\n\u001b[2mx\\x1b[31my\u001b[22m');
    expect(safeText('a\nb', true)).toBe('a\\x0ab');
  });

  it('table escapes cells and aligns on what is shown', () => {
    const out = table(
      ['A', 'B'],
      [
        ['x\u001b[2J', '1'],
        ['yy', '2'],
      ],
      painter(false),
    );
    expect(out.split('\n')).toEqual(['A         B', 'x\\x1b[2J  1', 'yy        2']);
  });

  it('safeJson escapes what JSON.stringify leaves raw and still parses to the same value', () => {
    const value = { s: '\u009b31m\u2028\u202e\u001b' };
    expect(controls(safeJson(value))).toEqual([]);
    expect(JSON.parse(safeJson(value))).toEqual(value);
  });

  it('a prompt shows its question escaped', async () => {
    const input = Object.assign(new EventEmitter(), {
      isTTY: true,
      isRaw: false,
      setRawMode() {},
      setEncoding() {},
      resume() {},
      pause() {},
    });
    let shown = '';
    const answer = promptVisible(
      input as never,
      { write: (t: string) => (shown += t) },
      'code \u001b]0;x\u0007: ',
    );
    input.emit('data', 'ok\r');
    await answer;
    expect(shown.startsWith('code \\x1b]0;x\\x07: ')).toBe(true);
  });
});
