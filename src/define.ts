import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { BrowserContext, Page } from 'playwright-core';
import type { DeviceProfile } from './browser/provider.js';
import type { BrowserState } from './browser/state.js';
import { durationOption } from './duration.js';
import { AuthSessionError } from './errors.js';
import { assertKnownOptions, DEFINITION_OPTION_NAMES } from './option-names.js';
import type { AuthSessionInfo } from './session/info.js';

/** A request for input made by a hook in the middle of a login (a one-time code, a choice…). */
export interface InputRequest {
  /** What is asked: `'otp'` for a one-time code, or any word your application understands. */
  readonly kind: string;
  /** Text shown to the person who answers. Never put a secret here. */
  readonly message: string;
  /** Allowed answers, when the answer is a choice. */
  readonly choices?: readonly string[];
}

/** What every hook receives. */
export interface HookContext {
  /** A page in the session's browser context. */
  readonly page: Page;
  /** The session's browser context. */
  readonly context: BrowserContext;
  /** Aborted when the hook times out, the caller aborts or the manager closes. Pass it on to every wait. */
  readonly signal: AbortSignal;
  /** The session the hook works for (never secrets). */
  readonly session: AuthSessionInfo;
}

/** What `create` and `refresh` receive. */
export interface CreateContext<C> extends HookContext {
  /** The user's credentials, validated by the auth's schema. */
  readonly credentials: C;
  /**
   * The current TOTP code for the `totpSecret` credential; waits for the next code when the current one is
   * about to roll over.
   */
  totp(): Promise<string>;
  /** Suspends the hook until the application answers (see `manager.startCreate` / `manager.resume`). */
  requestInput(request: InputRequest): Promise<string>;
}

/** What `check` receives. */
export type CheckContext = HookContext;

/**
 * Attempts, timeouts and the check interval of an auth. Set them on the definition; most can be
 * overridden per call.
 */
export interface AuthOptions {
  /**
   * How many times `check` is tried before the session counts as logged out.
   * @default 2
   */
  readonly checkAttempts?: number;
  /**
   * How many times `create` (or `refresh`) is tried before giving up.
   * @default 2
   */
  readonly createAttempts?: number;
  /**
   * Milliseconds one `check` may take.
   * @default 30000
   */
  readonly checkTimeout?: number;
  /**
   * Milliseconds one `create` or `refresh` may take (time waiting for input excluded).
   * @default 120000
   */
  readonly createTimeout?: number;
  /**
   * Skip the check before a run when the last successful check is younger than this many milliseconds.
   * The main performance lever; 0 checks before every run.
   * @default 0
   */
  readonly checkInterval?: number;
  /**
   * Milliseconds before the first retry of a failed attempt (doubling after that).
   * @default 500
   */
  readonly retryDelay?: number;
  /**
   * Milliseconds each `requestInput` of a login waits for its answer before `INPUT_TIMEOUT`. Time spent
   * waiting for input does not count against `createTimeout`.
   * @default 300000
   */
  readonly inputTimeout?: number;
}

/** Defaults of {@link AuthOptions}. */
export const DEFAULT_AUTH_OPTIONS: Required<AuthOptions> = {
  checkAttempts: 2,
  createAttempts: 2,
  checkTimeout: 30_000,
  createTimeout: 120_000,
  checkInterval: 0,
  retryDelay: 500,
  inputTimeout: 300_000,
};

