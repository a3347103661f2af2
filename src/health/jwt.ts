// Reading the `exp` of JSON Web Tokens found in a browser state. Only the payload's `exp` claim is read; the
// signature is not (and cannot be) verified: the token tells when the site will stop accepting it, nothing more.

const JWT = /^(?:Bearer\s+)?([A-Za-z0-9_-]{2,})\.([A-Za-z0-9_-]{2,})\.([A-Za-z0-9_-]*)$/;
/** Values longer than this are not scanned (a state can hold large blobs in storage). */
const MAX_VALUE = 64 * 1024;
/** JSON nesting scanned inside a stored value (`{"auth":{"access_token":"eyJ…"}}`). */
const MAX_DEPTH = 4;

/** The `exp` (ms since the epoch) of a JWT, or undefined when `text` is not one or carries no numeric `exp`. */
export function jwtExpiry(text: string): number | undefined {
  const match = JWT.exec(text.trim());
  if (!match) return undefined;
  try {
    const header = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || !('alg' in header)) return undefined;
    const payload = JSON.parse(Buffer.from(match[2]!, 'base64url').toString('utf8')) as unknown;
    if (typeof payload !== 'object' || payload === null) return undefined;
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `exp` of every JWT in a stored value: the value itself, or the strings of a JSON object or array it holds
 * (`{"access_token":"eyJ…"}`), also URL-encoded (as in cookies).
 */
export function jwtExpiriesIn(value: string): number[] {
  if (value.length > MAX_VALUE) return [];
  const found: number[] = [];
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      const exp = jwtExpiry(v);
      if (exp !== undefined) found.push(exp);
      else if (depth < MAX_DEPTH && (v.startsWith('{') || v.startsWith('['))) visit(parse(v), depth + 1);
      else if (depth === 0 && v.includes('%')) visit(decode(v), depth + 1);
    } else if (Array.isArray(v)) {
      if (depth < MAX_DEPTH) for (const item of v) visit(item, depth + 1);
    } else if (typeof v === 'object' && v !== null && depth < MAX_DEPTH) {
      for (const item of Object.values(v)) visit(item, depth + 1);
    }
  };
  visit(value, 0);
  return found;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
