import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDIS_URL, serviceAvailable } from './services.js';

const redisUp = await serviceAvailable('redis');
const MAIN = fileURLToPath(new URL('../../examples/multi-process/main.ts', import.meta.url));

describe.skipIf(!redisUp)('examples/multi-process', () => {
  it('runs: several worker processes, one session, one login (fake browser)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', MAIN, '--browser', 'fake', '--workers', '3', '--runs', '20', '--redis', REDIS_URL],
      { timeout: 90_000 },
    );
    expect(stdout).toContain('logins at the site while the workers ran: 1 (expected 1)');
    expect(stdout.match(/: 20 ok, 0 failed/g)).toHaveLength(3);
  }, 120_000);
});