/** What both kinds of auth definition have. `N` is the auth's name, kept as a literal type by `defineAuth`. */
export interface AuthDefinitionBase<N extends string = string> extends AuthOptions {
  /** Unique name of the auth, e.g. `'crm'`. Letters, digits, `-`, `_`, `.`. */
  readonly name: N;
  /**
   * Checks that the browser is logged in: `true` when it is, `false` when it is not (then the session is
   * refreshed or expires). Anything else (e.g. the number from `locator.count()`) is a bug in the hook:
   * `INVALID_HOOK_RESULT`, and the session is left as it was.
   */
  check(ctx: CheckContext): Promise<boolean> | boolean;
  /** Device profile for new sessions of this auth (the caller may override per session). */
  readonly device?: DeviceProfile;
  /** Recognises an error thrown by a task as "logged out mid-task" (besides `AuthSessionInvalidError`). */
  isAuthError?(err: unknown): boolean;
  /**
   * When the login held in a browser state lapses: a `Date`, milliseconds since the epoch or an ISO string;
   * `undefined` when the state does not tell. Called with every state a login, refresh or run captures; it
   * must be quick and must not throw (a throw counts as "does not tell"). Without it (or when it does not
   * tell) the expiry is read from the `exp` of JWTs in the state's cookies, localStorage and sessionStorage,
   * then from the `expires` of the `authCookies`. Health checks refresh a session ahead of this time.
   *
   * @example
   * ```ts
   * expiresAt: (state) => {
   *   const exp = state.origins.flatMap((o) => o.localStorage).find((i) => i.name === 'token_exp');
   *   return exp ? Number(exp.value) * 1000 : undefined;
   * },
   * ```
   */
  expiresAt?(state: BrowserState): Date | number | string | undefined;
  /**
   * Names of the cookies that hold the login: the earliest `expires` among them is when the login lapses
   * (unless `expiresAt` or a JWT tells). Session cookies (no `expires`) tell nothing.
   *
   * @example
   * ```ts
   * authCookies: ['sid'],
   * ```
   */
  readonly authCookies?: readonly string[];
}

/**
 * An auth whose sessions log in with stored credentials. `S` is the credentials schema: any
 * [Standard Schema](https://standardschema.dev) v1 validator (zod ≥ 3.24, valibot ≥ 1, arktype…); `N` the name.
 */
export interface CredentialsAuthDefinition<
  S extends StandardSchemaV1 = StandardSchemaV1,
  N extends string = string,
> extends AuthDefinitionBase<N> {
  readonly type: 'credentials';
  /**
   * Schema of the credentials (any Standard Schema v1 validator). Callers of `create`/`update` are checked
   * against its input type at compile time and against the schema at run time; the hooks receive its output.
   */
  readonly credentials: S;
  /** Logs in. Throw (or let a wait fail) when it cannot. */
  create(ctx: CreateContext<StandardSchemaV1.InferOutput<S>>): Promise<void> | void;
  /** Logs in again when `check` fails. Defaults to `create`. */
  refresh?(ctx: CreateContext<StandardSchemaV1.InferOutput<S>>): Promise<void> | void;
}

/** Where the recorder's person is done: a URL prefix, a RegExp or a predicate. */
export type FinishUrl = string | RegExp | ((url: URL) => boolean);

/** An auth whose sessions are recorded: a person logs in by hand in a browser the library opens. */
export interface RecorderAuthDefinition<N extends string = string> extends AuthDefinitionBase<N> {
  readonly type: 'recorder';
  /** Where the browser opens. */
  readonly startUrl: string;
  /** The login is done when any page reaches this URL. */
  readonly finishUrl: FinishUrl;
}

/** Either kind of auth definition. */
export type AuthDefinition = CredentialsAuthDefinition | RecorderAuthDefinition;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Declares how to log in to a site and how to tell whether a browser is still logged in. Validates the
 * definition once and returns it frozen.
 *
 * @example
 * ```ts
 * const crm = defineAuth({
 *   name: 'crm',
 *   type: 'credentials',
 *   credentials: z.object({ username: z.string(), password: z.string() }),
 *   async create({ page, credentials }) {
 *     await page.goto('https://crm.example/login');
 *     await page.fill('#username', credentials.username);
 *     await page.fill('#password', credentials.password);
 *     await page.click('button[type=submit]');
 *     await page.waitForURL('**' + '/account');
 *   },
 *   async check({ page }) {
 *     await page.goto('https://crm.example/account');
 *     return (await page.locator('#user').count()) > 0;
 *   },
 * });
 * ```
 */
