import { AuthSessionError } from './errors.js';

/**
 * Loads an optional peer dependency for an entry point (`auth-sessions/redis` needs `@keyv/redis`, …). A peer
 * that is not installed becomes one clear error naming the package to install, instead of Node's
 * `ERR_MODULE_NOT_FOUND` from deep inside the library; any other failure to load it is passed on as it is.
 * Loaded with `import()`, so the library and the application share the one ESM copy of the peer.
 */
export async function importPeer<T>(entry: string, peer: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : '';
    if (code === 'ERR_MODULE_NOT_FOUND' && message.includes(`'${peer}'`)) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `${entry} needs the optional dependency "${peer}", which is not installed (npm install ${peer})`,
        { cause: err },
      );
    }
    throw err;
  }
}
