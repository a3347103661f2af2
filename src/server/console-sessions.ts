import type { Context } from 'hono';
import { isAuthSessionError } from '../errors.js';
import type { Connect } from './connect/index.js';
import { type ConsoleEnv, type ConsoleRoutes, failureText, NOTICES } from './console-routes.js';
import { credentialsPage, deletePage, errorPage, sessionPage } from './pages.js';

/**
 * Mounts the page of each session and its actions (validate, labels, delete, credentials, record again), as
 * forms and as JSON under `/api/`.
 */
export function mountSessionRoutes(r: ConsoleRoutes, getConnect: () => Connect): void {
  const { app, manager, base, ctxOf } = r;
  const sessionOr404 = async (c: Context<ConsoleEnv>) => {
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
    c: Context<ConsoleEnv>,
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
  const jsonError = (c: Context<ConsoleEnv>, err: unknown) => {
    const code = isAuthSessionError(err) ? err.code : 'ERROR';
    const status = code === 'SESSION_NOT_FOUND' ? 404 : code === 'INVALID_OPTIONS' ? 400 : 409;
    return c.json({ error: { code, message: failureText(err) } }, status);
  };
  const apiSession = async (c: Context<ConsoleEnv>) => {
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
}
