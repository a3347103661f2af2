import type Keyv from 'keyv';
import { z } from 'zod';
import { AuthSessionError } from '../errors.js';
import { inputRequestSchema } from '../session/record.js';
import type { SessionStore } from '../store/session-store.js';
import { envelopeSchema } from '../vault/envelope.js';

/** The statuses of an operation; the last three are final. */
export const OPERATION_STATUSES = [
  'running',
  'waiting_for_input',
  'succeeded',
  'failed',
  'canceled',
] as const;

/** Where an operation stands. */
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** True for `succeeded`, `failed` and `canceled`. */
export function isFinalStatus(status: OperationStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}

/** How long a finished operation stays readable (`operation`, `result`) in the store: one day. */
export const OPERATION_TTL_MS = 24 * 60 * 60_000;

const iso = z.iso.datetime({ offset: true });

/**
 * An operation as stored under `meta/operation/<id>`. Written only by the process that runs the login;
 * other processes read it. Never an answer, a credential or a cookie.
 */
export const operationRecordSchema = z
  .object({
    v: z.literal(1),
    id: z.string(),
    kind: z.enum(['create', 'update']),
    sessionId: z.string(),
    auth: z.string(),
    status: z.enum(OPERATION_STATUSES),
    request: inputRequestSchema.optional(),
    /** When the pending request stops waiting (epoch ms of the runner's clock). */
    requestExpiresAt: z.number().optional(),
    error: z.object({ code: z.string(), message: z.string() }).strict().optional(),
    createdAt: iso,
    updatedAt: iso,
  })
  .strict();

/** A stored operation. */
export type OperationRecord = z.infer<typeof operationRecordSchema>;

/**
 * An answer on its way from `resume` (any process) to the login: sealed with the vault's key, bound to the
 * operation id, deleted by the login as soon as it is read.
 */
export const operationAnswerSchema = z
  .object({ v: z.literal(1), requestId: z.string(), box: envelopeSchema })
  .strict();

/** A stored answer. */
export type OperationAnswer = z.infer<typeof operationAnswerSchema>;

/** A cancel request, written by `cancel` (any process) and seen by the process running the login. */
export const operationCancelSchema = z.object({ v: z.literal(1), at: iso }).strict();

const OPERATION_ID = /^[A-Za-z0-9_-]{8,128}$/;

/** True when `id` has the shape of an operation id (so it can never escape its key prefix). */
export function isOperationId(id: unknown): id is string {
  return typeof id === 'string' && OPERATION_ID.test(id);
}

/** The vault field an answer is sealed under. */
export const ANSWER_FIELD = 'input';

/**
 * Typed access to operations in the session store's meta namespace: the operation itself, its pending
 * answer and its cancel flag each live under their own key, so each has a single writer and no write can
 * undo another.
 *
 * @example
 * ```ts
 * const ops = new OperationStore(store);
 * const op = await ops.read(operationId); // OperationRecord | undefined
 * ```
 */
export class OperationStore {
  readonly #store: SessionStore;

  constructor(store: SessionStore) {
    this.#store = store;
  }

  /** The Keyv instance underneath (for in-process notifications between managers sharing it). */
  get keyv(): Keyv {
    return this.#store.keyv;
  }

  /** The operation, or undefined when there is none (never was, or its TTL passed). */
  async read(id: string): Promise<OperationRecord | undefined> {
    if (!isOperationId(id)) return undefined;
    const raw = await this.#store.getMeta(key(id));
    if (raw === undefined) return undefined;
    const parsed = operationRecordSchema.safeParse(raw);
    if (!parsed.success || parsed.data.id !== id) {
      throw new AuthSessionError(
        'CORRUPT_RECORD',
        `The stored operation "${id}" is damaged or of an unknown shape`,
      );
    }
    return parsed.data;
  }

  /** Writes the operation (kept for {@link OPERATION_TTL_MS} after its last write). */
  async write(record: OperationRecord): Promise<void> {
    await this.#store.setMeta(key(record.id), record, OPERATION_TTL_MS);
  }

  /** The stored answer, or undefined (a damaged one counts as none and is dropped). */
  async readAnswer(id: string): Promise<OperationAnswer | undefined> {
    const raw = await this.#store.getMeta(`${key(id)}/answer`);
    if (raw === undefined) return undefined;
    const parsed = operationAnswerSchema.safeParse(raw);
    if (!parsed.success) {
      await this.deleteAnswer(id);
      return undefined;
    }
    return parsed.data;
  }

  /** Stores an answer for at most `ttlMs`. */
  async writeAnswer(id: string, answer: OperationAnswer, ttlMs: number): Promise<void> {
    await this.#store.setMeta(`${key(id)}/answer`, answer, ttlMs);
  }

  /** Deletes the stored answer. */
  async deleteAnswer(id: string): Promise<void> {
    await this.#store.deleteMeta(`${key(id)}/answer`);
  }

  /** True when someone asked to cancel the operation. */
  async isCancelRequested(id: string): Promise<boolean> {
    const raw = await this.#store.getMeta(`${key(id)}/cancel`);
    return raw !== undefined && operationCancelSchema.safeParse(raw).success;
  }

  /** Asks the process running the operation to cancel it. */
  async requestCancel(id: string, at: string): Promise<void> {
    await this.#store.setMeta(`${key(id)}/cancel`, { v: 1, at }, OPERATION_TTL_MS);
  }

  /** Deletes the cancel flag. */
  async deleteCancel(id: string): Promise<void> {
    await this.#store.deleteMeta(`${key(id)}/cancel`);
  }
}

function key(id: string): string {
  return `operation/${id}`;
}

/** Waiters per Keyv instance and operation id: managers of one process sharing a store nudge each other. */
const wakers = new WeakMap<Keyv, Map<string, Set<() => void>>>();

/**
 * Wakes every waiter of this process on operation `id` over the same Keyv instance (a poll then reads the
 * store at once instead of at its next tick). Other processes notice on their next poll.
 *
 * @example
 * ```ts
 * notifyOperation(keyv, operationId);
 * ```
 */
export function notifyOperation(keyv: Keyv, id: string): void {
  const set = wakers.get(keyv)?.get(id);
  if (!set) return;
  for (const wake of [...set]) wake();
}

/**
 * Registers a waiter for {@link notifyOperation}; returns its removal.
 *
 * @example
 * ```ts
 * const stop = onOperationNotice(keyv, operationId, () => poll());
 * ```
 */
export function onOperationNotice(keyv: Keyv, id: string, wake: () => void): () => void {
  let byId = wakers.get(keyv);
  if (!byId) {
    byId = new Map();
    wakers.set(keyv, byId);
  }
  let set = byId.get(id);
  if (!set) {
    set = new Set();
    byId.set(id, set);
  }
  set.add(wake);
  return () => {
    set.delete(wake);
    if (set.size === 0 && byId.get(id) === set) byId.delete(id);
  };
}
