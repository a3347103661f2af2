/** The `lapse` project: the demo site ends every login between the `before` and `after` projects. */
import { expect, test } from '@playwright/test';
import { SITE_URL } from './accounts.js';

test('the site ends every login', async ({ request }) => {
  const res = await request.post(`${SITE_URL}/__admin/expire`);
  expect(res.status()).toBe(200);
});
