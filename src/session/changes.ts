import { isDeepStrictEqual } from 'node:util';
import { AuthSessionError } from '../errors.js';
import type { SessionRecord } from './record.js';
import { assertTransition } from './states.js';

// Every write of a session record is one of the changes below, applied by `SessionStore.change` to the
// latest stored record (compare-and-set, re-applied to the newer record when another writer got in
// between). Each change sets only the fields it owns and keeps every other field as it finds it:
//
// | change                  | owns                                                                        |
// |-------------------------|-----------------------------------------------------------------------------|
// | editFields (update)     | labels, proxy (clear + sealed), device                                      |
// | beginLogin (create,     | the above, sealed credentials, state → pending, loginId, failure            |
// |   update, record, import)|                                                                            |
// | finishLogin             | state → active, generation, lastCheckedAt, sealed state, expiresAt, loginId |
// | failLogin / undoLogin   | state, failure, loginId (undo: also what its own beginLogin set, if unchanged)|
// | show/clearInput         | input, operationId                                                          |
// | refreshed               | state → active, generation, lastCheckedAt, sealed state, failure, expiresAt |
// | expired                 | state → expired, expiredAt, failure                                         |
// | afterRun                | lastCheckedAt, sealed state (and expiresAt, which goes with the state)      |
// | resealed (rotateKey)    | the boxes of sealed fields (same plaintext, current key)                    |
// | leaseTaken / leaseRenewed / leaseEnded (lease) | lease, leaseEndedAt                                  |
//
// A change returns `undefined` to write nothing: the record it was meant for is gone or was superseded
// (another login started, another worker renewed the session), and the caller decides from the latest
// record what that means. Changes are pure functions of the record they are given (the store may call one
// several times).

/** A change of one session record (see `SessionStore.change`). */
export type Change = (latest: SessionRecord | undefined) => SessionRecord | undefined;

/** The fields an `update` without new credentials owns. */
export interface EditedFields {
  readonly labels?: Record<string, string>;
  readonly device?: SessionRecord['device'];
  /** `null`: remove the proxy; undefined: leave it. */
  readonly proxy?: {
    readonly clear: { readonly server: string };
    readonly sealed: SessionRecord['sealed']['proxy'];
  } | null;
}

function notFound(id: string): AuthSessionError {
  return new AuthSessionError('SESSION_NOT_FOUND', `No session with id "${id}"`, { sessionId: id });
}

/** The record with edited fields applied (labels, device, proxy), nothing else touched. */
function withFields(record: SessionRecord, fields: EditedFields): SessionRecord {
  const next: SessionRecord = { ...record, sealed: { ...record.sealed } };
  if (fields.labels !== undefined) next.labels = { ...fields.labels };
  if (fields.device !== undefined) next.device = fields.device;
  if (fields.proxy === null) {
    delete next.proxy;
    delete next.sealed.proxy;
  } else if (fields.proxy !== undefined) {
    next.proxy = { server: fields.proxy.clear.server };
    next.sealed.proxy = fields.proxy.sealed;
  }
  return next;
}

/** `update(id, { labels, proxy, device })`: applies them to the latest record, whatever else changed. */
export function editFields(id: string, fields: EditedFields): Change {
  return (latest) => {
    if (!latest) throw notFound(id);
    return withFields(latest, fields);
  };
}

/**
 * Starts a login over a session (`create`, `update` with credentials, `record`, `importState`): the latest
 * record becomes `pending` under a new `loginId`, with the given fields. `fresh` is the whole record for a
 * session that does not exist yet; `allow` decides whether an existing one may be taken over.
 */
export function beginLogin(options: {
  readonly id: string;
  readonly loginId: string;
  readonly fields?: EditedFields;
  /** Sealed credentials of the login (credentials sessions). */
  readonly credentials?: SessionRecord['sealed']['credentials'];
  /** The record to write when none exists; without it a missing session is `SESSION_NOT_FOUND`. */
  readonly fresh?: SessionRecord;
  /** Whether `fresh` also replaces an existing record that `allow` accepts (`create` over a failed one). */
  readonly replace?: boolean;
  /** Throws when the existing record must not be taken over (e.g. `create` over an active session). */
  readonly allow?: (existing: SessionRecord) => void;
  readonly operationId?: string;
}): Change {
  return (latest) => {
    if (!latest) {
      if (!options.fresh) throw notFound(options.id);
      return { ...options.fresh, state: 'pending', loginId: options.loginId };
    }
    options.allow?.(latest);
    assertTransition(latest.state, 'pending', latest.id);
    const base =
      options.fresh && options.replace
        ? // Taking over a failed session with `create`: everything of the new one, the revision counts on.
          { ...options.fresh, createdAt: latest.createdAt, generation: latest.generation }
        : withFields(latest, options.fields ?? {});
    const next: SessionRecord = {
      ...base,
      state: 'pending',
      loginId: options.loginId,
      sealed: {
        ...base.sealed,
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      },
    };
    delete next.failure;
    delete next.input;
    if (options.operationId === undefined) delete next.operationId;
    else next.operationId = options.operationId;
    return next;
  };
}

