import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { toInfrastructureError } from '../browser/network-errors.js';
import type { ContextLease } from '../browser/provider.js';
import { abortError, raceAbort } from '../browser/slots.js';
import type { BrowserState } from '../browser/state.js';
import type { AuthOptions, CreateContext, CredentialsAuthDefinition } from '../define.js';
import { AuthSessionError } from '../errors.js';
import { summariseError } from '../monitor/events.js';
import { watchProxyAuth } from '../proxy.js';
import { clearInput, showInput } from '../session/changes.js';
import { toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import { checkOnce } from './check.js';
import { anySignal, type Lifecycle, type LoginExtras } from './engine.js';
import { type HookTimer, runBounded, withAttempts } from './hooks.js';
import {
  assertValidAnswer,
  type PendingInputRequest,
  parseInputRequest,
  resolveInputTimeout,
  shownRequest,
} from './input.js';
import { scrubSecrets } from './scrub-secrets.js';

// Logging in: the `create` (or `refresh`) hook and the check after it, in a fresh context, with the hook's
// requests for input shown on the pending record. What happens to the record around it is the login
// transaction's (login.ts) or the refresh's (refresh.ts).

/**
 * Logs in: a fresh context (or one with the current state for a custom `refresh`), the `create` or
 * `refresh` hook, then `check`; up to `createAttempts`. Returns the captured state.
 *
 * When the hook asks for input while `record` is `pending`, the request is written to the stored record
 * (shown by `get()`) and removed once answered; `record.revision` is kept in step with those writes, so
 * the caller's final write fenced on `record.revision` still applies.
 */
export async function logIn(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: CredentialsAuthDefinition,
  credentials: unknown,
  mode: 'create' | 'refresh',
  opts: Required<AuthOptions>,
  extras: LoginExtras,
): Promise<BrowserState> {
  const signal = anySignal(extras.signal, lifecycle.deps.closed);
  const hook = mode === 'refresh' && auth.refresh ? auth.refresh : auth.create;
  const codec = await lifecycle.deps.codec();
  const startState = mode === 'refresh' && auth.refresh ? codec.state(record) : undefined;
  return withAttempts(
    async () => {
      const lease = await lifecycle.openContext(record, codec, startState, signal);
      const proxyAuth = record.proxy === undefined ? undefined : watchProxyAuth(lease.context, record.id);
      // Writes of input requests to the record still in flight: the caller's clean-up (delete, restore,
      // fail) must come after them, never be overwritten by them.
      const settling = new Set<Promise<unknown>>();
      try {
        const page = await lease.newPage();
        await runCreateHook(
          lifecycle,
          record,
          auth,
          hook,
          credentials,
          lease,
          page,
          opts,
          signal,
          extras,
          settling,
        );
        await checkOnce(lifecycle, record, auth, lease, page, opts, signal);
        return await lease.captureState();
      } catch (err) {
        const infra =
          proxyAuth?.failure(err) ??
          toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined });
        if (infra) throw infra;
        // The check after logging in failing means the login failed.
        if (err instanceof AuthSessionError && err.code === 'CHECK_FAILED') {
          throw new AuthSessionError('CREATE_FAILED', `Logging in to "${auth.name}" did not pass the check`, {
            sessionId: record.id,
            cause: err,
          });
        }
        throw err;
      } finally {
        proxyAuth?.stop();
        await Promise.allSettled([...settling]);
        await lease.close();
      }
    },
    'CREATE_FAILED',
    `Logging in to "${auth.name}" failed`,
    { attempts: opts.createAttempts, retryDelay: opts.retryDelay, signal, sessionId: record.id },
  );
}

async function runCreateHook(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: CredentialsAuthDefinition,
  hook: CredentialsAuthDefinition['create'],
  credentials: unknown,
  lease: ContextLease,
  page: Page,
  opts: Required<AuthOptions>,
  signal: AbortSignal,
  extras: LoginExtras,
  settling: Set<Promise<unknown>>,
): Promise<void> {
  // The one place hook errors enter the library: what a login hook throws may quote the credentials
  // (`new Error('bad password ' + password)`) or the proxy password; they are scrubbed before the error is
  // kept, thrown or logged.
  await runBounded(
    async (hookSignal, timer) => {
      const ctx: CreateContext<unknown> = {
        page,
        context: lease.context,
        signal: hookSignal,
        session: toInfo(record),
        credentials,
        totp: lifecycle.deps.totp(credentials, lifecycle.deps.clock, hookSignal),
        requestInput: (request) =>
          requestInput(lifecycle, record, auth, request, extras, { signal: hookSignal, timer, settling }),
      };
      await hook(ctx as CreateContext<never>);
    },
    {
      timeoutMs: opts.createTimeout,
      clock: lifecycle.deps.clock,
      signal,
      what: `${hook === auth.create ? 'create' : 'refresh'} hook of "${auth.name}"`,
      sessionId: record.id,
    },
  ).catch(async (err: unknown) => {
    const proxy = await lifecycle.deps
      .codec()
      .then((codec) => codec.proxy(record))
      .catch(() => undefined);
    throw scrubSecrets(err, [credentials, proxy?.password]);
  });
}

