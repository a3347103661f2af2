import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { type Clock, systemClock } from '../clock.js';
import { AuthSessionError, isAuthSessionError } from '../errors.js';
import type { AuthSessionManager } from '../manager.js';
import { assertKnownOptions } from '../option-names.js';
import type { SessionState } from '../session/states.js';
import { CONSOLE_CSS, CONSOLE_JS, uplotAssets } from './assets.js';
import {
  type Connect,
  type ConnectLink,
  type ConnectLinkOptions,
  type ConnectTarget,
  createConnect,
} from './connect/index.js';
import { EventStreams } from './events.js';
import { ConsoleMetrics } from './metrics.js';
import {
  credentialsPage,
  deletePage,
  errorPage,
  type ListQuery,
  listPage,
  operationPage,
  type PageContext,
  sessionPage,
  signInPage,
} from './pages.js';
import { listSessions, parseLabels } from './paging.js';
import {
  type ConsoleSession,
  ConsoleSessions,
  randomToken,
  SECURITY_HEADERS,
  SignInLimiter,
  sameSecret,
} from './security.js';

/**
 * Options of {@link createConsole}.
 *
 * @example
 * ```ts
 * const web = createConsole(manager, { token: process.env.CONSOLE_TOKEN, basePath: '/auth' });
 * ```
 */
export interface ConsoleOptions {
  /**
   * The secret an operator signs in with (`?token=` on any console URL, or the sign-in form). Compared in
   * constant time; never shown by the console. At least 16 characters.
   * @default a random token, readable as {@link WebConsole.token}
   */
  readonly token?: string;
  /** Path the console is served under when mounted in a larger app, e.g. `/auth`. @default '' (the root) */
  readonly basePath?: string;
  /**
   * The console's public origin and path as people reach it (behind a proxy), e.g. `https://ops.example/auth`:
   * connect links are made with it.
   * @default the URL `listen()` serves on
   */
  readonly publicUrl?: string;
  /** Time source of console sessions, the sign-in rate limit, the charts and link expiry. @default the system clock */
  readonly clock?: Clock;
  /**
   * Timeouts of the connect pages' live view: `recordTimeoutMs` bounds a whole recording (default 10
   * minutes), `leaveTimeoutMs` ends one nobody watches any more (default 60 s).
   * @default {}
   */
  readonly connect?: { readonly recordTimeoutMs?: number; readonly leaveTimeoutMs?: number };
}

const CONSOLE_OPTION_NAMES: readonly string[] = Object.keys({
  token: true,
  basePath: true,
  publicUrl: true,
  clock: true,
  connect: true,
} satisfies { readonly [K in keyof Required<ConsoleOptions>]: true });

/** Options of {@link WebConsole.listen}. */
export interface ConsoleListenOptions {
  /** TCP port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Interface to listen on. Anything but a loopback address exposes the console to the network. @default '127.0.0.1' */
  readonly host?: string;
}

/** A console listening on a port. */
export interface ListeningConsole {
  /** The sessions list, e.g. `http://127.0.0.1:4000/` (sign in with the token first, or add `?token=`). */
  readonly url: string;
  /** Stops listening: closes open event streams and connections. */
  close(): Promise<void>;
}

/** The web console of a manager (see {@link createConsole}). */
export interface WebConsole {
  /** A web-standard handler: mount it in Hono, Express (through an adapter), Fastify or `node:http`. */
  fetch(request: Request): Promise<Response>;
  /** Serves the console on a port (Node's HTTP server). */
  listen(options?: ConsoleListenOptions): Promise<ListeningConsole>;
  /** A signed, expiring, single-use link a person opens to log a session in (served under `/connect`). */
  connectLink(target: ConnectTarget, options?: ConnectLinkOptions): Promise<ConnectLink>;
  /** The sign-in token (the one given, or the random one made). Keep it secret. */
  readonly token: string;
  /** Closes every server, event stream and connect page of the console, and stops listening to the manager. */
  close(): Promise<void>;
}

/** Request bodies larger than this are refused with 413. */
export const MAX_BODY_BYTES = 64 * 1024;
const COOKIE = 'auth_sessions_console';
const PAGE_SIZE = 50;
const NOTICES: Readonly<Record<string, string>> = {
  validated: 'Validated: the session is logged in.',
  labels: 'Labels saved.',
  deleted: 'Session deleted.',
};

type Env = { Variables: { session: ConsoleSession } };

