import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './accounts.js';

// `EXAMPLE_LAPSE=1` runs the tests twice in one run, with every login of the site ended in between
// (projects `before` → `lapse` → `after`): each account is then logged in again once, by its worker.
const lapse = process.env.EXAMPLE_LAPSE === '1';

export default defineConfig({
  testDir: '.',
  globalSetup: './global-setup.ts',
  fullyParallel: true,
  workers: 3,
  reporter: 'list',
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
  projects: lapse
    ? [
        { name: 'before', testMatch: /account\.spec\.ts/ },
        { name: 'lapse', testMatch: /lapse\.setup\.ts/, dependencies: ['before'] },
        { name: 'after', testMatch: /account\.spec\.ts/, dependencies: ['lapse'] },
      ]
    : [{ name: 'chromium', testMatch: /account\.spec\.ts/ }],
});
