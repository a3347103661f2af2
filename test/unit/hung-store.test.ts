import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

it('a hung store rejects with STORAGE_UNAVAILABLE even when nothing else keeps the process alive', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/unit/fixtures/hung-store.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  // Exit 13 is Node's "unsettled top-level await": the store-timeout timer did not keep the process alive.
  expect({ status: result.status, stdout: result.stdout }).toEqual({
    status: 0,
    stdout: 'rejected: STORAGE_UNAVAILABLE\nfinally\n',
  });
}, 40_000);