export function defineAuth<S extends StandardSchemaV1, N extends string>(
  definition: CredentialsAuthDefinition<S, N>,
): CredentialsAuthDefinition<S, N>;
export function defineAuth<N extends string>(
  definition: RecorderAuthDefinition<N>,
): RecorderAuthDefinition<N>;
export function defineAuth(definition: AuthDefinition): AuthDefinition {
  const bad = (message: string): never => {
    throw new AuthSessionError('INVALID_OPTIONS', `defineAuth: ${message}`);
  };
  if (typeof definition !== 'object' || definition === null) bad('expected a definition object');
  if (typeof definition.name !== 'string' || !NAME.test(definition.name)) {
    bad(`"name" must be 1–64 letters, digits, ".", "-" or "_", got ${JSON.stringify(definition.name)}`);
  }
  if (typeof definition.check !== 'function') bad(`"check" of auth "${definition.name}" must be a function`);
  if (definition.type === 'credentials' || definition.type === 'recorder') {
    assertKnownOptions(
      definition,
      DEFINITION_OPTION_NAMES[definition.type],
      `defineAuth(${definition.name})`,
    );
  }
  validateAuthOptions(definition, `auth "${definition.name}"`);
  if (definition.expiresAt !== undefined && typeof definition.expiresAt !== 'function') {
    bad(`"expiresAt" of auth "${definition.name}" must be a function when given`);
  }
  const cookies = definition.authCookies as unknown;
  if (
    cookies !== undefined &&
    !(Array.isArray(cookies) && cookies.every((c) => typeof c === 'string' && c.length > 0))
  ) {
    bad(`"authCookies" of auth "${definition.name}" must be an array of cookie names`);
  }
  if (definition.type === 'credentials') {
    if (!isStandardSchema(definition.credentials)) {
      bad(
        `"credentials" of auth "${definition.name}" must be a Standard Schema v1 validator (zod ≥ 3.24, valibot ≥ 1, arktype…), e.g. z.object({ username: z.string() })`,
      );
    }
    if (typeof definition.create !== 'function')
      bad(`"create" of auth "${definition.name}" must be a function`);
    if (definition.refresh !== undefined && typeof definition.refresh !== 'function') {
      bad(`"refresh" of auth "${definition.name}" must be a function when given`);
    }
  } else if (definition.type === 'recorder') {
    try {
      new URL(definition.startUrl);
    } catch {
      bad(`"startUrl" of auth "${definition.name}" must be an absolute URL`);
    }
    const f = definition.finishUrl as unknown;
    if (!(typeof f === 'string' || f instanceof RegExp || typeof f === 'function')) {
      bad(`"finishUrl" of auth "${definition.name}" must be a URL prefix, a RegExp or a function`);
    }
  } else {
    bad(
      `"type" must be 'credentials' or 'recorder', got ${JSON.stringify((definition as { type?: unknown }).type)}`,
    );
  }
  return Object.freeze({
    ...definition,
    ...(definition.authCookies === undefined
      ? {}
      : { authCookies: Object.freeze([...definition.authCookies]) }),
  });
}

function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  if ((typeof schema !== 'object' && typeof schema !== 'function') || schema === null) return false;
  const standard = (schema as Partial<StandardSchemaV1>)['~standard'];
  return typeof standard === 'object' && standard !== null && typeof standard.validate === 'function';
}

/** Validates the numeric options of an auth or a call; throws `INVALID_OPTIONS` naming the option. */
export function validateAuthOptions(options: AuthOptions, where: string): void {
  const positiveInt = ['checkAttempts', 'createAttempts'] as const;
  const durations = ['checkTimeout', 'createTimeout', 'checkInterval', 'retryDelay', 'inputTimeout'] as const;
  for (const key of positiveInt) {
    const v = options[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 100)) {
      throw new AuthSessionError(
        'INVALID_OPTIONS',
        `${where}: "${key}" must be an integer from 1 to 100, got ${v}`,
      );
    }
  }
  for (const key of durations) {
    durationOption(options[key], `${where}: "${key}"`, {
      zero: key === 'checkInterval' || key === 'retryDelay',
    });
  }
}

/** The effective options: call overrides, then the auth's, then the defaults. */
export function resolveAuthOptions(auth: AuthOptions, call: AuthOptions = {}): Required<AuthOptions> {
  const pick = <K extends keyof AuthOptions>(k: K): Required<AuthOptions>[K] =>
    (call[k] ?? auth[k] ?? DEFAULT_AUTH_OPTIONS[k]) as Required<AuthOptions>[K];
  return {
    checkAttempts: pick('checkAttempts'),
    createAttempts: pick('createAttempts'),
    checkTimeout: pick('checkTimeout'),
    createTimeout: pick('createTimeout'),
    checkInterval: pick('checkInterval'),
    retryDelay: pick('retryDelay'),
    inputTimeout: pick('inputTimeout'),
  };
}
