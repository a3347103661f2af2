import { z } from 'zod';
import { AuthSessionError } from '../../errors.js';
import type { AuthSessionManager } from '../../manager.js';
import type { AuthDescription } from '../../monitor/describe-auth.js';
import { assertKnownOptions } from '../../option-names.js';
import { assertSessionId, parseSessionLabels } from '../../session-options.js';
import { type ConnectTarget, MAX_PASTE_CHARS } from './connect-options.js';
import type { LinkPayload } from './link-token.js';
import { fieldName } from './pages.js';

// What the connect pages take in from outside, checked: the target of a new link, the credentials form, and
// the live view's input events.

/** One input event of the live view (a click, a key, pasted text). */
export const liveInput = z.discriminatedUnion('type', [
  z.object({ type: z.literal('click'), x: z.number().finite(), y: z.number().finite() }).strict(),
  z
    .object({
      type: z.literal('key'),
      key: z.string().min(1).max(32),
      ctrl: z.boolean().optional(),
      alt: z.boolean().optional(),
      meta: z.boolean().optional(),
      shift: z.boolean().optional(),
    })
    .strict(),
  z.object({ type: z.literal('text'), text: z.string().min(1).max(MAX_PASTE_CHARS) }).strict(),
]);

/** The target as the link carries it, after checking that it exists. */
export async function linkTarget(
  manager: AuthSessionManager,
  target: ConnectTarget,
): Promise<LinkPayload['t']> {
  if (typeof target === 'string') {
    assertSessionId(target, 'connectLink(target): the session id');
    const info = await manager.get(target);
    if (!info) {
      throw new AuthSessionError('SESSION_NOT_FOUND', `Session "${target}" does not exist`, {
        sessionId: target,
      });
    }
    return { s: target };
  }
  if (typeof target !== 'object' || target === null || typeof target.auth !== 'string') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'connectLink(target): the target must be a session id or { auth, labels? }',
    );
  }
  assertKnownOptions(target, ['auth', 'labels'], 'connectLink(target)');
  manager.describeAuth(target.auth); // UNKNOWN_AUTH for a name the manager does not serve
  const labels = target.labels === undefined ? undefined : parseSessionLabels(target.labels);
  return labels && Object.keys(labels).length > 0 ? { a: target.auth, l: labels } : { a: target.auth };
}

/** The credentials from the form: one value per field of the schema, or the JSON box. */
export function readCredentials(
  body: Record<string, string | File | (string | File)[]>,
  description: AuthDescription,
): Record<string, unknown> | Error {
  const fields = description.credentialFields;
  if (!fields) {
    const json = body.json;
    if (typeof json !== 'string') return new Error('Enter the credentials as JSON.');
    try {
      const value: unknown = JSON.parse(json);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return new Error('The credentials must be a JSON object.');
      }
      return value as Record<string, unknown>;
    } catch {
      return new Error('The credentials are not valid JSON.');
    }
  }
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = body[fieldName(field.name)];
    const value = typeof raw === 'string' ? raw : undefined;
    if (field.type === 'boolean') {
      out[field.name] = value === 'true';
      continue;
    }
    // An empty box is a missing value: the schema then names the field if it is required.
    if (value === undefined || value === '') continue;
    out[field.name] = field.type === 'number' || field.type === 'integer' ? Number(value) : value;
  }
  return out;
}

/** The link's path from the request's own path, `pathEnd` segments after the token cut off. */
export function requestPath(path: string, pathEnd: 0 | 1): string {
  const segments = path.split('/');
  return segments.slice(0, segments.length - pathEnd).join('/');
}

/** The mount path as a path: a leading slash, no trailing one. */
export function normaliseMountPath(path: string): string {
  if (typeof path !== 'string') {
    throw new AuthSessionError('INVALID_OPTIONS', '"mountPath" must be a path such as "/connect"');
  }
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}
