import type { AuthDefinition } from '../define.js';

/**
 * One field of an auth's credentials schema, as `describeAuth` tells it (for prompts and tooling).
 *
 * @example
 * ```ts
 * const field: CredentialField = { name: 'totpSecret', optional: true };
 * ```
 */
export interface CredentialField {
  readonly name: string;
  /** The schema accepts the credentials without this field. */
  readonly optional: boolean;
}

/**
 * What an auth definition is, without its hooks: name, type, the credential fields of a credentials-based
 * auth (when its schema is a zod object), the URLs of a recorder-based one.
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
  const shape = (auth.credentials as { shape?: unknown }).shape;
  if (typeof shape !== 'object' || shape === null) return { name: auth.name, type: 'credentials' };
  const credentialFields = Object.entries(
    shape as Record<string, { safeParse?: (v: unknown) => unknown }>,
  ).map(([name, field]) => ({ name, optional: acceptsUndefined(field) }));
  return { name: auth.name, type: 'credentials', credentialFields };
}

function acceptsUndefined(field: { safeParse?: (v: unknown) => unknown }): boolean {
  try {
    const result = field.safeParse?.(undefined) as { success?: boolean } | undefined;
    return result?.success === true;
  } catch {
    return false;
  }
}
