import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { AuthDefinition } from './define.js';

// Types a manager derives from the auths it serves: `new AuthSessionManager({ auths: [crm, portal] })` knows the
// names 'crm' | 'portal', that only 'crm' logs in with credentials (and their shape) and that only 'portal' is
// recorded. A manager typed with `AuthDefinition[]` (names known only at run time) falls back to `string` names
// and `unknown` credentials, as every check is made at run time anyway. So does `AuthSessionManager` without a
// type argument (`A` = `any`): the type every manager is assignable to, e.g. what a config file exports.

/**
 * The names of the auths in `A`.
 *
 * @example
 * ```ts
 * type Names = AuthNameOf<typeof crm | typeof portal>; // 'crm' | 'portal'
 * ```
 */
export type AuthNameOf<A extends AuthDefinition> = 0 extends 1 & A ? string : A['name'];

/**
 * The names of the credentials-based auths in `A` (what `create` and `startCreate` accept).
 *
 * @example
 * ```ts
 * type Names = CredentialsAuthNameOf<typeof crm | typeof portal>; // 'crm'
 * ```
 */
export type CredentialsAuthNameOf<A extends AuthDefinition> = 0 extends 1 & A
  ? string
  : Extract<A, { readonly type: 'credentials' }>['name'];

/**
 * The names of the recorder-based auths in `A` (what `record` accepts).
 *
 * @example
 * ```ts
 * type Names = RecorderAuthNameOf<typeof crm | typeof portal>; // 'portal'
 * ```
 */
export type RecorderAuthNameOf<A extends AuthDefinition> = 0 extends 1 & A
  ? string
  : Extract<A, { readonly type: 'recorder' }>['name'];

/**
 * What callers pass as `credentials` for the auth(s) named `N` among `A`: the input type of its schema
 * (`unknown` when the schema or the name is only known at run time; `never` for a recorder-based auth).
 *
 * @example
 * ```ts
 * type Input = CredentialsInputOf<typeof crm | typeof portal, 'crm'>; // { username: string; password: string }
 * ```
 */
export type CredentialsInputOf<A extends AuthDefinition, N extends string = AuthNameOf<A>> = 0 extends 1 & A
  ? unknown
  : // Distributes over the auths of `A`: `N` a name of this auth (or any name, when this auth's name is just
    // `string`), or a union including it.
    A extends {
        readonly type: 'credentials';
        readonly name: infer Name extends string;
        readonly credentials: infer S extends StandardSchemaV1;
      }
    ? [N] extends [Name]
      ? StandardSchemaV1.InferInput<S>
      : Name extends N
        ? StandardSchemaV1.InferInput<S>
        : never
    : never;
