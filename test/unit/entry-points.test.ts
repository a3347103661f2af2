/**
 * Each entry point must load with only its own optional peers installed: `auth-sessions/postgres` without
 * `@keyv/redis`, the main entry without any of them. Walks the static (runtime) imports of the sources from
 * each entry point and lists the optional peers it reaches. CI installs every peer, so loading the built
 * package there could not tell.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
const optionalPeers = Object.keys(pkg.peerDependenciesMeta).filter(
  (name) => pkg.peerDependenciesMeta[name]?.optional,
);

// `import … from '…'` and `export … from '…'`, over several lines; `import type` / `export type` are erased.
// Also `import('…')` (the entry points load their optional peers that way, to name a missing one clearly).
const STATIC_IMPORT = /^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'|()\bimport\('([^']+)'\)/gms;

/** The packages a source file reaches through its runtime imports, following relative imports. */
function packagesReached(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, typeOnly, fromSpecifier, , dynamicSpecifier] of text.matchAll(STATIC_IMPORT)) {
      const specifier = fromSpecifier ?? dynamicSpecifier;
      if (typeOnly || specifier === undefined) continue;
      if (specifier.startsWith('.')) {
        visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      } else if (!specifier.startsWith('node:')) {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier));
      }
    }
  };
  visit(join(root, 'src', entry));
  return packages;
}

describe('entry points load with their own optional peers only', () => {
  const cases: [string, string[]][] = [
    ['index.ts', []],
    ['testing/index.ts', []],
    ['postgres/index.ts', ['@keyv/postgres']],
    ['redis/index.ts', ['@keyv/redis', 'redis']],
    ['bullmq/index.ts', ['@keyv/redis', 'bullmq', 'redis']],
    // Only types come from @playwright/test: the fixtures load without it.
    ['playwright/index.ts', []],
    ['server/index.ts', []],
  ];
  for (const [entry, allowed] of cases) {
    it(`src/${entry} reaches ${allowed.length ? allowed.join(', ') : 'no optional peer'}`, () => {
      const reached = [...packagesReached(entry)].filter((name) => optionalPeers.includes(name)).sort();
      expect(
        reached.every((name) => allowed.includes(name)),
        reached.join(', '),
      ).toBe(true);
      // The walk itself works: every entry reaches the library's own dependencies (the Playwright fixtures
      // import nothing at run time but the library's own files).
      if (entry !== 'playwright/index.ts') expect(packagesReached(entry).size).toBeGreaterThan(0);
    });
  }
});
