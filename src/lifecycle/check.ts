import type { Page } from 'playwright-core';
import { toInfrastructureError } from '../browser/network-errors.js';
import type { ContextLease } from '../browser/provider.js';
import type { AuthDefinition, AuthOptions } from '../define.js';
import { AuthSessionError } from '../errors.js';
import { summariseError } from '../monitor/events.js';
import { watchProxyAuth } from '../proxy.js';
import { toInfo } from '../session/info.js';
import type { SessionRecord } from '../session/record.js';
import type { Lifecycle } from './engine.js';
import { invalidCheckResult } from './hook-result.js';
import { normalise, runBounded, withAttempts } from './hooks.js';

// The check: is this browser context still logged in? Used before runs, after logins and by the recorder.

/**
 * Runs `check` up to `checkAttempts` times. True when it passed; false when every attempt said "not logged
 * in"; throws infrastructure errors (`TARGET_UNREACHABLE`, `PROXY_ERROR`) and aborts, which say nothing
 * about the login.
 */
export async function checkSession(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: AuthDefinition,
  lease: ContextLease,
  page: Page,
  opts: Required<AuthOptions>,
  signal: AbortSignal,
): Promise<boolean> {
  const started = lifecycle.now();
  // Over plain HTTP a proxy refusing its credentials answers 407 instead of failing the navigation.
  const proxyAuth = record.proxy === undefined ? undefined : watchProxyAuth(lease.context, record.id);
  try {
    await withAttempts(
      async () => {
        try {
          await checkOnce(lifecycle, record, auth, lease, page, opts, signal);
        } catch (err) {
          throw (
            proxyAuth?.failure(err) ??
            toInfrastructureError(err, record.id, { proxy: record.proxy !== undefined }) ??
            err
          );
        }
      },
      'CHECK_FAILED',
      `The check of session "${record.id}" failed`,
      { attempts: opts.checkAttempts, retryDelay: opts.retryDelay, signal, sessionId: record.id },
    );
    lifecycle.deps.events.emit('checked', {
      session: toInfo(record),
      ok: true,
      durationMs: lifecycle.now() - started,
    });
    return true;
  } catch (err) {
    const e = normalise(err, 'CHECK_FAILED', `The check of session "${record.id}" failed`, record.id);
    lifecycle.deps.events.emit('checked', {
      session: toInfo(record),
      ok: false,
      durationMs: lifecycle.now() - started,
      error: summariseError(e),
    });
    if (e.code === 'CHECK_FAILED' || e.code === 'HOOK_TIMEOUT') return false;
    throw e;
  } finally {
    proxyAuth?.stop();
  }
}

export async function checkOnce(
  lifecycle: Lifecycle,
  record: SessionRecord,
  auth: AuthDefinition,
  lease: ContextLease,
  page: Page,
  opts: Required<AuthOptions>,
  signal: AbortSignal,
): Promise<void> {
  const verdict = await runBounded(
    (hookSignal) => auth.check({ page, context: lease.context, signal: hookSignal, session: toInfo(record) }),
    {
      timeoutMs: opts.checkTimeout,
      clock: lifecycle.deps.clock,
      signal,
      what: `check hook of "${auth.name}"`,
      sessionId: record.id,
    },
  );
  // Anything but a boolean is a programming error, not a "logged out" answer: no refresh, no expiry.
  if (typeof verdict !== 'boolean') throw invalidCheckResult(auth.name, verdict, record.id);
  if (verdict !== true) {
    throw new AuthSessionError('CHECK_FAILED', `The check of "${auth.name}" did not return true`, {
      sessionId: record.id,
    });
  }
}
