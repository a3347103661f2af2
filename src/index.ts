export { ChromiumProvider, type ChromiumProviderOptions } from './browser/chromium.js';
export type {
  BrowserProvider,
  BrowserProviderStats,
  ContextLease,
  ContextRequest,
  DeviceProfile,
  ProxySettings,
} from './browser/provider.js';
export { type BrowserState, browserStateSchema } from './browser/state.js';
export { type Clock, systemClock, type TimerHandle } from './clock.js';
export {
  type AuthDefinition,
  type AuthOptions,
  type CheckContext,
  type CreateContext,
  type CredentialsAuthDefinition,
  DEFAULT_AUTH_OPTIONS,
  defineAuth,
  type FinishUrl,
  type HookContext,
  type InputRequest,
  type RecorderAuthDefinition,
} from './define.js';
export {
  AuthSessionError,
  type AuthSessionErrorCode,
  type AuthSessionErrorOptions,
  AuthSessionInvalidError,
  isAuthSessionError,
} from './errors.js';
export type { InputHandler, RunContext, RunOptions, RunTask } from './lifecycle/engine.js';
export { canTransition, SESSION_STATES, type SessionState, TRANSITIONS } from './lifecycle/states.js';
export { type AuthSessionLock, LocalLock, type LockAcquireOptions, type LockHandle } from './lock/lock.js';
export {
  AuthSessionManager,
  type AuthSessionManagerOptions,
  type CreateSessionOptions,
  type ListFilter,
  type UpdateSessionOptions,
} from './manager.js';
export type {
  AuthSessionEventName,
  AuthSessionEvents,
  AuthSessionListener,
  ErrorSummary,
} from './monitor/events.js';
export type { ProxyInput } from './proxy.js';
export type { AuthSessionInfo } from './session-info.js';
export { createMemoryStore, createSqliteStore, type SqliteStoreOptions } from './store/default-store.js';
export type { KeyFileInput, KeyInput, KeyringInput, PassphraseKeyInput } from './vault/key-source.js';
// — exports added by feature modules below —
