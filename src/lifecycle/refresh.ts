import { raceAbort } from '../browser/slots.js';
import type { AuthDefinition, AuthOptions, CredentialsAuthDefinition } from '../define.js';
import { AuthSessionError } from '../errors.js';
import { summariseError } from '../monitor/events.js';
import { expired, refreshed } from '../session/changes.js';
import { toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import { validateWithSchema } from '../standard-schema.js';
import { assertRunnable, type Lifecycle } from './engine.js';
import { normalise } from './hooks.js';
import { logIn } from './log-in.js';

/**
 * Refresh once for everyone: one refresh per session in flight in this process (all callers share it), the
 * manager's lock across processes, the record read again under the lock (another worker may have renewed
 * it), and the outcome written as a change fenced on the generation it started from.
 */
export class Refresher {
  readonly #lifecycle: Lifecycle;
  readonly #onStart: (id: string) => void;
  readonly #refreshing = new Map<string, Promise<SessionRecord>>();
  /** The flights of `#refreshing` that are refreshes ahead of a lapse. */
  readonly #ahead = new WeakSet<Promise<SessionRecord>>();

  /** `onStart` is told when a refresh of a session starts (runs waiting for a context then wait for it). */
  constructor(lifecycle: Lifecycle, onStart: (id: string) => void) {
    this.#lifecycle = lifecycle;
    this.#onStart = onStart;
  }

  /** The refresh of this session under way in this process after a failed check, if any. */
  inFlight(id: string): Promise<SessionRecord> | undefined {
    const flight = this.#refreshing.get(id);
    // A refresh ahead of a lapse is not waited for: the login it replaces still holds (a run checks it as
    // usual, and only waits for the refresh when that check fails).
    return flight && this.#ahead.has(flight) ? undefined : flight;
  }

  /** The refresh ahead of a lapse of this session under way in this process, if any. */
  aheadInFlight(id: string): Promise<SessionRecord> | undefined {
    const flight = this.#refreshing.get(id);
    return flight && this.#ahead.has(flight) ? flight : undefined;
  }

  /**
   * After a failed check: credentials sessions refresh once for everyone (single flight + lock); recorder
   * sessions expire at once. Returns the renewed record or throws `SESSION_EXPIRED`.
   */
  async recover(
    record: SessionRecord,
    auth: AuthDefinition,
    opts: Required<AuthOptions>,
    signal: AbortSignal,
    ahead?: RefreshAhead,
  ): Promise<SessionRecord> {
    let flight = this.#refreshing.get(record.id);
    if (flight && !ahead && this.#ahead.has(flight)) {
      // A refresh ahead is under way: its login is as good as ours, but when it fails it leaves the session
      // as it was (the login still held when it started); a caller whose check failed then refreshes itself.
      const joined = flight;
      return raceAbort(
        joined.catch(() => this.recover(record, auth, opts, signal)),
        signal,
      );
    }
    if (!flight) {
      const started = this.#recoverExclusive(record, auth, opts, ahead).finally(() =>
        this.#refreshing.delete(record.id),
      );
      flight = started;
      if (ahead) this.#ahead.add(started);
      this.#refreshing.set(record.id, started);
      this.#onStart(record.id);
    }
    return raceAbort(flight, signal);
  }

  async #recoverExclusive(
    seen: SessionRecord,
    auth: AuthDefinition,
    opts: Required<AuthOptions>,
    ahead: RefreshAhead | undefined,
  ): Promise<SessionRecord> {
    const handle = await this.#lifecycle.deps.lock.acquire(`refresh:${seen.id}`, {
      leaseMs: this.#lifecycle.deps.lockLeaseMs,
      waitMs: this.#lifecycle.deps.lockWaitMs,
      signal: this.#lifecycle.deps.closed,
    });
    try {
      // Another worker may have renewed (or expired) the session while we waited for the lock.
      const current = await this.#lifecycle.deps.store.require(seen.id);
      if (current.generation !== seen.generation && current.state === 'active') return current;
      assertRunnable(current);
      // Ahead of a lapse: only while still due (a run may have captured a renewed token meanwhile).
      if (ahead && (auth.type !== 'credentials' || !ahead.due(current))) return current;
      if (auth.type !== 'credentials') {
        return await this.expire(
          current,
          new AuthSessionError(
            'CHECK_FAILED',
            `The recorded login of session "${current.id}" no longer holds; a person must record it again`,
            { sessionId: current.id },
          ),
        );
      }
      const started = this.#lifecycle.now();
      const codec = await this.#lifecycle.deps.codec();
      try {
        const credentials = await parseStoredCredentials(auth, codec.credentials(current), current.id);
        const state = await logIn(this.#lifecycle, current, auth, credentials, 'refresh', opts, {
          signal: this.#lifecycle.deps.closed,
        });
        const { record, written } = await this.#lifecycle.commit(
          current.id,
          refreshed(
            current,
            codec.sealState(current.id, state),
            this.#lifecycle.iso(),
            this.#lifecycle.expiryOf(current, state),
          ),
        );
        // Not written: the session changed under us (renewed by another worker whose lock we outlived,
        // deleted, or taken over by a new login); the latest record tells what callers get.
        if (!written) return adoptLatest(current.id, record);
        const saved = record as SessionRecord;
        this.#lifecycle.deps.events.emit('refreshed', {
          session: toInfo(saved),
          durationMs: this.#lifecycle.now() - started,
          ...(ahead ? { ahead: true } : {}),
        });
        return saved;
      } catch (err) {
        const e = normalise(err, 'CREATE_FAILED', `Logging in again to "${auth.name}" failed`, current.id);
        // A refresh ahead that fails leaves the session as it is: its login still holds until it lapses,
        // and the check after that decides (refresh again, or expire).
        if (ahead || !expiresSession(e)) throw e;
        return await this.expire(current, e);
      }
    } finally {
      await handle.release().catch(() => {});
    }
  }

  /**
   * Marks a session expired (event included) and throws `SESSION_EXPIRED`. When the session changed
   * meanwhile (renewed by another worker, a new login under way, deleted), nothing is written and the latest
   * record decides: a renewed session is returned instead.
   */
  async expire(current: SessionRecord, reason: AuthSessionError): Promise<SessionRecord> {
    const { record, written } = await this.#lifecycle.commit(
      current.id,
      expired(current, { code: reason.code, message: reason.message }, this.#lifecycle.iso()),
    );
    if (!written) return adoptLatest(current.id, record);
    const done = record as SessionRecord;
    this.#lifecycle.deps.codec().then(
      (c) => c.forget(current.id),
      () => {},
    );
    this.#lifecycle.deps.events.emit('expired', { session: toInfo(done), reason: summariseError(reason) });
    const error = sessionExpired(done, reason);
    expiredRecords.set(error, done);
    throw error;
  }
}

