import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { systemClock } from '../../clock.js';
import { durationOption } from '../../duration.js';
import { AuthSessionError } from '../../errors.js';
import type { AuthSessionManager } from '../../manager.js';
import { managerInternals } from '../../manager-internals.js';
import type { AuthDescription } from '../../monitor/describe-auth.js';
import { assertKnownOptions } from '../../option-names.js';
import { CONNECT_CSS, LIVE_VIEW_JS } from './assets.js';
import {
  type Connect,
  type ConnectLinkOptions,
  type ConnectOptions,
  DEFAULT_LINK_TTL_MS,
  MAX_BODY_BYTES,
  MAX_LINK_TTL_MS,
  MAX_VISIT_MS,
  VISIT_COOKIE,
} from './connect-options.js';
import { CredentialsFlow } from './credentials-flow.js';
import {
  deriveToken,
  LINK_KEY_INFO,
  type LinkPayload,
  MAX_TOKEN_CHARS,
  sameSecret,
  signLink,
  verifyLink,
} from './link-token.js';
import {
  connectedPage,
  credentialsPage,
  inputPage,
  livePage,
  type PageLink,
  recorderStartPage,
  refusedPage,
  workingPage,
} from './pages.js';
import { type RecorderEvent, RecorderFlow } from './recorder-flow.js';
import { linkTarget, liveInput, normaliseMountPath, readCredentials, requestPath } from './request-input.js';
import { securityHeaders } from './security-headers.js';
import { UsedLinks, type Visit } from './used-links.js';
import { UsedMarks, visitDigest } from './used-marks.js';

export {
  type Connect,
  type ConnectLink,
  type ConnectLinkOptions,
  type ConnectOptions,
  type ConnectTarget,
  DEFAULT_LINK_TTL_MS,
  MAX_BODY_BYTES,
} from './connect-options.js';

const LINK_OPTION_NAMES: readonly string[] = Object.keys({ ttlMs: true } satisfies {
  readonly [K in keyof Required<ConnectLinkOptions>]: true;
});

type Flow = CredentialsFlow | RecorderFlow;

/** A link that checked out: what it says, its page values, and its visit when it was used. */
interface Resolved {
  readonly payload: LinkPayload;
  readonly page: PageLink;
  /** The link keys it was checked with (a CSRF token made with any of them is the link's). */
  readonly keys: readonly Uint8Array[];
  /** The path of the link itself (the page), whatever route the request came to. */
  readonly path: string;
  readonly visit?: Visit<Flow>;
}

/**
 * Builds the connect pages for `manager` (internal: `createConsole` mounts them).
 *
 * A link is `<publicUrl><mountPath>/<token>`, the token being what it connects and until when, with an
 * HMAC-SHA256 under a key derived from the manager's key (HKDF, {@link LINK_KEY_INFO}): every process with
 * the same key checks it, before and after a restart. Its single use is a mark in the manager's store, made
 * by compare-and-set; the visit it starts runs in the process that won the mark (see
 * `docs/connect-links.md`).
 *
 * @example
 * ```ts
 * const connect = createConnect(manager, { mountPath: '/connect', publicUrl: () => 'https://ops.example' });
 * app.route('/connect', connect.app);
 * const { url } = await connect.connectLink({ auth: 'crm', labels: { customer: 'acme' } }, { ttlMs: 600_000 });
 * ```
 */
