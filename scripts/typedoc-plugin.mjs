// typedoc plugin of auth-sessions: names each entry point by its import name, files every export under a
// category by the folder it lives in (so the reference groups ~100 symbols without a tag on each), and
// leaves the util.inspect hooks out of the reference (they are how objects print, not methods to call).
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

/** Import name of each entry point, by its path under src/. */
const MODULE_NAMES = {
  'index.ts': 'auth-sessions',
  'testing/index.ts': 'auth-sessions/testing',
  'redis/index.ts': 'auth-sessions/redis',
  'postgres/index.ts': 'auth-sessions/postgres',
  'bullmq/index.ts': 'auth-sessions/bullmq',
  'conformance/index.ts': 'auth-sessions/conformance',
  'playwright/index.ts': 'auth-sessions/playwright',
  'server/index.ts': 'auth-sessions/server',
};

/** Category of an export, by where it is declared (first match wins). */
const CATEGORIES = [
  [/^manager(\.ts$|\/)|^operations\//, 'Manager'],
  [/^(define|session-options)\.ts$/, 'Auth definitions'],
  [/^(session|lifecycle)\//, 'Sessions'],
  [/^errors\.ts$/, 'Errors'],
  [/^(store|vault)\/|^(redis|postgres)\/(store|client|pg)/, 'Storage and keys'],
  [/^browser\//, 'Browser'],
  [/^(proxy|device)\.ts$/, 'Proxy and device'],
  [/^recorder\//, 'Recorder'],
  [/^challenges\//, 'Challenges'],
  [/^(queue|bullmq)\//, 'Queues'],
  [/^monitor\//, 'Monitoring'],
  [/^lock\/|^(redis|postgres)\/lock/, 'Locks'],
  [/^clock\.ts$|^testing\/fake-clock/, 'Time'],
  [/^cli\//, 'CLI'],
  [/^testing\//, 'Testing kit'],
  [/^conformance\//, 'Conformance'],
  [/^playwright\//, 'Playwright Test'],
  [/^server\//, 'Web console'],
];

const SRC = `${process.cwd().replaceAll('\\', '/')}/src/`;

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    const file = context
      .getSymbolFromReflection(reflection)
      ?.declarations?.[0]?.getSourceFile()
      .fileName.replaceAll('\\', '/');
    const path = file?.startsWith(SRC) ? file.slice(SRC.length) : undefined;
    if (reflection.kindOf(ReflectionKind.Module)) {
      const name = path && MODULE_NAMES[path];
      if (name) reflection.name = name;
      return;
    }
    if (reflection.name === '[custom]' && reflection.parent?.kindOf(ReflectionKind.ClassOrInterface)) {
      context.project.removeReflection(reflection);
      return;
    }
    if (!path || !reflection.parent?.kindOf(ReflectionKind.Module | ReflectionKind.Project)) return;
    if (reflection.comment?.getTag('@category')) return;
    const category = CATEGORIES.find(([pattern]) => pattern.test(path))?.[1];
    if (!category) return;
    reflection.comment ??= new Comment();
    reflection.comment.blockTags.push(new CommentTag('@category', [{ kind: 'text', text: category }]));
  });
}