/**
 * `expiresAt` belongs to the sealed state it was learned from: set with it, or removed when the new state
 * tells nothing (the old state's expiry would be wrong for the new one).
 */
function withExpiry(next: SessionRecord, expiresAt: string | undefined): SessionRecord {
  if (expiresAt === undefined) delete next.expiresAt;
  else next.expiresAt = expiresAt;
  return next;
}

/** The record logged in anew: active, a new generation, the state just captured and checked. */
function renewed(
  latest: SessionRecord,
  sealedState: SessionRecord['sealed']['state'],
  checkedAt: string,
  expiresAt: string | undefined,
): SessionRecord {
  const next: SessionRecord = {
    ...latest,
    state: 'active',
    generation: latest.generation + 1,
    lastCheckedAt: checkedAt,
    sealed: { ...latest.sealed, state: sealedState },
  };
  delete next.failure;
  delete next.expiredAt;
  return withExpiry(next, expiresAt);
}

/** The login `loginId` succeeded: active, a new generation, its state; only while it is still the login. */
export function finishLogin(
  loginId: string,
  sealedState: SessionRecord['sealed']['state'],
  checkedAt: string,
  expiresAt?: string,
): Change {
  return (latest) => {
    if (!latest || latest.loginId !== loginId) return undefined;
    assertTransition(latest.state, 'active', latest.id);
    const next = renewed(latest, sealedState, checkedAt, expiresAt);
    for (const key of ['loginId', 'input', 'operationId'] as const) delete next[key];
    return next;
  };
}

/** A new session's login failed: `failed` with the reason, only while it is still the login. */
export function failLogin(loginId: string, failure: { code: string; message: string }): Change {
  return (latest) => {
    if (!latest || latest.loginId !== loginId) return undefined;
    assertTransition(latest.state, 'failed', latest.id);
    const next: SessionRecord = { ...latest, state: 'failed', failure };
    for (const key of ['loginId', 'input', 'operationId'] as const) delete next[key];
    return next;
  };
}

/**
 * A login over an existing session failed: the session goes back to how it was before `beginLogin`
 * (state, failure, credentials, and each field the login set, unless someone changed that field since),
 * only while it is still the login. `reseal` re-seals a box kept from before (a key rotation may have run).
 */
export function undoLogin(
  loginId: string,
  before: SessionRecord,
  begun: SessionRecord,
  failure: { code: string; message: string },
  reseal: (
    field: 'credentials' | 'proxy' | 'state',
    box: NonNullable<SessionRecord['sealed']['state']>,
  ) => NonNullable<SessionRecord['sealed']['state']>,
): Change {
  return (latest) => {
    if (!latest || latest.loginId !== loginId) return undefined;
    const next: SessionRecord = { ...latest, sealed: { ...latest.sealed } };
    for (const key of ['loginId', 'input', 'operationId'] as const) delete next[key];
    if (before.state === 'pending') {
      // This login took over one that was still under way (or whose process died): there is no earlier
      // settled state to go back to, and a pending record with no login would stay pending for good.
      next.state = latest.generation > 0 ? 'expired' : 'failed';
      next.failure = failure;
      if (next.state === 'expired') next.expiredAt = latest.updatedAt;
    } else {
      next.state = before.state;
      for (const key of ['failure', 'expiredAt'] as const) {
        if (before[key] === undefined) delete next[key];
        else (next as Record<string, unknown>)[key] = before[key];
      }
    }
    // What this login set and nobody changed since goes back; a later acknowledged edit stays.
    for (const key of ['labels', 'device', 'proxy'] as const) {
      if (!isDeepStrictEqual(latest[key], begun[key])) continue;
      if (before[key] === undefined) delete next[key];
      else (next as Record<string, unknown>)[key] = before[key];
    }
    for (const field of ['credentials', 'proxy', 'state'] as const) {
      if (latest.sealed[field]?.box !== begun.sealed[field]?.box) continue;
      const box = before.sealed[field];
      if (box === undefined) delete next.sealed[field];
      else next.sealed[field] = reseal(field, box);
    }
    return next;
  };
}

/** Shows an input request of the login `loginId` on its pending record. */
export function showInput(
  loginId: string,
  input: NonNullable<SessionRecord['input']>,
  operationId: string | undefined,
): Change {
  return (latest) => {
    if (!latest || latest.loginId !== loginId) return undefined;
    return { ...latest, input, ...(operationId === undefined ? {} : { operationId }) };
  };
}

/** Removes the input request `requestId` once answered. */
export function clearInput(loginId: string, requestId: string): Change {
  return (latest) => {
    if (!latest || latest.loginId !== loginId || latest.input?.id !== requestId) return undefined;
    const next = { ...latest };
    delete next.input;
    return next;
  };
}

/**
 * A refresh logged in again: active, a new generation, the new state; only if the session is still the
 * one the refresh started from (same generation, no login under way, the credentials it used).
 */
