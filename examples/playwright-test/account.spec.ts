import { SITE_URL } from './accounts.js';
import { expect, test } from './fixtures.js';

// Nine tests over three workers: each worker holds one account for all the tests it runs.
for (let i = 1; i <= 9; i++) {
  test(`the account page shows the leased user (${i})`, async ({ page, authSession }, testInfo) => {
    testInfo.annotations.push({
      type: 'account',
      description: `${testInfo.workerIndex}:${testInfo.parallelIndex}:${authSession.id}`,
    });
    await page.goto(`${SITE_URL}/account`);
    await expect(page.locator('#user')).toHaveText(authSession.id);
  });
}
