import { toJSONSchema, type ZodType } from 'zod';
import type { AuthDefinition } from '../define.js';

/**
 * One field of an auth's credentials schema, as `describeAuth` tells it (for prompts and tooling).
 *
 * @example
 * ```ts
 * const field: CredentialField = { name: 'totpSecret', optional: true, secret: true, type: 'string' };
 * ```
 */
export interface CredentialField {
  readonly name: string;
  /** The schema accepts the credentials without this field. */
  readonly optional: boolean;
  /**
   * Typed without echo when prompted: the schema marks it `writeOnly` (zod: `.meta({ writeOnly: true })`)
   * or its name says so (password, secret, token, key, code, pin…).
   */
  readonly secret: boolean;
  /** The JSON Schema type of the field, when it is a plain one. */
  readonly type?: 'string' | 'number' | 'integer' | 'boolean';
}

/**
 * What an auth definition is, without its hooks: name, type, the credential fields of a credentials-based
 * auth (when its schema is a zod object; other Standard Schema validators give none), the URLs of a recorder-based one.
 *
 * @example
 * ```ts
 * manager.describeAuth('crm');
 * // { name: 'crm', type: 'credentials', credentialFields: [{ name: 'username', optional: false }, …] }
 * ```
 */
export interface AuthDescription {
  readonly name: string;
  readonly type: 'credentials' | 'recorder';
  /** The top-level fields of the credentials schema; absent when the schema is not a plain object schema. */
  readonly credentialFields?: readonly CredentialField[];
  /** Where the recorder opens (recorder-based auths). */
  readonly startUrl?: string;
}

/** Describes an auth definition (see {@link AuthDescription}). */
export function describeAuth(auth: AuthDefinition): AuthDescription {
  if (auth.type === 'recorder') return { name: auth.name, type: 'recorder', startUrl: auth.startUrl };
  // Fields are read from zod object schemas only; other Standard Schema validators are opaque here (the CLI
  // then asks for the credentials as JSON).
  const shape =
    auth.credentials['~standard'].vendor === 'zod'
      ? (auth.credentials as { shape?: unknown }).shape
      : undefined;
  if (typeof shape !== 'object' || shape === null) return { name: auth.name, type: 'credentials' };
  const json = jsonProperties(auth.credentials);
  const credentialFields = Object.entries(
    shape as Record<string, { safeParse?: (v: unknown) => unknown }>,
  ).map(([name, field]): CredentialField => {
    const property = json?.[name];
    const type = PLAIN_TYPES.find((t) => t === property?.type);
    return {
      name,
      optional: acceptsUndefined(field),
      secret: property?.writeOnly === true || SECRET_NAME.test(name),
      ...(type === undefined ? {} : { type }),
    };
  });
  return { name: auth.name, type: 'credentials', credentialFields };
}

const PLAIN_TYPES = ['string', 'number', 'integer', 'boolean'] as const;
const SECRET_NAME = /pass|secret|token|key|code|pin|otp|cookie|credential/i;

interface JsonProperty {
  readonly type?: unknown;
  readonly writeOnly?: unknown;
}

/** The properties of the credentials schema as JSON Schema (zod 4), or undefined when it cannot say. */
function jsonProperties(schema: unknown): Readonly<Record<string, JsonProperty>> | undefined {
  try {
    const json = toJSONSchema(schema as ZodType, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, JsonProperty>;
    };
    return json.properties;
  } catch {
    return undefined;
  }
}

function acceptsUndefined(field: { safeParse?: (v: unknown) => unknown }): boolean {
  try {
    const result = field.safeParse?.(undefined) as { success?: boolean } | undefined;
    return result?.success === true;
  } catch {
    return false;
  }
}