export function createConnect(manager: AuthSessionManager, options: ConnectOptions): Connect {
  const clock = options.clock ?? systemClock;
  const recordTimeoutMs = durationOption(options.recordTimeoutMs, 'recordTimeoutMs') ?? 10 * 60_000;
  const leaveTimeoutMs = durationOption(options.leaveTimeoutMs, 'leaveTimeoutMs') ?? 60_000;
  const mountPath = normaliseMountPath(options.mountPath);
  const internals = managerInternals(manager);
  // The link keys (current first): derived from the manager's key, never written, logged or sent anywhere.
  const linkKeys = async (): Promise<readonly Uint8Array[]> =>
    (await internals.keyring()).purposeKeys(LINK_KEY_INFO);
  const marks = new UsedMarks(internals.store);
  /** Names this console in the marks of the links it won (which process runs their visits). */
  const instance = randomUUID();
  const used = new UsedLinks(MAX_VISIT_MS);
  let closed = false;

  /**
   * The link's path as the person's browser sees it (from `publicUrl`, so a proxy that strips a prefix does
   * not break the cookie's scope or the redirects).
   */
  const publicPath = (token: string): string | undefined => {
    const base = options.publicUrl();
    if (!base) return undefined;
    try {
      return `${new URL(base).pathname.replace(/\/+$/, '')}${mountPath}/${token}`;
    } catch {
      return undefined;
    }
  };

  const prune = () => {
    void Promise.allSettled(used.prune(clock.now()));
  };

  const describeTarget = async (
    payload: LinkPayload,
  ): Promise<{ description: AuthDescription; sessionId?: string } | undefined> => {
    try {
      if ('s' in payload.t) {
        const info = await manager.get(payload.t.s);
        if (!info) return undefined;
        return { description: manager.describeAuth(info.auth), sessionId: info.id };
      }
      return { description: manager.describeAuth(payload.t.a) };
    } catch (err) {
      if (
        err instanceof AuthSessionError &&
        (err.code === 'UNKNOWN_AUTH' || err.code === 'SESSION_NOT_FOUND')
      ) {
        return undefined;
      }
      throw err;
    }
  };

  const newFlow = (payload: LinkPayload, description: AuthDescription, sessionId?: string): Flow => {
    const labels = 'a' in payload.t ? payload.t.l : undefined;
    if (description.type === 'recorder') {
      return new RecorderFlow(
        manager,
        sessionId
          ? { kind: 'update', auth: description.name, sessionId }
          : { kind: 'create', auth: description.name, ...(labels ? { labels } : {}) },
        clock,
        { timeoutMs: recordTimeoutMs, leaveMs: leaveTimeoutMs },
      );
    }
    return new CredentialsFlow(
      manager,
      sessionId
        ? { kind: 'update', auth: description.name, sessionId }
        : { kind: 'create', auth: description.name, ...(labels ? { labels } : {}) },
    );
  };

  const refuse = (c: Context, message: string, status: 403 | 404 | 409 | 410 = 403) =>
    c.html(refusedPage(message), status);

  const usedAlready = (c: Context) => refuse(c, 'This link has been used already. Ask for a new one.');

  /**
   * Checks the link of a request: signature (constant time), then its visit (the browser that used it,
   * here, or its mark in the store when the visit runs elsewhere) or, for a link not used yet, its expiry.
   */
  const resolve = async (c: Context, pathEnd: 0 | 1): Promise<Resolved | Response> => {
    if (closed) return refuse(c, 'This service is shutting down. Try again later.');
    prune();
    const token = c.req.param('token') ?? '';
    const keys = await linkKeys();
    const payload = verifyLink(keys, token);
    if (!payload) return refuse(c, 'This link is not valid. Ask for a new one.');
    const path = publicPath(token) ?? requestPath(c.req.path, pathEnd);
    const page: PageLink = { token, csrf: deriveToken(keys[0]!, 'csrf', payload.n) };
    const cookie = getCookie(c, VISIT_COOKIE);
    if (used.has(payload.n)) {
      const visit = used.visit(payload.n, clock.now()) as Visit<Flow> | undefined;
      if (visit && sameSecret(cookie, visit.cookie)) return { payload, page, keys, path, visit };
      return usedAlready(c);
    }
    // Not used here: the store says whether it was used elsewhere (or before a restart).
    const mark = await marks.read(payload.n);
    if (mark !== undefined) {
      if (
        mark !== 'foreign' &&
        mark.by !== instance &&
        cookie &&
        sameSecret(visitDigest(cookie), mark.visit)
      ) {
        return refuse(
          c,
          'This link is in use in this browser, but its visit runs on another server of this service, or ' +
            'was interrupted by a restart. Ask for a new link if this persists.',
          409,
        );
      }
      return usedAlready(c);
    }
    if (payload.e <= clock.now()) return refuse(c, 'This link has expired. Ask for a new one.');
    return { payload, page, keys, path };
  };

  /**
   * Uses the link for this browser: creates its mark in the store (compare-and-set: one winner across every
   * process), then records the visit here and binds it to the browser with a cookie. Undefined when it lost
   * the race (or the console closed meanwhile); `flow` is made only for the winner.
   */
  const claim = async (c: Context, link: Resolved, flow: () => Flow): Promise<Visit<Flow> | undefined> => {
    if (used.has(link.payload.n)) return undefined;
    const cookie = randomBytes(32).toString('base64url');
    const now = clock.now();
    const won = await marks.claim(
      link.payload.n,
      {
        v: 1,
        by: instance,
        visit: visitDigest(cookie),
        at: now,
        until: Math.max(link.payload.e, now) + MAX_VISIT_MS,
      },
      now,
    );
    if (!won || closed) return undefined;
    const visit = used.claim(link.payload.n, link.payload.e, () => ({
      cookie,
      startedAt: now,
      flow: flow(),
    }));
    if (!visit) return undefined;
    setCookie(c, VISIT_COOKIE, cookie, {
      path: link.path,
      httpOnly: true,
      sameSite: 'Lax',
      // Behind a proxy that ends TLS the request itself is plain HTTP: the public URL tells.
      secure: new URL(c.req.url).protocol === 'https:' || /^https:/i.test(options.publicUrl() ?? ''),
      maxAge: MAX_VISIT_MS / 1000,
    });
    return visit as Visit<Flow>;
  };

  /** The answer to a request that did not get the link: someone else used it first, or the console closed. */
  const refuseLost = (c: Context) =>
    closed ? refuse(c, 'This service is shutting down. Try again later.') : usedAlready(c);

  // Any key of the ring: a page served before a key rotation still posts.
  const csrfOk = (link: Resolved, given: unknown): boolean =>
    typeof given === 'string' &&
    link.keys.some((key) => sameSecret(given, deriveToken(key, 'csrf', link.payload.n)));

  const app = new Hono();
  app.use('*', securityHeaders);
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.text('The request body is too large.', 413),
    }),
  );
  app.onError((_err, c) => c.text('Something went wrong on the server. Try again later.', 500));
  app.notFound((c) => c.text('Not found.', 404));

  app.get('/assets/connect.css', (c) => {
    c.header('content-type', 'text/css; charset=utf-8');
    c.header('cache-control', 'public, max-age=3600');
    return c.body(CONNECT_CSS);
  });
  app.get('/assets/live-view.js', (c) => {
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header('cache-control', 'public, max-age=3600');
    return c.body(LIVE_VIEW_JS);
  });

  app.get('/:token', async (c) => {
    const link = await resolve(c, 0);
    if (link instanceof Response) return link;
    const flow = link.visit?.flow;
    if (flow instanceof CredentialsFlow) {
      const auth = authOf(link.payload, flow);
      const view = await flow.view();
      switch (view.step) {
        case 'working':
          return c.html(workingPage(auth));
        case 'input':
          return c.html(inputPage(link.page, auth, view.request, view.error));
        case 'connected':
          return c.html(connectedPage(auth));
        default: {
          const target = await describeTarget(link.payload);
          return c.html(credentialsPage(link.page, auth, target?.description.credentialFields, view.error));
        }
      }
    }
    if (flow instanceof RecorderFlow) return c.html(livePage(link.page, authOf(link.payload, flow)));
    const target = await describeTarget(link.payload);
    if (!target) return refuse(c, 'The account this link was made for no longer exists.', 410);
    const { description } = target;
    if (description.type === 'recorder') return c.html(recorderStartPage(link.page, description.name));
    return c.html(credentialsPage(link.page, description.name, description.credentialFields));
  });

  app.post('/:token/credentials', async (c) => {
    const link = await resolve(c, 1);
    if (link instanceof Response) return link;
    const body = await c.req.parseBody();
    if (!csrfOk(link, body.csrf)) return refuse(c, 'This form has expired. Open the link again.');
    let flow = link.visit?.flow;
    let description: AuthDescription | undefined;
    if (!flow) {
      const target = await describeTarget(link.payload);
      if (!target) return refuse(c, 'The account this link was made for no longer exists.', 410);
      description = target.description;
      if (description.type !== 'credentials') return refuse(c, 'This link does not take credentials.');
      flow = (await claim(c, link, () => newFlow(link.payload, target.description, target.sessionId)))?.flow;
      if (!flow) return refuseLost(c);
    } else if (flow instanceof CredentialsFlow) {
      description = (await describeTarget(link.payload))?.description;
    }
    if (!(flow instanceof CredentialsFlow) || !description) {
      return refuse(c, 'This link does not take credentials.');
    }
    const credentials = readCredentials(body, description);
    if (credentials instanceof Error) flow.fail(credentials.message);
    else await flow.submit(credentials);
    return c.redirect(link.path, 303);
  });

  app.post('/:token/answer', async (c) => {
    const link = await resolve(c, 1);
    if (link instanceof Response) return link;
    const body = await c.req.parseBody();
    if (!csrfOk(link, body.csrf)) return refuse(c, 'This form has expired. Open the link again.');
    const flow = link.visit?.flow;
    if (!(flow instanceof CredentialsFlow)) return refuse(c, 'Nothing waits for an answer on this link.');
    const input = typeof body.input === 'string' ? body.input.trim() : '';
    const requestId = typeof body.request === 'string' ? body.request : undefined;
    if (input.length > 0 && input.length <= 1024) await flow.answer(input, requestId);
    return c.redirect(link.path, 303);
  });

  app.post('/:token/start', async (c) => {
    const link = await resolve(c, 1);
    if (link instanceof Response) return link;
    const body = await c.req.parseBody();
    if (!csrfOk(link, body.csrf)) return refuse(c, 'This form has expired. Open the link again.');
    let flow = link.visit?.flow;
    if (!flow) {
      const target = await describeTarget(link.payload);
      if (!target) return refuse(c, 'The account this link was made for no longer exists.', 410);
      if (target.description.type !== 'recorder') return refuse(c, 'This link does not open a live view.');
      flow = (await claim(c, link, () => newFlow(link.payload, target.description, target.sessionId)))?.flow;
      if (!flow) return refuseLost(c);
    }
    if (!(flow instanceof RecorderFlow)) return refuse(c, 'This link does not open a live view.');
    flow.start();
    return c.redirect(link.path, 303);
  });

  app.get('/:token/frames', async (c) => {
    const link = await resolve(c, 1);
    if (link instanceof Response) return link;
    const flow = link.visit?.flow;
    if (!(flow instanceof RecorderFlow)) return refuse(c, 'This link has no live view.');
    c.header('cache-control', 'no-store');
    return streamSSE(c, async (stream) => {
      await new Promise<void>((done) => {
        // One write at a time; while one is on its way, only the newest picture waits (a slow reader gets
        // fewer pictures, never a growing backlog).
        let writing = false;
        let waiting: RecorderEvent | undefined;
        const statusQueue: RecorderEvent[] = [];
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          unsubscribe();
          done();
        };
        const pump = async () => {
          if (writing) return;
          writing = true;
          try {
            for (;;) {
              const next = statusQueue.shift() ?? waiting;
              if (!next) break;
              if (next === waiting) waiting = undefined;
              await stream.writeSSE(toSse(next));
              if (
                next.type === 'status' &&
                (next.status.step === 'connected' || next.status.step === 'idle')
              ) {
                end();
                return;
              }
            }
          } catch {
            end();
          } finally {
            writing = false;
          }
        };
        const unsubscribe = flow.subscribe((event) => {
          if (ended) return;
          if (event.type === 'frame') waiting = event;
          else statusQueue.push(event);
          void pump();
        });
        stream.onAbort(end);
        if (closed) end();
      });
    });
  });

  app.post('/:token/input', async (c) => {
    const link = await resolve(c, 1);
    if (link instanceof Response) return link;
    if (!csrfOk(link, c.req.header('x-csrf-token'))) return c.text('Missing or wrong CSRF token.', 403);
    const flow = link.visit?.flow;
    if (!(flow instanceof RecorderFlow)) return c.text('This link has no live view.', 403);
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return c.text('The body must be JSON.', 400);
    }
    const parsed = liveInput.safeParse(json);
    if (!parsed.success) return c.text('Not an input event.', 400);
    const event = parsed.data;
    if (event.type === 'click') await flow.click(event.x, event.y).catch(() => {});
    else if (event.type === 'key') await flow.key(event.key, event).catch(() => {});
    else await flow.text(event.text).catch(() => {});
    return c.body(null, 204);
  });

  return {
    app,
    async connectLink(target, linkOptions = {}) {
      if (closed) throw new AuthSessionError('CLOSED', 'The connect pages were closed');
      if (typeof linkOptions !== 'object' || linkOptions === null) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          'connectLink(target, options): options must be an object',
        );
      }
      assertKnownOptions(linkOptions, LINK_OPTION_NAMES, 'connectLink(target, options)');
      const ttlMs = durationOption(linkOptions.ttlMs, 'ttlMs') ?? DEFAULT_LINK_TTL_MS;
      if (ttlMs > MAX_LINK_TTL_MS) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `connectLink: "ttlMs" must be at most ${MAX_LINK_TTL_MS} (a week), got ${ttlMs}`,
        );
      }
      const base = options.publicUrl();
      if (!base) {
        throw new AuthSessionError(
          'INVALID_STATE',
          'connectLink needs the console\'s public URL: pass "publicUrl" to createConsole, or call listen() first',
        );
      }
      const t = await linkTarget(manager, target);
      const [key] = await linkKeys();
      prune();
      const expiresAt = clock.now() + ttlMs;
      const token = signLink(key!, { n: randomBytes(16).toString('base64url'), e: expiresAt, t });
      if (token.length > MAX_TOKEN_CHARS) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          'connectLink: the labels are too long to fit in a link',
        );
      }
      return {
        url: `${base.replace(/\/+$/, '')}${mountPath}/${token}`,
        expiresAt: new Date(expiresAt).toISOString(),
      };
    },
    async close() {
      closed = true;
      await used.close();
    },
  };
}

function authOf(payload: LinkPayload, flow: Flow): string {
  return 'a' in payload.t ? payload.t.a : flow.auth;
}

function toSse(event: RecorderEvent): { event: string; data: string } {
  if (event.type === 'frame') return { event: 'frame', data: JSON.stringify(event.frame) };
  return { event: 'status', data: JSON.stringify(event.status) };
}
