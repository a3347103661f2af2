import { randomUUID } from 'node:crypto';
import type { BrowserState } from '../browser/state.js';
import { AuthSessionError } from '../errors.js';
import { summariseError } from '../monitor/events.js';
import { type Change, failLogin, finishLogin, undoLogin } from '../session/changes.js';
import { toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import type { SessionCodec } from './codec.js';
import type { Lifecycle } from './engine.js';
import { normalise } from './hooks.js';

/** What a failed login leaves behind (see {@link LoginPlan.onFailure}). */
export type LoginFailureOutcome = 'undo' | 'fail' | 'drop';

/** One login over a session, whatever brought it: `create`, `update` with credentials, `record`. */
export interface LoginPlan {
  readonly id: string;
  /** The change that starts the login under `loginId` (see `beginLogin`). */
  readonly begin: (loginId: string) => Change;
  /** Logs in on the pending record; resolves with the captured state and the time of the passing check. */
  readonly perform: (pending: SessionRecord) => Promise<{ state: BrowserState; checkedAt: string }>;
  /**
   * After a failure: `undo` puts the session back as it was before the login (only when it existed),
   * `fail` keeps it as `failed` with the reason, `drop` removes the placeholder of a session that did not
   * exist. `before` is the record the login started from.
   */
  readonly onFailure: (before: SessionRecord | undefined, error: AuthSessionError) => LoginFailureOutcome;
  /** Code and message of a failure that is not already an `AuthSessionError`. */
  readonly failure: { readonly code: 'CREATE_FAILED'; readonly message: string };
}

/** A login that succeeded: the active record and whether the session existed before it. */
export interface LoginOutcome {
  readonly record: SessionRecord;
  readonly existed: boolean;
}

/**
 * The login transaction: every login (create, update, record) runs as three changes of the latest record.
 * `begin` marks it `pending` under a fresh `loginId`; the login runs; `finishLogin` makes it active, or on
 * failure `undoLogin` / `failLogin` / a conditional delete cleans up. Each of the later changes applies only
 * while the record still carries this `loginId`: a login started later, or a `delete`, wins, and writes made
 * meanwhile by others (labels, proxy, a key rotation) are kept.
 */
export async function runLogin(lifecycle: Lifecycle, plan: LoginPlan): Promise<LoginOutcome> {
  const { store, events, clock } = lifecycle.deps;
  const loginId = randomUUID();
  const begun = await lifecycle.commit(plan.id, plan.begin(loginId));
  const pending = begun.record as SessionRecord;
  const before = begun.before;
  const codec = await lifecycle.deps.codec();
  const started = clock.now();
  try {
    const { state, checkedAt } = await plan.perform(pending);
    const done = await lifecycle.commit(
      plan.id,
      finishLogin(loginId, codec.sealState(plan.id, state), checkedAt, lifecycle.expiryOf(pending, state)),
    );
    if (!done.written || !done.record) throw superseded(plan.id, done.record);
    return { record: done.record, existed: before !== undefined };
  } catch (err) {
    const error = normalise(err, plan.failure.code, plan.failure.message, plan.id);
    try {
      const outcome = plan.onFailure(before, error);
      if (outcome === 'undo' && before) {
        await lifecycle.commit(
          plan.id,
          undoLogin(
            loginId,
            before,
            pending,
            { code: error.code, message: error.message },
            resealWith(codec, plan.id),
          ),
        );
      } else if (outcome === 'fail') {
        const failed = await lifecycle.commit(
          plan.id,
          failLogin(loginId, { code: error.code, message: error.message }),
        );
        if (failed.written && failed.record) {
          events.emit('failed', {
            session: toInfo(failed.record),
            error: summariseError(error),
            durationMs: clock.now() - started,
          });
        }
      } else if (await store.deleteIf(plan.id, (latest) => latest.loginId === loginId)) {
        codec.forget(plan.id);
      }
    } catch (cleanupErr) {
      events.emit('warning', { session: toInfo(pending), error: summariseError(cleanupErr) });
    }
    throw error;
  }
}

/** The login's result was not used: the session was deleted, or a later login took it over. */
function superseded(id: string, latest: SessionRecord | undefined): AuthSessionError {
  if (!latest) {
    return new AuthSessionError('SESSION_NOT_FOUND', `Session "${id}" was deleted while it was logging in`, {
      sessionId: id,
    });
  }
  return new AuthSessionError(
    'STALE_WRITE',
    `Another login of session "${id}" started meanwhile; this one's result was not used`,
    { sessionId: id },
  );
}

/** Boxes kept from before a login, re-sealed with the current key when a rotation ran meanwhile. */
function resealWith(codec: SessionCodec, id: string) {
  return (field: 'credentials' | 'proxy' | 'state', box: NonNullable<SessionRecord['sealed']['state']>) =>
    codec.keyring.isCurrent(box) ? box : codec.keyring.seal(id, field, codec.keyring.open(id, field, box));
}
