import { AuthSessionError } from '../errors.js';
import type { MetaStore, ScryptParams } from './passphrase-key.js';

/** What resolving a key works with: `ResolveKeyringDeps` with the defaults filled in. */
export interface KeyContext {
  readonly meta: MetaStore;
  readonly hasSessions: () => Promise<boolean>;
  readonly env: NodeJS.ProcessEnv;
  readonly dataDir: string;
  readonly notice: (message: string) => void;
  readonly randomBytes: (n: number) => Uint8Array;
  readonly scryptParams: ScryptParams;
}

/** `n` random bytes from the context's source (checked to be `n`). */
export function randomOf(ctx: KeyContext, n: number): Uint8Array {
  const bytes = new Uint8Array(ctx.randomBytes(n));
  if (bytes.length !== n) {
    throw new AuthSessionError('INVALID_OPTIONS', `randomBytes(${n}) returned ${bytes.length} bytes`);
  }
  return bytes;
}