function normaliseBasePath(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(basePath) || basePath.includes('//')) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "basePath" must be a path such as "/auth" (letters, digits, "-", "_", ".", "/")',
    );
  }
  return basePath.replace(/\/+$/, '');
}

function publicUrlOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "publicUrl" must be an absolute URL',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "publicUrl" must be http(s)',
    );
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Builds the web console of `manager`: the sessions list with filters and paging, a page per session (history,
 * stats, actions: validate, delete, labels, credentials, record again), live states over Server-Sent Events,
 * charts, and the connect links end users log in through. Operators sign in with `token`.
 *
 * @example
 * ```ts
 * import { createConsole } from 'auth-sessions/server';
 *
 * const web = createConsole(manager, { token: process.env.CONSOLE_TOKEN });
 * const { url } = await web.listen({ port: 4000 });
 * // open `${url}?token=…`; or mount `web.fetch` in your own server
 * const link = await web.connectLink({ auth: 'portal', labels: { customer: 'acme' } }, { ttlMs: 600_000 });
 * ```
 */
export function createConsole(manager: AuthSessionManager, options: ConsoleOptions = {}): WebConsole {
  assertKnownOptions(options, CONSOLE_OPTION_NAMES, 'createConsole(manager, options)');
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
    throw new AuthSessionError(
      'INVALID_OPTIONS',
      'createConsole(manager, options): "token" must be a string of at least 16 characters (e.g. 32 random bytes in base64url)',
    );
  }
  const token = options.token ?? randomToken();
  const base = normaliseBasePath(options.basePath);
  const publicUrl = publicUrlOption(options.publicUrl);
  const clock = options.clock ?? systemClock;
  const sessions = new ConsoleSessions(clock);
  const limiter = new SignInLimiter(clock);
  const metrics = new ConsoleMetrics(manager, clock);
  const streams = new EventStreams(manager);
  const servers = new Set<ListeningConsole>();
  let listeningUrl: string | undefined;
  let closed = false;

  let connect: Connect | undefined;
  let connectApp: Hono | undefined;
  const getConnect = (): Connect => {
    connect ??= createConnect(manager, {
      mountPath: '/connect',
      publicUrl: () => publicUrl ?? listeningUrl,
      clock,
      recordTimeoutMs: options.connect?.recordTimeoutMs,
      leaveTimeoutMs: options.connect?.leaveTimeoutMs,
    });
    return connect;
  };

  const app = new Hono<Env>({ strict: false }).basePath(base);
  const ctxOf = (c: Context<Env>): PageContext => {
    const session = c.get('session') as ConsoleSession | undefined;
    return session === undefined ? { base } : { base, csrf: session.csrf };
  };

  // Security headers on every response (the connect pages may set their own policy).
  app.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    }
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  });

  // Connect links: the link's own token is its authorisation, no console cookie.
  app.all('/connect/*', (c) => {
    connectApp ??= new Hono().route(`${base}/connect`, getConnect().app);
    return connectApp.fetch(c.req.raw, c.env);
  });
  app.all('/connect', (c) => {
    connectApp ??= new Hono().route(`${base}/connect`, getConnect().app);
    return connectApp.fetch(c.req.raw, c.env);
  });

  app.use('*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.text('Request body too large', 413) }));

  // Static assets hold no data: served to anyone (the sign-in page needs them).
  const asset = (c: Context<Env>, body: string, type: string) =>
    c.body(body, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=3600' });
  app.get('/assets/console.css', (c) => asset(c, CONSOLE_CSS, 'text/css; charset=utf-8'));
  app.get('/assets/console.js', (c) => asset(c, CONSOLE_JS, 'text/javascript; charset=utf-8'));
  app.get('/assets/uplot.js', async (c) =>
    asset(c, (await uplotAssets()).js, 'text/javascript; charset=utf-8'),
  );
  app.get('/assets/uplot.css', async (c) => asset(c, (await uplotAssets()).css, 'text/css; charset=utf-8'));

  const clientOf = (c: Context<Env>): string => {
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    return env?.incoming?.socket?.remoteAddress ?? 'any';
  };

  const signIn = async (c: Context<Env>, given: string | undefined): Promise<'ok' | Response> => {
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

  const listQuery = (c: Context<Env>): ListQuery & { cursor?: string } => {
    const pick = (name: string) => {
      const v = c.req.query(name);
      return v === undefined || v === '' ? undefined : v.slice(0, 500);
    };
    const auth = pick('auth');
    const state = pick('state');
    // `labels=customer=acme,tier=gold`, and/or one `label=customer=acme` per label.
    const each = (c.req.queries('label') ?? []).filter((v) => v !== '');
    const joined = [pick('labels'), ...each].filter((v) => v !== undefined).join(',');
    const labels = joined === '' ? undefined : joined.slice(0, 2000);
    const cursor = pick('cursor');
    return {
      ...(auth === undefined ? {} : { auth }),
      ...(state === undefined ? {} : { state }),
      ...(labels === undefined ? {} : { labels }),
      ...(cursor === undefined ? {} : { cursor }),
    };
  };

  const page = async (c: Context<Env>) => {
    const q = listQuery(c);
    if (q.state !== undefined && !['pending', 'active', 'expired', 'failed'].includes(q.state)) {
      return c.html(errorPage(ctxOf(c), 400, 'Unknown state'), 400);
    }
    if (q.auth !== undefined && !manager.authNames.includes(q.auth)) {
      return c.html(errorPage(ctxOf(c), 400, 'Unknown auth'), 400);
    }
    const labels = parseLabels(q.labels);
    if (labels === undefined)
      return c.html(errorPage(ctxOf(c), 400, 'Labels are written name=value, name=value'), 400);
    return listSessions(manager, {
      ...(q.auth === undefined ? {} : { auth: q.auth }),
      ...(q.state === undefined ? {} : { state: q.state as SessionState }),
      labels,
      cursor: q.cursor,
      limit: PAGE_SIZE,
    });
  };

  const queryString = (q: ListQuery, cursor?: string) => {
    const params = new URLSearchParams();
    if (q.auth) params.set('auth', q.auth);
    if (q.state) params.set('state', q.state);
    if (q.labels) params.set('labels', q.labels);
    if (cursor) params.set('cursor', cursor);
    return params.toString();
  };

  app.get('/', async (c) => {
    const result = await page(c);
    if (result instanceof Response) return result;
    const q = listQuery(c);
    const notice = NOTICES[c.req.query('done') ?? ''];
    return c.html(
      listPage(ctxOf(c), {
        query: q,
        authNames: manager.authNames,
        sessions: result.sessions,
        stats: await manager.stats({ sessions: false }),
        ...(result.next === undefined ? {} : { next: queryString(q, result.next) }),
        ...(q.cursor === undefined ? {} : { first: queryString(q) }),
        ...(notice === undefined ? {} : { notice }),
      }),
    );
  });

  app.get('/api/sessions', async (c) => {
    const result = await page(c);
    if (result instanceof Response) return c.json({ error: 'Bad filter' }, 400);
    return c.json(result);
  });

  app.get('/api/metrics', (c) => c.json(metrics.series()));

  app.get('/events', (c) => streams.open(c.req.raw.signal));

  const sessionOr404 = async (c: Context<Env>) => {
    const id = c.req.param('id') ?? '';
    const session =
      id.length > 0 && id.length <= 256 ? await manager.get(id).catch(() => undefined) : undefined;
    if (session === undefined) return c.html(errorPage(ctxOf(c), 404, 'No such session'), 404);
    return session;
  };

  app.get('/api/sessions/:id', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return c.json({ error: 'No such session' }, 404);
    return c.json({ session, history: await manager.history(session.id, { limit: 50 }) });
  });

  const showSession = async (
    c: Context<Env>,
    extra: { notice?: string; error?: string } = {},
    status = 200,
  ) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    const history = await manager.history(session.id, { limit: 50 });
    const notice = extra.notice ?? NOTICES[c.req.query('done') ?? ''];
    return c.html(
      sessionPage(ctxOf(c), {
        session,
        history,
        ...(notice === undefined ? {} : { notice }),
        ...(extra.error === undefined ? {} : { error: extra.error }),
      }),
      status as 200,
    );
  };

  const failureText = (err: unknown) =>
    isAuthSessionError(err) ? `${err.code}: ${err.message}` : 'The action failed (see the server log).';
  const statusOf = (err: unknown) =>
    isAuthSessionError(err) && err.code === 'SESSION_NOT_FOUND' ? 404 : 409;
  const here = (id: string) => `${base}/sessions/${encodeURIComponent(id)}`;

  app.get('/sessions/:id', (c) => showSession(c));

  app.post('/sessions/:id/validate', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    try {
      await manager.validate(session.id);
    } catch (err) {
      return showSession(c, { error: failureText(err) }, statusOf(err));
    }
    return c.redirect(`${here(session.id)}?done=validated`, 303);
  });

  app.post('/sessions/:id/labels', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    const form = await c.req.parseBody();
    const text = typeof form.labels === 'string' ? form.labels : '';
    const labels: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const at = line.indexOf('=');
      if (at <= 0) return showSession(c, { error: 'Labels are written name=value, one per line.' }, 400);
      labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    try {
      await manager.update(session.id, { labels });
    } catch (err) {
      return showSession(
        c,
        { error: failureText(err) },
        isAuthSessionError(err) && err.code === 'INVALID_OPTIONS' ? 400 : statusOf(err),
      );
    }
    return c.redirect(`${here(session.id)}?done=labels`, 303);
  });

  // The same actions for scripts: JSON in and out, the CSRF token in an `x-csrf-token` header.
  const jsonError = (c: Context<Env>, err: unknown) => {
    const code = isAuthSessionError(err) ? err.code : 'ERROR';
    const status = code === 'SESSION_NOT_FOUND' ? 404 : code === 'INVALID_OPTIONS' ? 400 : 409;
    return c.json({ error: { code, message: failureText(err) } }, status);
  };
  const apiSession = async (c: Context<Env>) => {
    const session = await sessionOr404(c);
    return session instanceof Response ? c.json({ error: { code: 'SESSION_NOT_FOUND' } }, 404) : session;
  };
  app.post('/api/sessions/:id/validate', async (c) => {
    const session = await apiSession(c);
    if (session instanceof Response) return session;
    try {
      return c.json({ session: await manager.validate(session.id) });
    } catch (err) {
      return jsonError(c, err);
    }
  });
  app.post('/api/sessions/:id/labels', async (c) => {
    const session = await apiSession(c);
    if (session instanceof Response) return session;
    const body = (await c.req.json().catch(() => undefined)) as { labels?: unknown } | undefined;
    const labels = body?.labels;
    if (
      typeof labels !== 'object' ||
      labels === null ||
      Array.isArray(labels) ||
      Object.values(labels).some((v) => typeof v !== 'string')
    ) {
      return c.json(
        { error: { code: 'INVALID_OPTIONS', message: 'Send { "labels": { "name": "value" } }' } },
        400,
      );
    }
    try {
      return c.json({
        session: await manager.update(session.id, { labels: labels as Record<string, string> }),
      });
    } catch (err) {
      return jsonError(c, err);
    }
  });
  app.delete('/api/sessions/:id', async (c) => {
    const session = await apiSession(c);
    if (session instanceof Response) return session;
    try {
      await manager.delete(session.id);
      return c.body(null, 204);
    } catch (err) {
      return jsonError(c, err);
    }
  });

  app.get('/sessions/:id/delete', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    return c.html(deletePage(ctxOf(c), session));
  });

  app.post('/sessions/:id/delete', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    const form = await c.req.parseBody();
    if (form.confirm !== 'yes') return c.html(deletePage(ctxOf(c), session), 400);
    try {
      await manager.delete(session.id);
    } catch (err) {
      return showSession(c, { error: failureText(err) }, statusOf(err));
    }
    return c.redirect(`${base}/?done=deleted`, 303);
  });

  app.get('/sessions/:id/credentials', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    if (session.type !== 'credentials')
      return c.html(errorPage(ctxOf(c), 400, 'Recorder sessions have no credentials'), 400);
    return c.html(credentialsPage(ctxOf(c), session, manager.describeAuth(session.auth)));
  });

  app.post('/sessions/:id/credentials', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    if (session.type !== 'credentials')
      return c.html(errorPage(ctxOf(c), 400, 'Recorder sessions have no credentials'), 400);
    const auth = manager.describeAuth(session.auth);
    const form = await c.req.parseBody();
    let credentials: unknown;
    if (auth.credentialFields === undefined) {
      try {
        credentials = JSON.parse(typeof form.json === 'string' ? form.json : '');
      } catch {
        return c.html(credentialsPage(ctxOf(c), session, auth, 'The credentials are not valid JSON.'), 400);
      }
    } else {
      const out: Record<string, unknown> = {};
      for (const field of auth.credentialFields) {
        const raw = form[`c.${field.name}`];
        const value = typeof raw === 'string' ? raw : undefined;
        if (field.type === 'boolean') out[field.name] = value !== undefined;
        else if (value === undefined || value === '') continue;
        else if (field.type === 'number' || field.type === 'integer') out[field.name] = Number(value);
        else out[field.name] = value;
      }
      credentials = out;
    }
    try {
      const op = await manager.startUpdate(session.id, { credentials });
      return c.redirect(`${base}/operations/${encodeURIComponent(op.id)}`, 303);
    } catch (err) {
      return c.html(
        credentialsPage(ctxOf(c), session, auth, failureText(err)),
        isAuthSessionError(err) && err.code === 'INVALID_CREDENTIALS' ? 400 : 409,
      );
    }
  });

  app.post('/sessions/:id/record', async (c) => {
    const session = await sessionOr404(c);
    if (session instanceof Response) return session;
    if (session.type !== 'recorder')
      return c.html(errorPage(ctxOf(c), 400, 'Only recorder sessions are recorded'), 400);
    try {
      const link = await getConnect().connectLink(session.id);
      return c.redirect(link.url, 303);
    } catch (err) {
      return showSession(c, { error: failureText(err) }, 409);
    }
  });

  const operationOr404 = async (c: Context<Env>) => {
    const id = c.req.param('op') ?? '';
    const op =
      id.length > 0 && id.length <= 256 ? await manager.operation(id).catch(() => undefined) : undefined;
    if (op === undefined) return c.html(errorPage(ctxOf(c), 404, 'No such login'), 404);
    return op;
  };

  app.get('/operations/:op', async (c) => {
    const op = await operationOr404(c);
    if (op instanceof Response) return op;
    return c.html(operationPage(ctxOf(c), op));
  });

  app.post('/operations/:op/resume', async (c) => {
    const op = await operationOr404(c);
    if (op instanceof Response) return op;
    const form = await c.req.parseBody();
    const answer = typeof form.answer === 'string' ? form.answer : '';
    try {
      await manager.resume(op.id, answer);
    } catch (err) {
      return c.html(operationPage(ctxOf(c), op, failureText(err)), 409);
    }
    return c.redirect(`${base}/operations/${encodeURIComponent(op.id)}`, 303);
  });

  app.notFound((c) => c.html(errorPage(ctxOf(c), 404, 'Not found'), 404));
  app.onError((err, c) => {
    // Never the error's text when it is not the library's own: it may quote a value.
    const status = isAuthSessionError(err) && err.code === 'SESSION_NOT_FOUND' ? 404 : 500;
    return c.html(errorPage(ctxOf(c), status, failureText(err)), status);
  });

  const close = async (): Promise<void> => {
    closed = true;
    await Promise.all([...servers].map((s) => s.close()));
    streams.close();
    metrics.close();
    sessions.clear();
    await connect?.close();
  };

  const web = {
    fetch: async (request: Request) => {
      if (closed) return new Response('The console is closed', { status: 503 });
      return app.fetch(request);
    },
    async listen(listenOptions: ConsoleListenOptions = {}): Promise<ListeningConsole> {
      assertKnownOptions(listenOptions, ['port', 'host'], 'listen(options)');
      if (closed) throw new AuthSessionError('CLOSED', 'The console was closed');
      const host = listenOptions.host ?? '127.0.0.1';
      const port = listenOptions.port ?? 0;
      const server = await new Promise<Server>((resolve, reject) => {
        const s = serve({ fetch: app.fetch, port, hostname: host }) as Server;
        s.once('listening', () => resolve(s));
        s.once('error', reject);
      });
      const address = server.address() as AddressInfo;
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${hostPart}:${address.port}${base}/`;
      listeningUrl ??= url.replace(/\/$/, '');
      let closing: Promise<void> | undefined;
      const listening: ListeningConsole = {
        url,
        close: () => {
          closing ??= new Promise<void>((resolve) => {
            servers.delete(listening);
            streams.close();
            server.close(() => resolve());
            server.closeAllConnections();
          });
          return closing;
        },
      };
      servers.add(listening);
      return listening;
    },
    connectLink: async (target: ConnectTarget, linkOptions?: ConnectLinkOptions) =>
      getConnect().connectLink(target, linkOptions),
    close,
    // The token never shows in logs: not enumerable, and left out of JSON and util.inspect.
    toJSON: () => ({ basePath: base, closed }),
    [inspect.custom]: () => `WebConsole { basePath: ${JSON.stringify(base)}, closed: ${closed} }`,
  };
  Object.defineProperty(web, 'token', { value: token, enumerable: false });
  return web as typeof web & WebConsole;
}