/**
 * `requestInput` of a login: pauses the hook's timeout, shows the request on the pending record, emits
 * `input:requested`, waits (bounded by `inputTimeout`) for the handler's answer, emits `input:answered`.
 * The answer itself never reaches the record, an event or an error.
 */
async function requestInput(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: CredentialsAuthDefinition,
  request: unknown,
  extras: LoginExtras,
  hook: { signal: AbortSignal; timer: HookTimer; settling: Set<Promise<unknown>> },
): Promise<string> {
  const asked = parseInputRequest(request);
  const onInput = extras.onInput;
  if (!onInput) {
    throw new AuthSessionError(
      'INPUT_REQUIRED',
      `The login of "${record.auth}" asked for input (${asked.kind}) and nobody can answer here; ` +
        'use manager.startCreate()/startUpdate() with resume(), or pass onInput. ' +
        'A refresh in the background cannot ask a person: use totp() for time-based codes',
      { sessionId: record.id },
    );
  }
  const { signal, timer, settling } = hook;
  if (signal.aborted) throw abortError(signal);
  const timeoutMs = resolveInputTimeout(auth as { inputTimeout?: unknown }, extras);
  const pending: PendingInputRequest = { ...asked, id: randomUUID() };
  const operationId = extras.operationId;
  const track = <T>(p: Promise<T>): Promise<T> => {
    settling.add(p);
    p.then(
      () => settling.delete(p),
      () => settling.delete(p),
    );
    return p;
  };
  const resumeTimer = timer.pause();
  const waiting = new AbortController();
  const onAbort = () => waiting.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const inputTimer = lifecycle.deps.clock.setTimeout(
    () =>
      waiting.abort(
        new AuthSessionError(
          'INPUT_TIMEOUT',
          `Nobody answered the "${asked.kind}" request of session "${record.id}" within ${timeoutMs} ms`,
          { sessionId: record.id },
        ),
      ),
    timeoutMs,
  );
  let shown: SessionRecord | undefined;
  try {
    if (record.state === 'pending') {
      shown = (
        await track(
          lifecycle.commit(record.id, showInput(loginIdOf(record), shownRequest(pending), operationId)),
        )
      ).record;
    }
    lifecycle.deps.events.emit('input:requested', {
      session: toInfo(shown ?? record),
      request: pending,
      ...(operationId === undefined ? {} : { operationId }),
    });
    const answer = await raceAbort(
      Promise.resolve().then(() => onInput(pending, waiting.signal)),
      waiting.signal,
    );
    assertValidAnswer(pending, answer, record.id);
    lifecycle.deps.events.emit('input:answered', {
      session: toInfo(record),
      requestId: pending.id,
      kind: pending.kind,
      ...(operationId === undefined ? {} : { operationId }),
    });
    return answer;
  } finally {
    lifecycle.deps.clock.clearTimeout(inputTimer);
    signal.removeEventListener('abort', onAbort);
    // After an abort the caller cleans the record up itself; writing here could race with that.
    if (shown && !signal.aborted) {
      await track(lifecycle.commit(record.id, clearInput(loginIdOf(record), pending.id))).catch(
        (err: unknown) =>
          lifecycle.deps.events.emit('warning', { session: toInfo(record), error: summariseError(err) }),
      );
    }
    resumeTimer();
  }
}

/**
 * What callers of a refresh or an expiry get when their write did not apply because the session changed
 * under them: the latest record when it is active (another worker renewed it), else the error its state
 * calls for (`SESSION_EXPIRED`, `INVALID_STATE` while a new login is under way, `SESSION_NOT_FOUND`).
 */
/** The login under way on a pending record (every login writes one; see `beginLogin`). */
function loginIdOf(record: SessionRecord): string {
  if (record.loginId === undefined) {
    throw new AuthSessionError('INVALID_STATE', `Session "${record.id}" has no login under way`, {
      sessionId: record.id,
    });
  }
  return record.loginId;
}
