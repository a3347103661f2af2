import { AuthSessionError } from '../errors.js';

/** Session ids being recorded or imported, per manager (keyed by an object the manager owns). */
const claims = new WeakMap<object, Set<string>>();

/**
 * Claims a session id for one recording or import in this process, so two of them never interleave on the
 * same record (the second would otherwise overwrite the first person's work). Across processes the
 * revision-checked writes refuse the later one with `STALE_WRITE`.
 *
 * @returns the release function (idempotent).
 * @throws AuthSessionError `INVALID_STATE` when the id is claimed already.
 * @example
 * ```ts
 * const release = claimSession(lifecycle, id);
 * try { await work(); } finally { release(); }
 * ```
 */
export function claimSession(owner: object, id: string): () => void {
  let ids = claims.get(owner);
  if (!ids) {
    ids = new Set();
    claims.set(owner, ids);
  }
  if (ids.has(id)) {
    throw new AuthSessionError(
      'INVALID_STATE',
      `Session "${id}" is being recorded or imported already; wait for that to finish`,
      { sessionId: id },
    );
  }
  ids.add(id);
  const held = ids;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.delete(id);
  };
}
