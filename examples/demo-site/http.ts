/**
 * Small HTTP helpers for the demo site: cookies, bounded bodies, responses. Built on `node:http` alone so the
 * site stays fast under load and has no framework between the tests and the wire.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Largest request body the demo site reads; anything bigger is answered with 413.
 *
 * @example
 * ```ts
 * if (Number(req.headers['content-length']) > MAX_BODY_BYTES) res.writeHead(413).end();
 * ```
 */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Thrown by {@link readBody} when a body is larger than {@link MAX_BODY_BYTES}.
 *
 * @example
 * ```ts
 * try { await readBody(req); } catch (err) { if (err instanceof BodyTooLargeError) send(res, 413, 'text/plain', 'too large'); }
 * ```
 */
export class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large');
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Parses a `Cookie` header into a null-prototype record (a `__proto__` cookie stays plain data).
 *
 * @example
 * ```ts
 * parseCookies('sid=abc; seen=1').sid; // 'abc'
 * ```
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

/**
 * Attributes of a `Set-Cookie` header written by {@link serializeCookie}.
 *
 * @example
 * ```ts
 * const attrs: CookieAttributes = { maxAge: 60, httpOnly: false };
 * ```
 */
export interface CookieAttributes {
  /** Seconds until the browser drops the cookie; `0` deletes it. Omitted: a browser-session cookie. */
  readonly maxAge?: number;
  /** @default true */
  readonly httpOnly?: boolean;
  /** @default 'Lax' */
  readonly sameSite?: 'Lax' | 'Strict' | 'None';
  /** @default '/' */
  readonly path?: string;
}

/**
 * Formats one `Set-Cookie` header value.
 *
 * @example
 * ```ts
 * serializeCookie('sid', token, { maxAge: 3600 }); // 'sid=…; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax'
 * ```
 */
export function serializeCookie(name: string, value: string, attrs: CookieAttributes = {}): string {
  let out = `${name}=${encodeURIComponent(value)}; Path=${attrs.path ?? '/'}`;
  // Rounded up: a fractional lifetime must not turn into Max-Age=0 (which deletes the cookie).
  if (attrs.maxAge !== undefined) out += `; Max-Age=${Math.max(0, Math.ceil(attrs.maxAge))}`;
  if (attrs.httpOnly ?? true) out += '; HttpOnly';
  out += `; SameSite=${attrs.sameSite ?? 'Lax'}`;
  return out;
}

/**
 * Reads a request body as UTF-8, refusing more than {@link MAX_BODY_BYTES}.
 *
 * @example
 * ```ts
 * const text = await readBody(req);
 * ```
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

/**
 * Parses an `application/x-www-form-urlencoded` body into a null-prototype record (first value wins).
 *
 * @example
 * ```ts
 * parseForm('username=alice&password=x').username; // 'alice'
 * ```
 */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(body)) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * Parses a JSON body that must be an object; anything else (or bad JSON) gives `undefined`.
 *
 * @example
 * ```ts
 * const body = parseJsonObject('{"username":"alice"}'); // { username: 'alice' }
 * ```
 */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    // Copy onto a null prototype so a `__proto__` key stays inert data.
    return Object.assign(Object.create(null), value) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Sends a complete response. `no-store` everywhere: pages carry per-session content.
 *
 * @example
 * ```ts
 * send(res, 200, 'text/plain; charset=utf-8', 'ok');
 * ```
 */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  cookies: readonly string[] = [],
): void {
  const headers: Record<string, string | number | string[]> = {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (cookies.length > 0) headers['set-cookie'] = [...cookies];
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Sends an HTML page.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, '<h1>Hi</h1>');
 * ```
 */
export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  cookies: readonly string[] = [],
): void {
  send(res, status, 'text/html; charset=utf-8', html, cookies);
}

/**
 * Sends a JSON body.
 *
 * @example
 * ```ts
 * sendJson(res, 200, { ok: true });
 * ```
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  cookies: readonly string[] = [],
): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), cookies);
}

/**
 * Sends a 302 redirect to a same-site path.
 *
 * @example
 * ```ts
 * redirect(res, '/login?next=%2Faccount');
 * ```
 */
export function redirect(res: ServerResponse, location: string, cookies: readonly string[] = []): void {
  const headers: Record<string, string | number | string[]> = {
    location,
    'content-length': 0,
    'cache-control': 'no-store',
  };
  if (cookies.length > 0) headers['set-cookie'] = [...cookies];
  res.writeHead(302, headers);
  res.end();
}

/**
 * Keeps only same-site relative paths (`/x`, never `//host` or `http:`), so `next` cannot open-redirect.
 *
 * @example
 * ```ts
 * safeNext('//evil.example'); // '/account'
 * ```
 */
export function safeNext(next: string | undefined | null, fallback = '/account'): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) {
    return fallback;
  }
  if (next.length > 512 || /[\r\n]/.test(next)) return fallback;
  return next;
}
