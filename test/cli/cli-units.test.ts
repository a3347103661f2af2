/** The CLI's terminal pieces in-process: hidden prompt, confirmation, progress, colours, parsing, exit codes. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseCommandLine, parseDuration, parseLabels } from '../../src/cli/args.js';
import { EXIT, exitCodeFor, InterruptedError, UsageError } from '../../src/cli/exit-codes.js';
import { formatAge, formatDuration, Progress, painter, table, useColor } from '../../src/cli/output.js';
import { confirm, promptHidden } from '../../src/cli/prompt.js';
import { defineAuth } from '../../src/define.js';
import { AuthSessionError } from '../../src/errors.js';
import { describeAuth } from '../../src/monitor/describe-auth.js';
import { closest, editDistance } from '../../src/suggest.js';

class FakeTty extends EventEmitter {
  readonly isTTY = true;
  isRaw = false;
  readonly rawModes: boolean[] = [];
  setRawMode(mode: boolean) {
    this.isRaw = mode;
    this.rawModes.push(mode);
    return this;
  }
  setEncoding() {
    return this;
  }
  resume() {
    return this;
  }
  pause() {
    return this;
  }
  type(text: string) {
    this.emit('data', text);
  }
}

class Sink {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

describe('promptHidden', () => {
  it('reads an answer in raw mode without echoing it, with backspace and Ctrl-U', async () => {
    const input = new FakeTty();
    const output = new Sink(true);
    const answer = promptHidden(input, output, 'password: ');
    input.type('wrong');
    input.type('\u0015'); // Ctrl-U clears
    input.type('sx\u007fe');
    input.type('cret\u001b[A'); // an arrow key is ignored
    input.type('\r');
    expect(await answer).toBe('secret');
    expect(output.text).toBe('password: \n');
    expect(input.rawModes).toEqual([true, false]);
    expect(input.listenerCount('data')).toBe(0);
  });

  it('Ctrl-C, or Ctrl-D on an empty answer, interrupts', async () => {
    const input = new FakeTty();
    const first = promptHidden(input, new Sink(true), 'q: ');
    input.type('abc\u0003');
    await expect(first).rejects.toBeInstanceOf(InterruptedError);
    const second = promptHidden(input, new Sink(true), 'q: ');
    input.type('\u0004');
    await expect(second).rejects.toBeInstanceOf(InterruptedError);
    expect(input.isRaw).toBe(false);
  });

  it('needs a terminal', async () => {
    const notTty = Object.assign(new EventEmitter(), { setEncoding() {}, resume() {}, pause() {} });
    await expect(promptHidden(notTty as never, new Sink(), 'q: ')).rejects.toThrow(
      'A prompt needs a terminal',
    );
  });
});

describe('confirm', () => {
  it('is true only for y or yes, and echoes the answer', async () => {
    for (const [typed, expected] of [
      ['y\r', true],
      ['YES\r', true],
      ['n\r', false],
      ['\r', false],
      ['yep\r', false],
    ] as const) {
      const input = new FakeTty();
      const output = new Sink(true);
      const answer = confirm(input, output, 'Delete?');
      input.type(typed);
      expect(await answer, typed).toBe(expected);
      expect(output.text).toBe(`Delete? [y/N] ${typed.slice(0, -1)}\n`);
    }
  });
});

describe('Progress', () => {
  it('draws on a terminal and erases itself; writes nothing elsewhere', () => {
    const tty = new Sink(true);
    const progress = new Progress(tty, 'Reading sessions…');
    progress.update(1234);
    progress.done();
    expect(tty.text).toContain('Reading sessions… 1,234');
    expect(tty.text.endsWith('\r\u001b[2K')).toBe(true);
    const pipe = new Sink(false);
    const quiet = new Progress(pipe, 'Reading sessions…', { spin: true });
    quiet.update(5);
    quiet.done();
    expect(pipe.text).toBe('');
  });
});

describe('colours', () => {
  it('follow flags, then NO_COLOR, then FORCE_COLOR, then the terminal', () => {
    const tty = new Sink(true);
    const pipe = new Sink(false);
    expect(useColor(tty, {}, {})).toBe(true);
    expect(useColor(pipe, {}, {})).toBe(false);
    expect(useColor(tty, { TERM: 'dumb' }, {})).toBe(false);
    expect(useColor(tty, { NO_COLOR: '1' }, {})).toBe(false);
    expect(useColor(tty, { NO_COLOR: '' }, {})).toBe(true);
    expect(useColor(pipe, { FORCE_COLOR: '1' }, {})).toBe(true);
    expect(useColor(pipe, { FORCE_COLOR: '0' }, {})).toBe(false);
    expect(useColor(pipe, { NO_COLOR: '1', FORCE_COLOR: '1' }, {})).toBe(false);
    expect(useColor(pipe, { NO_COLOR: '1' }, { color: true })).toBe(true);
    expect(useColor(tty, {}, { noColor: true })).toBe(false);
  });

  it('tables align coloured cells by their visible width', () => {
    const paint = painter(true);
    const text = table(
      ['ID', 'STATE'],
      [
        ['a', paint('green', 'active')],
        ['longer-id', paint('red', 'expired')],
      ],
      paint,
    );
    const plain = text
      .replaceAll('\u001b[32m', '')
      .replaceAll('\u001b[31m', '')
      .replaceAll('\u001b[39m', '')
      .replaceAll('\u001b[1m', '')
      .replaceAll('\u001b[22m', '');
    expect(plain.split('\n')).toEqual(['ID         STATE', 'a          active', 'longer-id  expired']);
  });
});

describe('parsing', () => {
  it('finds the command wherever the global options are', () => {
    expect(parseCommandLine(['--json', 'show', 'x', '-c', 'cfg.mjs'])).toMatchObject({
      command: 'show',
      positionals: { id: 'x' },
      values: { json: true, config: 'cfg.mjs' },
    });
    expect(parseCommandLine(['-c', 'list', 'list'])).toMatchObject({
      command: 'list',
      values: { config: 'list' },
    });
    expect(parseCommandLine(['list', '-l', 'a=b', '--label', 'c=d=e']).values.label).toEqual([
      'a=b',
      'c=d=e',
    ]);
    expect(parseCommandLine(['--version']).version).toBe(true);
    expect(() => parseCommandLine(['show', '--yes', 'x'])).toThrow(UsageError);
    expect(() => parseCommandLine(['toString'])).toThrow('Unknown command "toString"');
  });

  it('labels and durations', () => {
    expect(parseLabels(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
    expect(() => parseLabels(['=v'])).toThrow(UsageError);
    expect(() => parseLabels(['__proto__=x'])).toThrow(UsageError);
    expect(parseDuration('300', '--timeout')).toBe(300_000);
    expect(parseDuration('90s', '--timeout')).toBe(90_000);
    expect(parseDuration('10m', '--timeout')).toBe(600_000);
    expect(parseDuration('1.5h', '--timeout')).toBe(5_400_000);
    expect(parseDuration('250ms', '--timeout')).toBe(250);
    expect(() => parseDuration('0', '--timeout')).toThrow(UsageError);
    expect(() => parseDuration('-5s', '--timeout')).toThrow(UsageError);
  });

  it('formats ages and durations', () => {
    expect([5_000, 120_000, 7_200_000, 3 * 86_400_000].map(formatAge)).toEqual(['5s', '2m', '2h', '3d']);
    expect([850, 1_240, 125_000, undefined].map(formatDuration)).toEqual(['850ms', '1.2s', '2m05s', '']);
  });
});

describe('exit codes', () => {
  it('map error codes to the documented exit codes', () => {
    const code = (c: ConstructorParameters<typeof AuthSessionError>[0]) =>
      exitCodeFor(new AuthSessionError(c, 'x'), false);
    expect(code('SESSION_NOT_FOUND')).toBe(EXIT.NOT_FOUND);
    expect(code('UNKNOWN_AUTH')).toBe(EXIT.NOT_FOUND);
    expect(code('SESSION_EXPIRED')).toBe(EXIT.EXPIRED);
    expect(code('INVALID_CREDENTIALS')).toBe(EXIT.USAGE);
    expect(code('TARGET_UNREACHABLE')).toBe(EXIT.UNAVAILABLE);
    expect(code('STORAGE_UNAVAILABLE')).toBe(EXIT.UNAVAILABLE);
    expect(code('CREATE_FAILED')).toBe(EXIT.FAILURE);
    expect(code('DECRYPT_FAILED')).toBe(EXIT.FAILURE);
    expect(exitCodeFor(new UsageError('x'), false)).toBe(EXIT.USAGE);
    expect(exitCodeFor(new AuthSessionError('CLOSED', 'x'), true)).toBe(EXIT.INTERRUPTED);
    expect(exitCodeFor(new Error('bug'), false)).toBe(EXIT.FAILURE);
    // A copy of the library loaded by the config throws its own AuthSessionError class: codes still map.
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'SESSION_EXPIRED' }), false)).toBe(EXIT.EXPIRED);
  });
});

describe('did you mean', () => {
  it('measures typos (a swap of two letters is one edit) and suggests only close words', () => {
    expect(editDistance('list', 'list')).toBe(0);
    expect(editDistance('lst', 'list')).toBe(1);
    expect(editDistance('lsit', 'list')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    const commands = ['list', 'show', 'validate', 'create', 'record', 'update', 'delete', 'rotate-key'];
    expect(closest('lst', commands)).toBe('list');
    expect(closest('valdiate', commands)).toBe('validate');
    expect(closest('rotatekey', commands)).toBe('rotate-key');
    expect(closest('val', commands)).toBe('validate');
    expect(closest('frob', commands)).toBeUndefined();
    expect(closest('x', commands)).toBeUndefined();
  });
});

describe('credential fields for prompts', () => {
  it('come from the zod schema: optional, secret (by writeOnly or by name) and type', () => {
    const auth = defineAuth({
      name: 'crm',
      type: 'credentials',
      credentials: z.object({
        username: z.string(),
        password: z.string(),
        passphrase: z.string().optional(),
        tenant: z.string().meta({ writeOnly: true }),
        shard: z.number().int().optional(),
        sso: z.boolean().optional(),
      }),
      create: async () => {},
      check: async () => true,
    });
    expect(describeAuth(auth).credentialFields).toEqual([
      { name: 'username', optional: false, secret: false, type: 'string' },
      { name: 'password', optional: false, secret: true, type: 'string' },
      { name: 'passphrase', optional: true, secret: true, type: 'string' },
      { name: 'tenant', optional: false, secret: true, type: 'string' },
      { name: 'shard', optional: true, secret: false, type: 'integer' },
      { name: 'sso', optional: true, secret: false, type: 'boolean' },
    ]);
  });
});
