import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering of src/ (docs/architecture.md): the session model at the bottom, operations and the
// lifecycle above it, features beside them; no two folders import each other.

const SRC = join(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The folder of src/ a file is in ('.' for the files at the top). */
function folderOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : '.';
}

function folderImports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const to = folderOf(normalize(join(dirname(file), match[1]!)));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
  }
  return graph;
}

describe('layering of src/', () => {
  it('no two folders import each other', () => {
    const graph = folderImports();
    const pairs: string[] = [];
    for (const [a, targets] of graph) {
      for (const b of targets) {
        if (a !== '.' && b !== '.' && a < b && graph.get(b)?.has(a)) pairs.push(`${a} <-> ${b}`);
      }
    }
    expect(pairs).toEqual([]);
  });

  it('the session model imports no feature: it is the bottom layer', () => {
    const uses = [...(folderImports().get('session') ?? [])].sort();
    expect(uses.filter((f) => !['.', 'vault'].includes(f))).toEqual([]);
  });
});
