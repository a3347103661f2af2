/**
 * An auth for the demo site that logs in over plain HTTP (`fetch`) instead of driving a page, and keeps the
 * site's session cookie in the browser context. With the fake browser of `auth-sessions/testing` it lets
 * many processes hammer one session cheaply while every login is still a real login at the site (counted
 * by its `/__admin/stats`). The same pattern fits sites whose login is a plain form POST.
 */
import { z } from 'zod';
// In your own code: `from 'auth-sessions'`.
import { type AuthOptions, type CredentialsAuthDefinition, defineAuth } from '../../src/index.js';

/**
 * The demo site's credentials.
 *
 * @example
 * ```ts
 * const credentials = httpCredentialsSchema.parse({ username: 'alice', password: 'wonderland-42' });
 * ```
 */
export const httpCredentialsSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });

/** A cookie as `context.addCookies` takes it, bound to the site's origin. */
interface SiteCookie {
  readonly name: string;
  readonly value: string;
  readonly url: string;
}

/**
 * Logs in to the demo site over HTTP: `GET /login` for the CSRF cookie and token, then `POST /login`.
 * Resolves to the session cookie the site set; throws when the site refused the credentials.
 *
 * @example
 * ```ts
 * const sid = await httpLogin(site.url, { username: 'alice', password: 'wonderland-42' });
 * ```
 */
export async function httpLogin(
  siteUrl: string,
  credentials: { readonly username: string; readonly password: string },
  signal?: AbortSignal,
): Promise<SiteCookie> {
  const origin = new URL(siteUrl).origin;
  const form = await get(`${origin}/login`, { signal, redirect: 'manual' });
  const html = await form.text();
  const csrfCookie = cookieFrom(form.headers.getSetCookie(), 'csrf');
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrfCookie || !token) throw new Error('The login form had no CSRF token');
  const body = new URLSearchParams({
    username: credentials.username,
    password: credentials.password,
    csrf: unescapeHtml(token),
    next: '/account',
  });
  const res = await fetch(`${origin}/login`, {
    method: 'POST',
    signal,
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `csrf=${csrfCookie}` },
    body,
  });
  await res.body?.cancel();
  const sid = cookieFrom(res.headers.getSetCookie(), 'sid');
  if (res.status !== 302 || !sid) throw new Error(`The site refused the login (HTTP ${res.status})`);
  return { name: 'sid', value: sid, url: origin };
}

/**
 * True when `GET /account` with this `Cookie` header shows the account page (the site redirects to the login
 * form otherwise).
 *
 * @example
 * ```ts
 * const ok = await httpIsLoggedIn(site.url, `sid=${sid}`);
 * ```
 */
export async function httpIsLoggedIn(
  siteUrl: string,
  cookie: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const origin = new URL(siteUrl).origin;
  const res = await get(`${origin}/account`, { signal, redirect: 'manual', headers: { cookie } });
  await res.body?.cancel();
  return res.status === 200;
}

/**
 * Options of {@link httpLoginAuth}.
 *
 * @example
 * ```ts
 * const auth = httpLoginAuth(site.url, { name: 'crm', beforeLogin: async () => console.log('logging in') });
 * ```
 */
export interface HttpLoginAuthOptions extends AuthOptions {
  /**
   * Name of the auth definition.
   * @default 'demo-http'
   */
  readonly name?: string;
  /** Runs at the start of every login (`create` and refresh), inside the lock when it is a refresh. */
  readonly beforeLogin?: (signal: AbortSignal) => Promise<void> | void;
}

/**
 * The auth definition: `create` logs in over HTTP and puts the session cookie into the browser context,
 * `check` asks `/account` with the context's cookies.
 *
 * @example
 * ```ts
 * const manager = new AuthSessionManager({ auths: [httpLoginAuth(site.url)], browser: new FakeBrowserProvider() });
 * const session = await manager.create('demo-http', { credentials: { username: 'alice', password: 'wonderland-42' } });
 * ```
 */
export function httpLoginAuth(
  siteUrl: string,
  options: HttpLoginAuthOptions = {},
): CredentialsAuthDefinition<typeof httpCredentialsSchema> {
  const { name = 'demo-http', beforeLogin, ...authOptions } = options;
  const origin = new URL(siteUrl).origin;
  return defineAuth({
    name,
    type: 'credentials',
    credentials: httpCredentialsSchema,
    retryDelay: 100,
    ...authOptions,
    async create({ context, credentials, signal }) {
      await beforeLogin?.(signal);
      const cookie = await httpLogin(origin, credentials, signal);
      await context.addCookies([cookie]);
    },
    async check({ context, signal }) {
      const cookies = await context.cookies(origin);
      const header = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      return header !== '' && (await httpIsLoggedIn(origin, header, signal));
    },
  });
}

/**
 * A GET that is sent again once when a kept-alive connection turns out to be closed by the server as it was
 * reused (browsers do the same for idempotent requests); any other failure is the caller's.
 */
async function get(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (init.signal?.aborted || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET' && code !== 'EPIPE'))
      throw err;
    return fetch(url, init);
  }
}

/** The value of cookie `name` among Set-Cookie headers, as sent back in a Cookie header. */
function cookieFrom(setCookies: readonly string[], name: string): string | undefined {
  for (const header of setCookies) {
    const [pair] = header.split(';', 1);
    const eq = pair?.indexOf('=') ?? -1;
    if (eq > 0 && pair?.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
