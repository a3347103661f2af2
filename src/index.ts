export { ChromiumProvider } from './browser/chromium.js';
export type { ChromiumProviderOptions } from './browser/chromium-options.js';
export type {
  BrowserProvider,
  BrowserProviderStats,
  CaptureStateOptions,
  ContextLease,
  ContextRequest,
  DeviceProfile,
  ProxySettings,
} from './browser/provider.js';
export { type BrowserState, browserStateSchema } from './browser/state.js';
export type { WarmContextOptions, WarmContextsInput } from './browser/warm-pool.js';
export { OPERATION_STATUSES, type OperationStatus } from './challenges/operation-store.js';
export {
  type AuthOperation,
  DEFAULT_POLL_INTERVAL_MS,
  type OperationStartOptions,
  type OperationViewOptions,
  type OperationWaitOptions,
  type ResumeOptions,
  type StartCreateOptions,
  type StartUpdateOptions,
} from './challenges/operations.js';
export {
  currentTotp,
  parseTotpSecret,
  TOTP_MIN_REMAINING_SECONDS,
  TOTP_PERIOD_SECONDS,
  type TotpSettings,
} from './challenges/totp.js';
export { type Clock, systemClock, type TimerHandle } from './clock.js';
export {
  type AuthDefinition,
  type AuthDefinitionBase,
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
  chromeUserAgent,
  DEFAULT_CHROME_MAJOR,
  type DevicePlatform,
  type GenerateDeviceOptions,
  generateDevice,
} from './device.js';
export {
  AuthSessionError,
  type AuthSessionErrorCode,
  type AuthSessionErrorOptions,
  AuthSessionInvalidError,
  isAuthSessionError,
} from './errors.js';
export type { HealthChecks } from './health/checker.js';
export type { HealthCheckOptions } from './health/options.js';
export type { InputHandler, RunContext, RunOptions, RunTask } from './lifecycle/engine.js';
export { DEFAULT_INPUT_TIMEOUT_MS, type PendingInputRequest } from './lifecycle/input.js';
export { type AuthSessionLock, LocalLock, type LockAcquireOptions, type LockHandle } from './lock/lock.js';
export {
  AuthSessionManager,
  type AuthSessionManagerOptions,
  type CreateSessionOptions,
  type ListFilter,
  type RotateKeyResult,
  type UpdateSessionOptions,
} from './manager.js';
export type { AuthDescription, CredentialField } from './monitor/describe-auth.js';
export type { DurationSummary } from './monitor/duration-window.js';
export type {
  AuthSessionEventName,
  AuthSessionEvents,
  AuthSessionListener,
  ErrorSummary,
  SessionChangeVia,
} from './monitor/events.js';
export type { HistoryEntry, HistoryKind, HistoryOptions } from './monitor/history.js';
export type { AuthSessionLogger, LogLevel } from './monitor/logger.js';
export type { MonitorOptions } from './monitor/monitor.js';
export type {
  AuthSessionStats,
  OperationStats,
  RefreshStats,
  SessionCounts,
  StatsOptions,
} from './monitor/stats.js';
export { TELEMETRY_ATTRIBUTES, TELEMETRY_SPANS, type TelemetryOptions } from './monitor/telemetry.js';
export type { AuthSessionLease, LeaseFilter, LeaseOptions } from './operations/lease.js';
export type { ProxyInput } from './proxy.js';
export { parseProxy, stickyToken } from './proxy.js';
export type {
  QueuePauseReason,
  SessionQueue,
  SessionQueueOptions,
  SessionTaskInfo,
  SessionTaskOptions,
} from './queue/session-queue.js';
export {
  DEFAULT_RECORD_TIMEOUT_MS,
  type RecorderPageHandler,
  type RecordOptions,
} from './recorder/record.js';
export { type ImportStateOptions, parseBrowserState } from './recorder/state-transfer.js';
export type { AuthSessionInfo } from './session/info.js';
export { canTransition, SESSION_STATES, type SessionState, TRANSITIONS } from './session/states.js';
export type { SessionPlacementOptions } from './session-options.js';
export type { StoreAdapter, StoreEntry } from './store/contract.js';
export { createMemoryStore, createSqliteStore, type SqliteStoreOptions } from './store/default-store.js';
export type {
  AuthNameOf,
  CredentialsAuthNameOf,
  CredentialsInputOf,
  RecorderAuthNameOf,
} from './typed.js';
export type { KeyFileInput, KeyInput, KeyringInput, PassphraseKeyInput } from './vault/key-source.js';
export {
  DEFAULT_WEBHOOK_RETRY_WINDOW_MS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  WEBHOOK_EVENT_TYPES,
  type WebhookEndpoint,
  type WebhookEventType,
} from './webhooks/options.js';
export type { WebhookPayload } from './webhooks/payload.js';
