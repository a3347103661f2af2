import type { Context } from 'hono';
import { type ConsoleEnv, type ConsoleRoutes, failureText } from './console-routes.js';
import { errorPage, operationPage } from './pages.js';

/** Mounts the page of a login under way (`/operations/:op`) and its answer form. */
export function mountOperationRoutes(r: ConsoleRoutes): void {
  const { app, manager, base, ctxOf } = r;
  const operationOr404 = async (c: Context<ConsoleEnv>) => {
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
}
