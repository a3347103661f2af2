import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { ConsoleEnv, ConsoleRoutes } from './console-routes.js';
import { errorPage, signInPage } from './pages.js';
import { type ConsoleSessions, type SignInLimiter, sameSecret } from './security.js';

const COOKIE = 'auth_sessions_console';

/** What signing in checks and opens. */
export interface SignIn {
  /** The operators' token. */
  readonly token: string;
  readonly sessions: ConsoleSessions;
  readonly limiter: SignInLimiter;
}

/**
 * Mounts the sign-in and sign-out routes and the guard that every route mounted after it sits behind: a
 * console session (cookie) for all, and its CSRF token for anything but GET and HEAD.
 */
export function mountSignIn(r: ConsoleRoutes, { token, sessions, limiter }: SignIn): void {
  const { app, base } = r;
  const clientOf = (c: Context<ConsoleEnv>): string => {
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    return env?.incoming?.socket?.remoteAddress ?? 'any';
  };

  const signIn = async (c: Context<ConsoleEnv>, given: string | undefined): Promise<'ok' | Response> => {
    const client = clientOf(c);
    const wait = limiter.retryAfterMs(client);
    if (wait > 0) {
      c.header('Retry-After', String(Math.ceil(wait / 1000)));
      return c.html(signInPage({ base }, 'Too many failed sign-ins: wait a minute and try again.'), 429);
    }
    if (given === undefined || given.length > 1024 || !sameSecret(given, token)) {
      limiter.fail(client);
      return c.html(signInPage({ base }, 'That token is not right.'), 401);
    }
    const { id } = sessions.open();
    setCookie(c, COOKIE, id, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: new URL(c.req.url).protocol === 'https:',
      path: base === '' ? '/' : base,
    });
    return 'ok';
  };

  app.get('/sign-in', (c) => c.html(signInPage({ base })));
  app.post('/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const given = typeof form.token === 'string' ? form.token : undefined;
    const outcome = await signIn(c, given);
    return outcome === 'ok' ? c.redirect(`${base}/`, 303) : outcome;
  });

  // Everything below needs a signed-in browser.
  app.use('*', async (c, next) => {
    const url = new URL(c.req.url);
    const given = url.searchParams.get('token');
    if (given !== null && c.req.method === 'GET') {
      const outcome = await signIn(c, given);
      if (outcome !== 'ok') return outcome;
      url.searchParams.delete('token');
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    const session = sessions.get(getCookie(c, COOKIE));
    if (session === undefined) {
      const wantsHtml = !c.req.path.startsWith(`${base}/api/`) && !c.req.path.startsWith(`${base}/events`);
      if (wantsHtml) return c.html(signInPage({ base }), 401);
      return c.json({ error: 'Sign in to the console first' }, 401);
    }
    c.set('session', session);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const header = c.req.header('x-csrf-token');
      let sent = header;
      if (sent === undefined) {
        const type = c.req.header('content-type') ?? '';
        if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
          const form = await c.req.parseBody();
          sent = typeof form._csrf === 'string' ? form._csrf : undefined;
        }
      }
      if (sent === undefined || !sameSecret(sent, session.csrf)) {
        return c.html(
          errorPage({ base }, 403, 'Missing or wrong CSRF token: reload the page and try again.'),
          403,
        );
      }
    }
    await next();
  });

  app.post('/sign-out', (c) => {
    sessions.close(getCookie(c, COOKIE));
    deleteCookie(c, COOKIE, { path: base === '' ? '/' : base });
    return c.redirect(`${base}/sign-in`, 303);
  });
}
