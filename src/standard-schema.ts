import type { StandardSchemaV1 } from '@standard-schema/spec';

// Credentials are validated through the Standard Schema v1 interface, so an auth's schema may come from zod,
// valibot, arktype or any other library implementing it. Only issue paths leave this file, never values or
// the validator's messages (which may quote the value).

/** The outcome of validating a value: the schema's output, or where it is wrong. */
export type SchemaCheck =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly paths: string };

/**
 * Validates `value` with `schema['~standard'].validate` (awaited when it returns a promise). A validator that
 * throws counts as a refusal at `(root)`; what it threw is dropped, since it may quote the value.
 *
 * @example
 * ```ts
 * const check = await validateWithSchema(auth.credentials, input);
 * if (!check.ok) throw new Error(`invalid at ${check.paths}`);
 * ```
 */
export async function validateWithSchema(schema: StandardSchemaV1, value: unknown): Promise<SchemaCheck> {
  let result: StandardSchemaV1.Result<unknown>;
  try {
    result = await schema['~standard'].validate(value);
  } catch {
    return { ok: false, paths: '(root): the schema threw while validating' };
  }
  if (result.issues === undefined) return { ok: true, value: result.value };
  return { ok: false, paths: issuePathList(result.issues) };
}

/** `username, address.city` for the issues' paths; `(root)` for an issue about the whole value. */
function issuePathList(issues: readonly StandardSchemaV1.Issue[]): string {
  const paths = issues.map((issue) => {
    const keys = (issue.path ?? []).map((segment) =>
      typeof segment === 'object' && segment !== null ? segment.key : segment,
    );
    return keys.length ? keys.map(String).join('.') : '(root)';
  });
  const unique = [...new Set(paths)];
  return unique.length ? unique.join(', ') : '(root)';
}
