import { z } from 'zod';
import { envelopeSchema } from '../vault/envelope.js';
import { SESSION_STATES } from './states.js';

const iso = z.iso.datetime({ offset: true });

/** Public part of a session's device profile, stored in the clear (it is not a secret). */
export const deviceSchema = z
  .object({
    userAgent: z.string().optional(),
    viewport: z
      .object({ width: z.number().int().positive(), height: z.number().int().positive() })
      .strict()
      .optional(),
    locale: z.string().optional(),
    timezoneId: z.string().optional(),
    deviceScaleFactor: z.number().positive().optional(),
    isMobile: z.boolean().optional(),
    hasTouch: z.boolean().optional(),
    colorScheme: z.enum(['light', 'dark', 'no-preference']).optional(),
  })
  .strict();

/** A pending input request as stored and shown (kind and message only, never an answer). */
export const inputRequestSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    message: z.string(),
    choices: z.array(z.string()).optional(),
  })
  .strict();

/**
 * One session as stored: version 1. Everything secret lives in `sealed`, each field its own box bound to
 * the record id and the field name.
 */
export const sessionRecordSchema = z
  .object({
    v: z.literal(1),
    id: z.string(),
    auth: z.string(),
    type: z.enum(['credentials', 'recorder']),
    state: z.enum(SESSION_STATES),
    /** Bumped on every write. */
    revision: z.number().int().nonnegative(),
    /** Bumped on every successful login (create, refresh, record, import): tells "someone refreshed already". */
    generation: z.number().int().nonnegative(),
    createdAt: iso,
    updatedAt: iso,
    lastCheckedAt: iso.optional(),
    expiredAt: iso.optional(),
    /** When the current login is expected to lapse (learned from the state it captured; see docs/health.md). */
    expiresAt: iso.optional(),
    labels: z.record(z.string(), z.string()),
    proxy: z.object({ server: z.string() }).strict().optional(),
    device: deviceSchema.optional(),
    failure: z.object({ code: z.string(), message: z.string() }).strict().optional(),
    input: inputRequestSchema.optional(),
    operationId: z.string().optional(),
    /**
     * Authenticates every other field (what is in clear, and which sealed boxes belong to the record) with
     * the key: a record edited without the key is `CORRUPT_RECORD`.
     */
    mac: z.object({ kid: z.string(), tag: z.string() }).strict().optional(),
    /** The login under way while `pending` (create, update, record, import): only it may finish or undo. */
    loginId: z.string().optional(),
    /**
     * The lease held on the session (`manager.lease`): its id and until when it lasts unless renewed. The
     * manager's lock decides who holds a lease; this shows it and fences the holder's renewals.
     */
    lease: z.object({ id: z.string(), until: iso }).strict().optional(),
    /** When the last lease was released: the least recently used session is leased first. */
    leaseEndedAt: iso.optional(),
    sealed: z
      .object({
        credentials: envelopeSchema.optional(),
        state: envelopeSchema.optional(),
        proxy: envelopeSchema.optional(),
      })
      .strict(),
  })
  .strict();

/** A stored session record. */
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** Keys that must never appear in a record read back from storage. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** JSON.parse that refuses `__proto__`-style keys anywhere (they would survive as own data keys). */
export function parseJsonSafely(text: string): unknown {
  return JSON.parse(text, (key, value) => {
    if (FORBIDDEN_KEYS.has(key)) throw new SyntaxError('forbidden key in JSON');
    return value;
  });
}
