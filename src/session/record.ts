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

/** The version of the record layout this release writes and reads. */
export const RECORD_VERSION = 1;

/**
 * The fields of a record (version 1). `strict` builds the schema that defines the {@link SessionRecord}
 * type; reading builds a tolerant one (see {@link storedRecordSchema}).
 */
function recordShape(strict: boolean) {
  const object = <T extends z.ZodRawShape>(shape: T) =>
    strict ? z.strictObject(shape) : z.looseObject(shape);
  return {
    v: z.literal(RECORD_VERSION),
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
    proxy: object({ server: z.string() }).optional(),
    device: (strict ? deviceSchema : deviceSchema.loose()).optional(),
    failure: object({ code: z.string(), message: z.string() }).optional(),
    input: (strict ? inputRequestSchema : inputRequestSchema.loose()).optional(),
    operationId: z.string().optional(),
    /**
     * Authenticates every other field (what is in clear, and which sealed boxes belong to the record) with
     * the key: a record edited without the key is `CORRUPT_RECORD`.
     */
    mac: object({ kid: z.string(), tag: z.string() }).optional(),
    /** The login under way while `pending` (create, update, record, import): only it may finish or undo. */
    loginId: z.string().optional(),
    /**
     * The lease held on the session (`manager.lease`): its id and until when it lasts unless renewed. The
     * manager's lock decides who holds a lease; this shows it and fences the holder's renewals.
     */
    lease: object({ id: z.string(), until: iso }).optional(),
    /** When the last lease was released: the least recently used session is leased first. */
    leaseEndedAt: iso.optional(),
    sealed: object({
      credentials: envelopeSchema.optional(),
      state: envelopeSchema.optional(),
      proxy: envelopeSchema.optional(),
    }),
  };
}

/**
 * One session as stored: version 1. Everything secret lives in `sealed`, each field its own box bound to
 * the record id and the field name.
 */
export const sessionRecordSchema = z.strictObject(recordShape(true));

/**
 * How records are read back: as {@link sessionRecordSchema}, except that fields this release does not know
 * (at the top level and inside its objects) are kept, not refused. A newer release that adds an optional
 * field then does not break the workers of this one during a rolling upgrade: they carry the field through
 * their own writes (every change applies to the latest record), and the record's `mac`, computed over every
 * field, still vouches for it. A record without a valid `mac` is refused all the same.
 */
export const storedRecordSchema = z.looseObject(recordShape(false));

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
