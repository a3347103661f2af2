/** Creates the pool's sessions once, before any worker starts (skipped for those that exist already). */
import { ACCOUNTS, makeManager } from './accounts.js';

export default async function globalSetup(): Promise<void> {
  await using manager = makeManager();
  for (const credentials of ACCOUNTS) {
    const existing = await manager.get(credentials.username);
    if (existing?.state === 'active') continue;
    if (existing) await manager.delete(existing.id);
    await manager.create('demo-site', { id: credentials.username, credentials, labels: { pool: 'e2e' } });
  }
}
