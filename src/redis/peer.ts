import type * as KeyvRedisModule from '@keyv/redis';
import { importPeer } from '../peers.js';

// Loaded before the modules that use it run (top-level await): a missing @keyv/redis is one clear error.
const keyvRedis: typeof KeyvRedisModule = await importPeer(
  'auth-sessions/redis',
  '@keyv/redis',
  () => import('@keyv/redis'),
);

/** `@keyv/redis`'s store class (the application's own copy). */
export const KeyvRedis = keyvRedis.default;
/** `@keyv/redis`'s re-export of node-redis `createClient`. */
export const createClient = keyvRedis.createClient;
