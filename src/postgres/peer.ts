import type * as KeyvPostgresModule from '@keyv/postgres';
import { importPeer } from '../peers.js';

// Loaded before the modules that use it run (top-level await): a missing @keyv/postgres is one clear error.
const keyvPostgres: typeof KeyvPostgresModule = await importPeer(
  'auth-sessions/postgres',
  '@keyv/postgres',
  () => import('@keyv/postgres'),
);

/** `@keyv/postgres`'s store class (the application's own copy). */
export const KeyvPostgres = keyvPostgres.KeyvPostgres;
