import { AuthSessionError } from '../errors.js';
import { HealthChecker, type HealthChecks, type HealthDeps } from '../health/checker.js';
import { ObservedLifetimes } from '../health/lifetimes.js';
import { type HealthCheckOptions, resolveHealthOptions } from '../health/options.js';
import type { AuthSessionInfo } from '../session/info.js';

/** The health checks a manager started: starts them, tells when they next check a session, stops them. */
export class ManagerHealth {
  readonly #deps: Omit<HealthDeps, 'lifetimes'>;
  readonly #checkers = new Set<HealthChecker>();
  readonly #lifetimes = new ObservedLifetimes();

  constructor(deps: Omit<HealthDeps, 'lifetimes'>) {
    this.#deps = deps;
  }

  /** Starts health checks (see `AuthSessionManager.startHealthChecks`). */
  start(options: HealthCheckOptions): HealthChecks {
    const resolved = resolveHealthOptions(options);
    if (resolved.auth !== undefined) this.#deps.auth(resolved.auth);
    if (!this.#deps.store.canList) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        'startHealthChecks: this Keyv store cannot list its keys; use a store with an iterator (memory, SQLite, Redis, Postgres)',
      );
    }
    const d = this.#deps;
    const checker = new HealthChecker(
      {
        lifecycle: d.lifecycle,
        store: d.store,
        lock: d.lock,
        clock: d.clock,
        events: d.events,
        auth: d.auth,
        history: d.history,
        lifetimes: this.#lifetimes,
        closed: d.closed,
      },
      resolved,
    );
    this.#checkers.add(checker.start());
    return { stop: () => checker.stop().finally(() => this.#checkers.delete(checker)) };
  }

  /** `info` with the earliest `nextCheckAt` of the running health checks. */
  withHealth(info: AuthSessionInfo): AuthSessionInfo {
    for (const checker of this.#checkers) {
      const next = checker.nextCheckAt(info);
      if (next !== undefined && (info.nextCheckAt === undefined || next < info.nextCheckAt)) {
        info = { ...info, nextCheckAt: next };
      }
    }
    return info;
  }

  /** Stops every health check started; settles once all ended. */
  stopAll(): Promise<unknown> {
    return Promise.allSettled([...this.#checkers].map((checker) => checker.stop()));
  }
}
