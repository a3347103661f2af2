/**
 * The demo target website: a small but realistic login site (CSRF-protected form, TOTP and e-mailed codes,
 * session lifetime, rolling cookies, password changes, forced logouts, bearer-token sites that keep their
 * token in localStorage, sessionStorage or IndexedDB) used by the demo, examples, end-to-end tests, stress
 * tests and benchmarks. `node:http` only, in-memory, synchronous handlers where possible, logs nothing.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HEAVY_BUNDLES, HEAVY_REQUESTS, heavyBundle, heavyData, heavyPage } from './heavy.js';
import {
  BodyTooLargeError,
  parseCookies,
  parseForm,
  parseJsonObject,
  readBody,
  redirect,
  safeNext,
  sendHtml,
  sendJson,
  serializeCookie,
} from './http.js';
import { DemoModel } from './model.js';
import {
  accountPage,
  codePage,
  devicePage,
  homePage,
  loginPage,
  messagePage,
  passwordChangedPage,
  passwordPage,
  type TokenPlace,
  tokenAccountPage,
  tokenLoginPage,
} from './pages.js';
import type {
  DemoDeviceReport,
  DemoRequestLogEntry,
  DemoSite,
  DemoSiteOptions,
  DemoStats,
  DemoUser,
} from './types.js';

export type { DemoDeviceReport, DemoRequestLogEntry, DemoSite, DemoSiteOptions, DemoStats, DemoUser };

const MAX_REQUESTS = 5000;
const MAX_DEVICE_REPORTS = 1000;
/** Lifetime of the cookie that carries a pending second-factor challenge. */
const CHALLENGE_COOKIE_SECONDS = 600;
const DEFAULT_USERS: readonly DemoUser[] = [{ username: 'alice', password: 'wonderland-42' }];
const TOKEN_PLACES: readonly TokenPlace[] = ['ls', 'ss', 'idb'];

type Cookies = Record<string, string>;

/** Appends to an array kept at most `max` long (trimmed in batches, so appends stay O(1) amortised). */
function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max + 256) list.splice(0, list.length - max);
}

function str(value: unknown, maxLength = 1024): string | undefined {
  return typeof value === 'string' && value.length <= maxLength ? value : undefined;
}

function validateOptions(options: DemoSiteOptions): void {
  const { port, sessionTtlSeconds, now, users } = options;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new RangeError('startDemoSite: `port` must be an integer from 0 to 65535');
  }
  if (sessionTtlSeconds !== undefined && !(Number.isFinite(sessionTtlSeconds) && sessionTtlSeconds > 0)) {
    throw new RangeError('startDemoSite: `sessionTtlSeconds` must be a positive number');
  }
  if (now !== undefined && typeof now !== 'function') {
    throw new TypeError('startDemoSite: `now` must be a function returning milliseconds');
  }
  if (users !== undefined && !Array.isArray(users)) {
    throw new TypeError('startDemoSite: `users` must be an array');
  }
}

function checkTtl(seconds: number): void {
  if (!(Number.isFinite(seconds) && seconds > 0))
    throw new RangeError('session TTL must be a positive number');
}

/**
 * Starts the demo site on a local port and resolves once it listens.
 *
 * @example
 * ```ts
 * const site = await startDemoSite({ sessionTtlSeconds: 60 });
 * const res = await fetch(`${site.url}/login`);
 * console.log(res.status, site.stats().logins); // 200 0
 * await site.close();
 * ```
 */
