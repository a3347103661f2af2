import type { Context } from 'hono';
import type { SessionState } from '../session/states.js';
import type { ConsoleEnv, ConsoleRoutes } from './console-routes.js';
import { NOTICES } from './console-routes.js';
import { errorPage, type ListQuery, listPage } from './pages.js';
import { listSessions, parseLabels } from './paging.js';

const PAGE_SIZE = 50;

/** Mounts the sessions list: the page (`/`) and its JSON (`/api/sessions`), with filters and paging. */
export function mountSessionList(r: ConsoleRoutes): void {
  const { app, manager, ctxOf } = r;
  const listQuery = (c: Context<ConsoleEnv>): ListQuery & { cursor?: string } => {
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

  const page = async (c: Context<ConsoleEnv>) => {
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
}
