import type { Clock } from '../clock.js';
import type { AuthDefinition } from '../define.js';
import type { SessionCodec } from '../lifecycle/codec.js';
import type { LoginExtras } from '../lifecycle/engine.js';
import type { CreateSessionOptions, UpdateSessionOptions } from '../manager.js';
import type { EventBus } from '../monitor/events.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { SessionStore } from '../store/session-store.js';

/** What the operations need from the manager. */
export interface OperationsDeps {
  readonly store: SessionStore;
  readonly clock: Clock;
  readonly events: EventBus;
  /** Aborted when the manager closes. */
  readonly closed: AbortSignal;
  readonly codec: () => Promise<SessionCodec>;
  readonly auth: (name: string) => AuthDefinition;
  readonly newId: () => string;
  /** The manager's one-call `create`. */
  readonly create: (auth: string, options: CreateSessionOptions & LoginExtras) => Promise<AuthSessionInfo>;
  /** The manager's one-call `update`. */
  readonly update: (id: string, options: UpdateSessionOptions & LoginExtras) => Promise<AuthSessionInfo>;
}
