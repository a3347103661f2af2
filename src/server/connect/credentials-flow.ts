import { AuthSessionError } from '../../errors.js';
import type { AuthSessionManager } from '../../manager.js';
import type { VisitFlow } from './used-links.js';

/** How long a form post waits for the login to ask for a code or end before the page shows "working". */
const SETTLE_MS = 20_000;

/** What the credentials page shows now. */
export type CredentialsView =
  | { readonly step: 'form'; readonly error?: string }
  | { readonly step: 'working' }
  | {
      readonly step: 'input';
      readonly request: {
        readonly id: string;
        readonly kind: string;
        readonly message: string;
        readonly choices?: readonly string[];
      };
      readonly error?: string;
    }
  | { readonly step: 'connected'; readonly sessionId: string };

/** Where the credentials go: a new session of `auth` (with `labels`), or an existing session updated. */
export type CredentialsTarget =
  | { readonly kind: 'create'; readonly auth: string; readonly labels?: Readonly<Record<string, string>> }
  | { readonly kind: 'update'; readonly auth: string; readonly sessionId: string };

/**
 * One person logging in with credentials through a connect link: the form's credentials start an operation
 * (`startCreate` or `startUpdate`), a one-time code the login asks for is answered with `resume`, and the
 * page shows the operation as it stands. Credentials are handed to the manager and never kept here.
 *
 * @example
 * ```ts
 * const flow = new CredentialsFlow(manager, { kind: 'create', auth: 'crm', labels: { customer: 'acme' } });
 * await flow.submit({ username: 'ann', password });
 * const view = await flow.view(); // { step: 'input', request } when the login asks for a code
 * ```
 */
export class CredentialsFlow implements VisitFlow {
  readonly #manager: AuthSessionManager;
  readonly #target: CredentialsTarget;
  #operationId: string | undefined;
  /** A session created by an earlier, failed attempt: the next attempt creates it again under the same id. */
  #sessionId: string | undefined;
  #error: string | undefined;
  #inputError: string | undefined;
  #finished = false;
  #busy = false;

  constructor(manager: AuthSessionManager, target: CredentialsTarget) {
    this.#manager = manager;
    this.#target = target;
    if (target.kind === 'update') this.#sessionId = target.sessionId;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The auth's name. */
  get auth(): string {
    return this.#target.auth;
  }

  /** Shows `message` over the form (what was entered could not be read as credentials). */
  fail(message: string): void {
    if (this.#busy) return;
    this.#error = message;
  }

  /** Starts the login with `credentials` (refused while one runs); waits a while for it to ask or end. */
  async submit(credentials: unknown): Promise<void> {
    if (this.#finished || this.#busy) return;
    const current = await this.#operation();
    if (current && (current.status === 'running' || current.status === 'waiting_for_input')) return;
    this.#busy = true;
    this.#error = undefined;
    this.#inputError = undefined;
    try {
      const op =
        this.#target.kind === 'update'
          ? await this.#manager.startUpdate(this.#target.sessionId, { credentials })
          : await this.#manager.startCreate(this.#target.auth, {
              credentials,
              ...(this.#target.labels ? { labels: this.#target.labels } : {}),
              ...(this.#sessionId ? { id: this.#sessionId } : {}),
            });
      this.#operationId = op.id;
      this.#sessionId = op.sessionId;
      await this.#settle();
    } catch (err) {
      this.#error = explain(err);
    } finally {
      this.#busy = false;
    }
  }

  /** Answers the code the login waits for; a stale request id (the page was old) is ignored. */
  async answer(input: string, requestId: string | undefined): Promise<void> {
    const id = this.#operationId;
    if (this.#finished || id === undefined) return;
    this.#inputError = undefined;
    try {
      await this.#manager.resume(id, input, requestId ? { requestId } : {});
      await this.#settle();
    } catch (err) {
      this.#inputError = explain(err);
    }
  }

  /** What the page shows now. */
  async view(): Promise<CredentialsView> {
    const op = await this.#operation();
    if (!op) return this.#error ? { step: 'form', error: this.#error } : { step: 'form' };
    switch (op.status) {
      case 'running':
        return { step: 'working' };
      case 'waiting_for_input':
        return op.request
          ? {
              step: 'input',
              request: op.request,
              ...(this.#inputError ? { error: this.#inputError } : {}),
            }
          : { step: 'working' };
      case 'succeeded':
        this.#finished = true;
        return { step: 'connected', sessionId: op.sessionId };
      default:
        return {
          step: 'form',
          error: op.error
            ? `${op.error.message} (${op.error.code}). Check what you entered and try again.`
            : 'The login was stopped. Try again.',
        };
    }
  }

  /** Cancels a login still under way (the connect pages close). */
  async dispose(): Promise<void> {
    const id = this.#operationId;
    if (this.#finished || id === undefined) return;
    this.#finished = true;
    try {
      const op = await this.#manager.operation(id);
      if (op && (op.status === 'running' || op.status === 'waiting_for_input')) {
        await this.#manager.cancel(id);
      }
    } catch {
      // The manager may be closed already; its own close stopped the login.
    }
  }

  async #operation() {
    if (this.#operationId === undefined) return undefined;
    return this.#manager.operation(this.#operationId);
  }

  async #settle(): Promise<void> {
    if (this.#operationId === undefined) return;
    await this.#manager.operation(this.#operationId, { wait: true, timeoutMs: SETTLE_MS });
  }
}

/** A message a person may read: the error's own message (errors never carry secrets), else a generic one. */
function explain(err: unknown): string {
  if (err instanceof AuthSessionError) return `${err.message} (${err.code})`;
  return 'Something went wrong on the server. Try again later.';
}
