import type { Context, Hono } from 'hono';
import { isAuthSessionError } from '../errors.js';
import type { AuthSessionManager } from '../manager.js';
import type { PageContext } from './pages.js';
import type { ConsoleSession } from './security.js';

/** The console app's variables: the signed-in console session, set by the sign-in guard. */
export type ConsoleEnv = { Variables: { session: ConsoleSession } };

/** What each group of console routes is mounted with. */
export interface ConsoleRoutes {
  /** The console's app (under its base path). */
  readonly app: Hono<ConsoleEnv>;
  readonly manager: AuthSessionManager;
  /** The base path (`''` for the root). */
  readonly base: string;
  /** The page context of a request (with the CSRF token once signed in). */
  readonly ctxOf: (c: Context<ConsoleEnv>) => PageContext;
}

/** Notices shown after an action, by the `done` query parameter. */
export const NOTICES: Readonly<Record<string, string>> = {
  validated: 'Validated: the session is logged in.',
  labels: 'Labels saved.',
  deleted: 'Session deleted.',
};

/** What a page says of a failed action: the library's code and message, never another error's text. */
export const failureText = (err: unknown): string =>
  isAuthSessionError(err) ? `${err.code}: ${err.message}` : 'The action failed (see the server log).';
