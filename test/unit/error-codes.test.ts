/**
 * docs/errors.md lists every error code, once, and nothing else: parsed from the `AuthSessionErrorCode`
 * union of src/errors.ts and from the table of the page.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function unionCodes(): string[] {
  const source = readFileSync(resolve(ROOT, 'src/errors.ts'), 'utf8');
  const match = /export type AuthSessionErrorCode =([^;]+);/.exec(source);
  if (!match?.[1]) throw new Error('AuthSessionErrorCode not found in src/errors.ts');
  return [...match[1].matchAll(/\|\s*'([A-Z_]+)'/g)].map((m) => m[1] as string);
}

function documentedCodes(): string[] {
  const page = readFileSync(resolve(ROOT, 'docs/errors.md'), 'utf8');
  // One table row per code: | `CODE` | meaning | what to do |
  return page
    .split('\n')
    .map((line) => /^\|\s*`([A-Z_]+)`\s*\|([^|]+)\|([^|]+)\|\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      expect(m[2]?.trim().length, `meaning of ${m[1]}`).toBeGreaterThan(10);
      expect(m[3]?.trim().length, `what to do for ${m[1]}`).toBeGreaterThan(5);
      return m[1] as string;
    });
}

it('docs/errors.md has one row per code of AuthSessionErrorCode, and no other', () => {
  const union = unionCodes();
  const documented = documentedCodes();
  expect(union.length).toBeGreaterThan(20);
  expect(new Set(documented).size, 'a code is documented twice').toBe(documented.length);
  expect([...documented].sort()).toEqual([...union].sort());
});
