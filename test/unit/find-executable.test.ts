import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from '../../src/browser/find-executable.js';
import { AuthSessionError } from '../../src/errors.js';

let dir: string;
let exe: string;
let plain: string;
let pathDir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'find-chromium-'));
  exe = join(dir, 'my-chrome');
  writeFileSync(exe, '#!/bin/sh\n');
  chmodSync(exe, 0o755);
  plain = join(dir, 'not-executable');
  writeFileSync(plain, '');
  chmodSync(plain, 0o644);
  pathDir = join(dir, 'bin');
  mkdirSync(pathDir);
  writeFileSync(join(pathDir, 'google-chrome'), '#!/bin/sh\n');
  chmodSync(join(pathDir, 'google-chrome'), 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Searches nothing on this machine unless a test says so.
const isolated = { env: {}, playwrightPath: () => undefined, systemPaths: [] };

function errorOf(fn: () => unknown): AuthSessionError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AuthSessionError);
    return err as AuthSessionError;
  }
  throw new Error('expected a throw');
}

describe.skipIf(process.platform === 'win32')('findChromium', () => {
  it('takes the executablePath option first, over the environment', () => {
    expect(findChromium({ ...isolated, executablePath: exe, env: { AUTH_SESSIONS_CHROMIUM: plain } })).toBe(
      exe,
    );
  });

  it('takes AUTH_SESSIONS_CHROMIUM next, over Playwright and the system', () => {
    expect(
      findChromium({
        ...isolated,
        env: { AUTH_SESSIONS_CHROMIUM: exe },
        playwrightPath: () => '/usr/bin/env',
      }),
    ).toBe(exe);
  });

  it('refuses an explicit path that is missing, a directory or not executable', () => {
    for (const bad of [join(dir, 'missing'), dir, plain]) {
      const err = errorOf(() => findChromium({ ...isolated, executablePath: bad }));
      expect(err.code).toBe('BROWSER_UNAVAILABLE');
      expect(err.message).toContain('executablePath');
      expect(err.message).toContain(JSON.stringify(bad));
      const fromEnv = errorOf(() => findChromium({ ...isolated, env: { AUTH_SESSIONS_CHROMIUM: bad } }));
      expect(fromEnv.message).toContain('AUTH_SESSIONS_CHROMIUM');
    }
  });

  it("prefers Playwright's own browser, then the system paths, skipping what is missing", () => {
    expect(
      findChromium({ ...isolated, playwrightPath: () => exe, systemPaths: [join(pathDir, 'google-chrome')] }),
    ).toBe(exe);
    expect(
      findChromium({
        ...isolated,
        playwrightPath: () => join(dir, 'missing'),
        systemPaths: [plain, dir, exe],
      }),
    ).toBe(exe);
  });

  it('looks the usual names up on PATH without a shell', () => {
    expect(findChromium({ ...isolated, env: { PATH: `${join(dir, 'nowhere')}:${pathDir}` } })).toBe(
      join(pathDir, 'google-chrome'),
    );
  });

  it('names every way to get a browser when none is found', () => {
    const err = errorOf(() =>
      findChromium({ ...isolated, playwrightPath: () => join(dir, 'pw-chrome'), env: { PATH: dir } }),
    );
    expect(err.code).toBe('BROWSER_UNAVAILABLE');
    expect(err.status).toBe(503);
    expect(err.message).toContain('apt-get install -y chromium');
    expect(err.message).toContain('npx playwright install chromium');
    expect(err.message).toContain('AUTH_SESSIONS_CHROMIUM');
    expect(err.message).toContain('`executablePath`');
    expect(err.message).toContain(join(dir, 'pw-chrome'));
  });

  it.runIf(process.platform === 'linux')('finds a real browser on this machine with the defaults', () => {
    const found = findChromium({ env: { PATH: process.env.PATH } });
    expect(found).toMatch(/chrom/i);
  });
});