export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  validateOptions(options);
  const model = new DemoModel({
    now: options.now ?? Date.now,
    ttlSeconds: options.sessionTtlSeconds ?? 3600,
    users: options.users ?? DEFAULT_USERS,
  });
  const requests: DemoRequestLogEntry[] = [];
  const deviceReports: DemoDeviceReport[] = [];

  // ---- cookies -------------------------------------------------------------------------------------------

  const sessionCookie = (sid: string) => serializeCookie('sid', sid, { maxAge: model.ttlSeconds });
  const clearSession = serializeCookie('sid', '', { maxAge: 0 });
  const clearChallenge = serializeCookie('pending', '', { maxAge: 0 });
  // The rolling cookie: a new value on every authenticated page view, readable by page scripts.
  const seenCookie = () =>
    serializeCookie('seen', `${Date.now().toString(36)}.${randomBytes(6).toString('base64url')}`, {
      maxAge: model.ttlSeconds,
      httpOnly: false,
    });

  /** The CSRF cookie value to use, and a Set-Cookie when a new one had to be made. */
  const csrfFor = (cookies: Cookies): { token: string; setCookie: string[] } => {
    const existing = cookies.csrf;
    if (existing && /^[A-Za-z0-9_-]{16,64}$/.test(existing))
      return { token: model.csrfToken(existing), setCookie: [] };
    const fresh = model.newCsrfCookie();
    return { token: model.csrfToken(fresh), setCookie: [serializeCookie('csrf', fresh)] };
  };

  const cookieUser = (cookies: Cookies) => model.liveSession(cookies.sid, 'cookie');

  const bearerOf = (req: IncomingMessage): string | undefined | null => {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match?.[1] ?? null;
  };

  // ---- handlers ------------------------------------------------------------------------------------------

  const forbidden = (res: ServerResponse) =>
    sendHtml(res, 403, messagePage('Forbidden', 'Invalid CSRF token'));
  const notFound = (res: ServerResponse) => sendHtml(res, 404, messagePage('Not found', 'No such page.'));

  const finishLogin = (res: ServerResponse, cookies: Cookies, user: string, next: string) => {
    model.endSession(cookies.sid);
    const sid = model.completeLogin(user, 'cookie');
    redirect(res, next, [sessionCookie(sid), seenCookie(), clearChallenge]);
  };

  const postLogin = (res: ServerResponse, cookies: Cookies, form: Record<string, string>) => {
    if (!model.csrfValid(cookies.csrf, form.csrf)) return forbidden(res);
    const next = safeNext(form.next);
    const username = form.username ?? '';
    const outcome = model.checkPassword(username, form.password ?? '');
    if (!outcome.ok) {
      const { token, setCookie } = csrfFor(cookies);
      const html = loginPage({ csrf: token, next, username, error: 'Invalid username or password' });
      return sendHtml(res, 401, html, setCookie);
    }
    if (outcome.secondFactor === 'none') return finishLogin(res, cookies, outcome.user, next);
    const id = model.startChallenge(outcome.user, outcome.secondFactor, next);
    const cookie = serializeCookie('pending', id, { maxAge: CHALLENGE_COOKIE_SECONDS });
    redirect(res, outcome.secondFactor === 'totp' ? '/otp' : '/email-code', [cookie]);
  };

  const getCode = (res: ServerResponse, cookies: Cookies, kind: 'totp' | 'email') => {
    const challenge = model.challenge(cookies.pending, kind);
    if (!challenge) return redirect(res, '/login', [clearChallenge]);
    const { token, setCookie } = csrfFor(cookies);
    sendHtml(res, 200, codePage({ kind, csrf: token, user: challenge.user }), setCookie);
  };

  const postCode = (res: ServerResponse, cookies: Cookies, kind: 'totp' | 'email', code: string) => {
    const id = cookies.pending;
    const challenge = model.challenge(id, kind);
    if (!id || !challenge) return redirect(res, '/login', [clearChallenge]);
    const outcome = model.answerChallenge(id, challenge, code.trim());
    if (outcome === 'ok') return finishLogin(res, cookies, challenge.user, challenge.next);
    if (outcome === 'locked') return redirect(res, '/login', [clearChallenge]);
    const { token, setCookie } = csrfFor(cookies);
    sendHtml(
      res,
      401,
      codePage({ kind, csrf: token, user: challenge.user, error: 'Invalid code' }),
      setCookie,
    );
  };

  const postPassword = (res: ServerResponse, cookies: Cookies, form: Record<string, string>) => {
    if (!model.csrfValid(cookies.csrf, form.csrf)) return forbidden(res);
    const user = cookieUser(cookies);
    if (!user) return redirect(res, '/login?next=%2Faccount%2Fpassword');
    const { token, setCookie } = csrfFor(cookies);
    if (!model.passwordMatches(user, form.current ?? '')) {
      const html = passwordPage({ csrf: token, user, error: 'Current password is wrong' });
      return sendHtml(res, 401, html, setCookie);
    }
    const next = form.new ?? '';
    if (next.length === 0 || next.length > 1024) {
      const html = passwordPage({ csrf: token, user, error: 'Choose a new password' });
      return sendHtml(res, 400, html, setCookie);
    }
    model.setPassword(user, next);
    sendHtml(res, 200, passwordChangedPage(), [clearSession]);
  };

  const postToken = (res: ServerResponse, body: Record<string, unknown> | undefined) => {
    const username = str(body?.username);
    const password = str(body?.password);
    if (username === undefined || password === undefined) return sendJson(res, 400, { error: 'bad_request' });
    const outcome = model.checkPassword(username, password);
    if (!outcome.ok) return sendJson(res, 401, { error: 'invalid_credentials' });
    if (outcome.secondFactor === 'email') return sendJson(res, 401, { error: 'email_code_unsupported' });
    if (outcome.secondFactor === 'totp') {
      const otp = str(body?.otp, 16);
      if (!otp) {
        model.countChallenge();
        return sendJson(res, 401, { error: 'otp_required' });
      }
      if (!model.verifyTotp(outcome.user, otp.trim())) {
        model.countFailure();
        return sendJson(res, 401, { error: 'invalid_otp' });
      }
    }
    const token = model.completeLogin(outcome.user, 'token');
    sendJson(res, 200, { token, tokenType: 'Bearer', expiresIn: model.ttlSeconds });
  };

  const getMe = (req: IncomingMessage, res: ServerResponse, cookies: Cookies) => {
    const bearer = bearerOf(req);
    // An Authorization header decides alone: a bad token is not rescued by a cookie.
    const user =
      bearer === undefined ? cookieUser(cookies) : bearer ? model.liveSession(bearer, 'token') : undefined;
    if (!user) return sendJson(res, 401, { error: 'unauthorized' });
    sendJson(res, 200, { user });
  };

  const postDevice = (
    req: IncomingMessage,
    res: ServerResponse,
    cookies: Cookies,
    body: Record<string, unknown> | undefined,
  ) => {
    const userAgent = str(body?.userAgent);
    const timezone = str(body?.timezone, 128);
    const language = str(body?.language, 64);
    const width = body?.width;
    const height = body?.height;
    if (
      userAgent === undefined ||
      timezone === undefined ||
      language === undefined ||
      !Number.isInteger(width) ||
      !Number.isInteger(height)
    ) {
      return sendJson(res, 400, { error: 'bad_request' });
    }
    const user = cookieUser(cookies);
    const report: DemoDeviceReport = {
      ...(user ? { user } : {}),
      userAgent,
      headerUserAgent: req.headers['user-agent'] ?? '',
      width: width as number,
      height: height as number,
      timezone,
      language,
      at: Date.now(),
    };
    pushBounded(deviceReports, report, MAX_DEVICE_REPORTS);
    sendJson(res, 200, { ok: true });
  };

  // ---- admin ---------------------------------------------------------------------------------------------

  const addUserFrom = (body: Record<string, unknown> | undefined): DemoUser | undefined => {
    const username = str(body?.username, 256);
    const password = str(body?.password);
    const totpSecret = body?.totpSecret === undefined ? undefined : str(body.totpSecret, 256);
    const emailCode = body?.emailCode;
    if (!username || password === undefined) return undefined;
    if (body?.totpSecret !== undefined && totpSecret === undefined) return undefined;
    if (emailCode !== undefined && typeof emailCode !== 'boolean') return undefined;
    return { username, password, ...(totpSecret ? { totpSecret } : {}), ...(emailCode ? { emailCode } : {}) };
  };

  const adminPost = (res: ServerResponse, path: string, body: Record<string, unknown> | undefined) => {
    switch (path) {
      case '/__admin/reset':
        model.resetStats();
        return sendJson(res, 200, { ok: true });
      case '/__admin/logout-all':
        model.logoutAll();
        return sendJson(res, 200, { ok: true });
      case '/__admin/expire':
        model.expireAll();
        return sendJson(res, 200, { ok: true });
      case '/__admin/password': {
        const username = str(body?.username, 256);
        const password = str(body?.password);
        if (!username || password === undefined) return sendJson(res, 400, { error: 'bad_request' });
        if (!model.setPassword(username, password)) return sendJson(res, 404, { error: 'unknown_user' });
        return sendJson(res, 200, { ok: true });
      }
      case '/__admin/ttl': {
        const seconds = body?.seconds;
        if (typeof seconds !== 'number' || !(Number.isFinite(seconds) && seconds > 0)) {
          return sendJson(res, 400, { error: 'bad_request' });
        }
        model.ttlSeconds = seconds;
        return sendJson(res, 200, { ok: true });
      }
      case '/__admin/users': {
        const user = addUserFrom(body);
        if (!user) return sendJson(res, 400, { error: 'bad_request' });
        model.addUser(user);
        return sendJson(res, 201, { ok: true });
      }
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
  };

  // ---- routing -------------------------------------------------------------------------------------------

  /** Routes needing a body: read it (bounded), then answer. */
  const withBody = (res: ServerResponse, req: IncomingMessage, answer: (body: string) => void): void => {
    readBody(req).then(answer, (err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof BodyTooLargeError) {
        res.setHeader('connection', 'close');
        sendHtml(res, 413, messagePage('Too large', 'Request body too large.'));
      } else {
        res.destroy();
      }
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const method = req.method ?? 'GET';
    if (!path.startsWith('/__admin/')) {
      const h = req.headers;
      const via = h.via ?? h.forwarded ?? h['x-forwarded-for'];
      pushBounded(
        requests,
        {
          method,
          path,
          userAgent: h['user-agent'] ?? '',
          ...(via ? { via: Array.isArray(via) ? via.join(', ') : via } : {}),
          at: Date.now(),
        },
        MAX_REQUESTS,
      );
    }
    const cookies = parseCookies(req.headers.cookie);

    if (method === 'GET') {
      switch (path) {
        case '/':
          return sendHtml(res, 200, homePage(cookieUser(cookies)));
        case '/login': {
          const { token, setCookie } = csrfFor(cookies);
          return sendHtml(res, 200, loginPage({ csrf: token, next: safeNext(query.get('next')) }), setCookie);
        }
        case '/otp':
          return getCode(res, cookies, 'totp');
        case '/email-code':
          return getCode(res, cookies, 'email');
        case '/account': {
          const user = cookieUser(cookies);
          if (!user) return redirect(res, '/login?next=%2Faccount');
          return sendHtml(res, 200, accountPage(user), [seenCookie()]);
        }
        case '/account/password': {
          const user = cookieUser(cookies);
          if (!user) return redirect(res, '/login?next=%2Faccount%2Fpassword');
          const { token, setCookie } = csrfFor(cookies);
          return sendHtml(res, 200, passwordPage({ csrf: token, user }), [...setCookie, seenCookie()]);
        }
        case '/logout':
          model.endSession(cookies.sid);
          return redirect(res, '/login', [clearSession]);
        case '/device':
          return sendHtml(res, 200, devicePage(), cookieUser(cookies) ? [seenCookie()] : []);
        case '/heavy': {
          const user = cookieUser(cookies);
          if (!user) return redirect(res, '/login?next=%2Fheavy');
          return sendHtml(res, 200, heavyPage(user));
        }
        case '/api/me':
          return getMe(req, res, cookies);
        case '/__admin/stats':
          return sendJson(res, 200, model.stats());
        case '/__admin/inbox': {
          const user = query.get('user') ?? '';
          const mail = model.lastEmailCode(user);
          return sendJson(res, 200, { user, code: mail?.code ?? null, at: mail?.at ?? null });
        }
        case '/__admin/requests':
          return sendJson(res, 200, { requests: requests.slice(-MAX_REQUESTS) });
        case '/__admin/devices':
          return sendJson(res, 200, { devices: deviceReports.slice(-MAX_DEVICE_REPORTS) });
      }
      const heavy = /^\/heavy\/(app|data)-(\d+)\.(js|json)$/.exec(path);
      if (heavy) {
        const index = Number(heavy[2]);
        if (heavy[1] === 'app' && heavy[3] === 'js' && index < HEAVY_BUNDLES) {
          // Cacheable, like a real app's hashed bundles.
          const body = heavyBundle(index);
          res.writeHead(200, {
            'content-type': 'text/javascript; charset=utf-8',
            'content-length': Buffer.byteLength(body),
            'cache-control': 'public, max-age=3600, immutable',
          });
          return res.end(body);
        }
        if (heavy[1] === 'data' && heavy[3] === 'json' && index < HEAVY_REQUESTS) {
          if (!cookieUser(cookies)) return sendJson(res, 401, { error: 'not signed in' });
          return sendJson(res, 200, heavyData(index));
        }
      }
      for (const place of TOKEN_PLACES) {
        if (path === `/${place}/login`) return sendHtml(res, 200, tokenLoginPage(place));
        if (path === `/${place}/account`) return sendHtml(res, 200, tokenAccountPage(place));
      }
      return notFound(res);
    }

    if (method === 'POST') {
      switch (path) {
        case '/login':
          return withBody(res, req, (body) => postLogin(res, cookies, parseForm(body)));
        case '/otp':
          return withBody(res, req, (body) => {
            const form = parseForm(body);
            if (!model.csrfValid(cookies.csrf, form.csrf)) return forbidden(res);
            postCode(res, cookies, 'totp', form.otp ?? '');
          });
        case '/email-code':
          return withBody(res, req, (body) => {
            const form = parseForm(body);
            if (!model.csrfValid(cookies.csrf, form.csrf)) return forbidden(res);
            postCode(res, cookies, 'email', form.code ?? '');
          });
        case '/account/password':
          return withBody(res, req, (body) => postPassword(res, cookies, parseForm(body)));
        case '/logout':
          model.endSession(cookies.sid);
          req.resume();
          return redirect(res, '/login', [clearSession]);
        case '/api/token':
          return withBody(res, req, (body) => postToken(res, parseJsonObject(body)));
        case '/api/logout': {
          req.resume();
          const bearer = bearerOf(req);
          // Only a token ends here: a bearer naming a cookie session is ignored.
          if (bearer && model.liveSession(bearer, 'token')) model.endSession(bearer);
          return sendJson(res, 200, { ok: true });
        }
        case '/api/device':
          return withBody(res, req, (body) => postDevice(req, res, cookies, parseJsonObject(body)));
      }
      if (path.startsWith('/__admin/')) {
        return withBody(res, req, (body) =>
          adminPost(res, path, body.length > 0 ? parseJsonObject(body) : undefined),
        );
      }
      req.resume();
      return notFound(res);
    }

    if (method === 'DELETE' && path === '/__admin/requests') {
      requests.length = 0;
      return sendJson(res, 200, { ok: true });
    }
    req.resume();
    return notFound(res);
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch {
      // Never a stack trace on the wire or in a log: a plain 500.
      if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
      else res.destroy();
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  // A wildcard bind is reached through loopback; the URL names an address a client can dial.
  const bound = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const host = bound.includes(':') ? `[${bound}]` : bound;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${host}:${address.port}`,
    stats: () => model.stats(),
    resetStats: () => model.resetStats(),
    addUser: (user) => model.addUser(user),
    setPassword: (username, password) => {
      if (!model.setPassword(username, password)) throw new Error('setPassword: unknown user');
    },
    logoutAll: () => model.logoutAll(),
    setSessionTtl: (seconds) => {
      checkTtl(seconds);
      model.ttlSeconds = seconds;
    },
    expireAllSessions: () => model.expireAll(),
    lastEmailCode: (username) => model.lastEmailCode(username)?.code,
    get requests() {
      return requests.slice(-MAX_REQUESTS);
    },
    clearRequests: () => {
      requests.length = 0;
    },
    get deviceReports() {
      return deviceReports.slice(-MAX_DEVICE_REPORTS);
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  } satisfies DemoSite;
}
