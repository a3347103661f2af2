/**
 * `examples/testing.ts` is the testing section of the README (docs-snippets.test.ts checks they are the same
 * text). It runs here as a user runs it: its own process through tsx, `auth-sessions` resolved by name.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

it('examples/testing.ts runs to completion with the default retry backoff and a FakeClock', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'examples/testing.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  // Exit 13 would be Node's "unsettled top-level await": a wait nothing keeps alive (issue #16).
  expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  expect(result.stdout).toBe('ok: 3 logins, events: refreshed, expired\n');
}, 70_000);
