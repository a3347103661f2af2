import type { MiddlewareHandler } from 'hono';

/**
 * The content security policy of the connect pages: nothing but this origin's own files (no inline script or
 * style), pictures of the live view as `data:` URLs, forms posting to this origin only, never framed.
 */
export const CONNECT_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/**
 * Headers on every connect response: the CSP above, no sniffing, no referrer (a link's token must not travel
 * to another site in a `Referer`), no caching of pages that belong to one person.
 *
 * @example
 * ```ts
 * app.use('*', securityHeaders);
 * ```
 */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.set('content-security-policy', CONNECT_CSP);
  c.res.headers.set('x-content-type-options', 'nosniff');
  c.res.headers.set('referrer-policy', 'no-referrer');
  c.res.headers.set('x-frame-options', 'DENY');
  c.res.headers.set('cross-origin-opener-policy', 'same-origin');
  if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
};