export function refreshed(
  seen: SessionRecord,
  sealedState: SessionRecord['sealed']['state'],
  checkedAt: string,
  expiresAt?: string,
): Change {
  return (latest) => {
    if (!latest || latest.generation !== seen.generation || latest.state !== 'active') return undefined;
    if (latest.sealed.credentials?.box !== seen.sealed.credentials?.box) return undefined;
    return renewed(latest, sealedState, checkedAt, expiresAt);
  };
}

/** The login of generation `seen.generation` no longer holds: expired, unless renewed or changed meanwhile. */
export function expired(seen: SessionRecord, failure: { code: string; message: string }, at: string): Change {
  return (latest) => {
    if (!latest || latest.generation !== seen.generation || latest.state !== 'active') return undefined;
    return { ...latest, state: 'expired', expiredAt: at, failure };
  };
}

/**
 * After a successful run: the state the run captured (sites roll cookies) and the time of its check, as
 * long as the session is still on the login the run used.
 */
export function afterRun(
  seen: SessionRecord,
  changes: {
    readonly sealedState?: SessionRecord['sealed']['state'];
    readonly checkedAt?: string;
    /** The expiry learned from `sealedState` (ignored without it). */
    readonly expiresAt?: string;
  },
): Change {
  return (latest) => {
    if (!latest || latest.generation !== seen.generation || latest.state !== 'active') return undefined;
    const next: SessionRecord = { ...latest };
    if (changes.checkedAt !== undefined) next.lastCheckedAt = changes.checkedAt;
    if (changes.sealedState !== undefined) {
      next.sealed = { ...latest.sealed, state: changes.sealedState };
      withExpiry(next, changes.expiresAt);
    }
    return next;
  };
}

/** `rotateKey`: every sealed field of the latest record re-sealed (undefined when all are current already). */
export function resealed(reseal: (record: SessionRecord) => SessionRecord['sealed'] | undefined): Change {
  return (latest) => {
    if (!latest) return undefined;
    const sealed = reseal(latest);
    return sealed === undefined ? undefined : { ...latest, sealed };
  };
}

/**
 * `importState`: the imported login becomes the session's (active, a new generation, the given state and
 * fields), replacing any login under way. `fresh` is the record for a session that did not exist when the
 * import started; a session deleted meanwhile is not brought back, and one created meanwhile is not taken over.
 */
export function imported(options: {
  readonly id: string;
  readonly existed: boolean;
  readonly fresh: SessionRecord;
  readonly fields: EditedFields;
  readonly sealed: Partial<SessionRecord['sealed']>;
  /** Removes stored credentials (recorder sessions never hold any). */
  readonly dropCredentials: boolean;
  readonly checkedAt: string | undefined;
  /** The expiry learned from the imported state, when it is imported. */
  readonly expiresAt?: string | undefined;
}): Change {
  return (latest) => {
    if (options.existed && !latest) throw notFound(options.id);
    if (!options.existed && latest) {
      throw new AuthSessionError(
        'SESSION_EXISTS',
        `A session with id "${options.id}" was created meanwhile; import again to replace its state`,
        { sessionId: options.id },
      );
    }
    const base = latest ? withFields(latest, options.fields) : options.fresh;
    const next: SessionRecord = {
      ...base,
      state: 'active',
      generation: base.generation + 1,
      sealed: { ...base.sealed, ...options.sealed },
    };
    if (options.dropCredentials) delete next.sealed.credentials;
    if (options.sealed.state !== undefined) withExpiry(next, options.expiresAt);
    if (options.checkedAt === undefined) delete next.lastCheckedAt;
    else next.lastCheckedAt = options.checkedAt;
    for (const key of ['loginId', 'input', 'operationId', 'failure', 'expiredAt'] as const) delete next[key];
    return next;
  };
}

/**
 * `manager.lease` took the session's lease lock: the record shows the lease `leaseId` until `until`. Only
 * on an active session (one that expired or is logging in again meanwhile is not handed out), and only
 * while no other lease is shown live at `now`: the compare-and-set then keeps leases exclusive even among
 * processes that share the store but not the lock (several processes on one SQLite file, each with its
 * in-process lock). A lapsed lease of a holder that died is replaced.
 */
export function leaseTaken(leaseId: string, until: string, now: number): Change {
  return (latest) => {
    if (latest?.state !== 'active') return undefined;
    if (latest.lease !== undefined && latest.lease.id !== leaseId && Date.parse(latest.lease.until) > now) {
      return undefined;
    }
    return { ...latest, lease: { id: leaseId, until } };
  };
}

/** The holder of lease `leaseId` renewed it until `until`; nothing when another lease replaced it. */
export function leaseRenewed(leaseId: string, until: string): Change {
  return (latest) => {
    if (!latest || latest.lease?.id !== leaseId) return undefined;
    return { ...latest, lease: { id: leaseId, until } };
  };
}

/** Lease `leaseId` was released at `at`; nothing when another lease replaced it. */
export function leaseEnded(leaseId: string, at: string): Change {
  return (latest) => {
    if (!latest || latest.lease?.id !== leaseId) return undefined;
    const next: SessionRecord = { ...latest, leaseEndedAt: at };
    delete next.lease;
    return next;
  };
}
