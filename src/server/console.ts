import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { systemClock } from '../clock.js';
import { AuthSessionError, isAuthSessionError } from '../errors.js';
import type { AuthSessionManager } from '../manager.js';
import { assertKnownOptions } from '../option-names.js';
import { CONSOLE_CSS, CONSOLE_JS, uplotAssets } from './assets.js';
import {
  type Connect,
  type ConnectLink,
  type ConnectLinkOptions,
  type ConnectTarget,
  createConnect,
} from './connect/index.js';
import { mountSessionList } from './console-list.js';
import { mountOperationRoutes } from './console-operations.js';
import { type ConsoleOptions, checkConsoleOptions } from './console-options.js';
import { type ConsoleEnv, type ConsoleRoutes, failureText } from './console-routes.js';
import { mountSessionRoutes } from './console-sessions.js';
import { mountSignIn } from './console-sign-in.js';
import { EventStreams } from './events.js';
import { ConsoleMetrics } from './metrics.js';
import { errorPage, type PageContext } from './pages.js';
import { type ConsoleSession, ConsoleSessions, SECURITY_HEADERS, SignInLimiter } from './security.js';

export type { ConsoleOptions } from './console-options.js';

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
  const { token, base, publicUrl } = checkConsoleOptions(options);
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

  const app = new Hono<ConsoleEnv>({ strict: false }).basePath(base);
  const ctxOf = (c: Context<ConsoleEnv>): PageContext => {
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
  const asset = (c: Context<ConsoleEnv>, body: string, type: string) =>
    c.body(body, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=3600' });
  app.get('/assets/console.css', (c) => asset(c, CONSOLE_CSS, 'text/css; charset=utf-8'));
  app.get('/assets/console.js', (c) => asset(c, CONSOLE_JS, 'text/javascript; charset=utf-8'));
  app.get('/assets/uplot.js', async (c) =>
    asset(c, (await uplotAssets()).js, 'text/javascript; charset=utf-8'),
  );
  app.get('/assets/uplot.css', async (c) => asset(c, (await uplotAssets()).css, 'text/css; charset=utf-8'));

  const routes: ConsoleRoutes = { app, manager, base, ctxOf };
  mountSignIn(routes, { token, sessions, limiter });
  mountSessionList(routes);

  app.get('/api/metrics', (c) => c.json(metrics.series()));

  app.get('/events', (c) => streams.open(c.req.raw.signal));

  mountSessionRoutes(routes, getConnect);
  mountOperationRoutes(routes);

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