/** A refresh ahead of a lapse (health checks): logs in only while `due` holds for the latest record. */
export interface RefreshAhead {
  due(current: SessionRecord): boolean;
}

/** The record each `SESSION_EXPIRED` error made by `expire` stands for (for the `run:end` event). */
export const expiredRecords = new WeakMap<AuthSessionError, SessionRecord>();

function adoptLatest(id: string, latest: SessionRecord | undefined): SessionRecord {
  if (!latest) {
    throw new AuthSessionError('SESSION_NOT_FOUND', `Session "${id}" was deleted meanwhile`, {
      sessionId: id,
    });
  }
  assertRunnable(latest);
  return latest;
}

/** Failures that mean "the login does not work" (expire), as opposed to infrastructure or abort. */
function expiresSession(err: AuthSessionError): boolean {
  return (
    err.code === 'CREATE_FAILED' ||
    err.code === 'CHECK_FAILED' ||
    err.code === 'HOOK_TIMEOUT' ||
    err.code === 'INVALID_CREDENTIALS' ||
    err.code === 'INPUT_REQUIRED'
  );
}

/** Validates decrypted credentials against the auth's schema again (the schema may have changed). */
export async function parseStoredCredentials(
  auth: CredentialsAuthDefinition,
  value: unknown,
  id: string,
): Promise<unknown> {
  const checked = await validateWithSchema(auth.credentials, value);
  if (!checked.ok) {
    throw new AuthSessionError(
      'INVALID_CREDENTIALS',
      `The stored credentials of session "${id}" no longer match the schema of "${auth.name}" (${checked.paths}); update them`,
      { sessionId: id },
    );
  }
  return checked.value;
}

export function sessionExpired(record: SessionRecord, cause?: unknown): AuthSessionError {
  const how =
    record.type === 'recorder'
      ? 'a person must record the login again (manager.record)'
      : 'update its credentials (manager.update) to log in again';
  const what = record.state === 'failed' ? 'was never logged in' : 'has expired';
  return new AuthSessionError('SESSION_EXPIRED', `Session "${record.id}" ${what}; ${how}`, {
    sessionId: record.id,
    status: 401,
    cause,
  });
}
