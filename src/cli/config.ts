import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuthSessionManager } from '../manager.js';
import { ConfigError } from './exit-codes.js';

/** Config file names looked for in the working directory, in this order. */
export const CONFIG_NAMES = [
  'auth-sessions.config.ts',
  'auth-sessions.config.mts',
  'auth-sessions.config.mjs',
  'auth-sessions.config.js',
  'auth-sessions.config.cjs',
] as const;

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** The config file to load: `--config` (relative to `cwd`), else the first of {@link CONFIG_NAMES} in `cwd`. */
export function findConfig(cwd: string, explicit: string | undefined): string {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new ConfigError(`Config file not found: ${explicit}`);
    }
    return path;
  }
  for (const name of CONFIG_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  throw new ConfigError(
    `No auth-sessions.config.{ts,mjs,js} in ${cwd}. Create one whose default export is your AuthSessionManager ` +
      '(or a function returning it), or pass --config <path>.',
  );
}

/**
 * Loads the config module and returns its manager: the default export (or a `manager` export), which is an
 * `AuthSessionManager` or a function returning one (or a promise of one). TypeScript configs load through
 * tsx (`tsx/esm/api`), which must then be installed in the project.
 */
export async function loadManager(path: string, cwd: string): Promise<AuthSessionManager> {
  const shown = relative(cwd, path) || path;
  let mod: Record<string, unknown>;
  try {
    mod = (await importModule(path, shown)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw configFailure(shown, err);
  }
  let exported: unknown = mod.default ?? mod.manager;
  // A CommonJS or transpiled module seen from ESM: the real export is one level down.
  if (isObject(exported) && !isManager(exported) && 'default' in exported) exported = exported.default;
  if (typeof exported === 'function' && !isManager(exported)) {
    try {
      exported = await (exported as () => unknown)();
    } catch (err) {
      throw configFailure(shown, err);
    }
  }
  if (!isManager(exported)) {
    throw new ConfigError(
      `${shown}: the default export must be an AuthSessionManager, or a function returning one (got ${kindOf(exported)})`,
    );
  }
  return exported as AuthSessionManager;
}

async function importModule(path: string, shown: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  if (!TS_EXTENSIONS.has(extname(path))) return import(url);
  const tsImport = await findTsImport(path);
  if (tsImport) return tsImport(url, { parentURL: url });
  try {
    // Node versions that strip types themselves (22.18+, 23.6+) load it without tsx.
    return await import(url);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') {
      throw new ConfigError(
        `${shown} is TypeScript: install tsx in your project to load it (npm install --save-dev tsx), ` +
          'or write the config as auth-sessions.config.mjs',
      );
    }
    throw err;
  }
}

type TsImport = (specifier: string, options: { parentURL: string }) => Promise<unknown>;

/** tsx's `tsImport`, from the CLI's own dependencies or the config's project; undefined when tsx is absent. */
async function findTsImport(configPath: string): Promise<TsImport | undefined> {
  const specifier = 'tsx/esm/api';
  try {
    const api = (await import(specifier)) as { tsImport?: TsImport };
    if (typeof api.tsImport === 'function') return api.tsImport;
  } catch {
    // Not reachable from here; try from the config's folder below.
  }
  try {
    const api = createRequire(configPath)(specifier) as { tsImport?: TsImport };
    if (typeof api.tsImport === 'function') return api.tsImport;
  } catch {
    // tsx is not installed.
  }
  return undefined;
}

function configFailure(shown: string, err: unknown): ConfigError {
  const message =
    err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return new ConfigError(`Loading ${shown} failed: ${message}`, { cause: err });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Duck typing: the config may load its own copy of the library (another path, tsx), so no instanceof. */
function isManager(value: unknown): boolean {
  if (!isObject(value)) return false;
  return ['get', 'sessions', 'validate', 'delete', 'close'].every((m) => typeof value[m] === 'function');
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object'
    ? `an object with keys ${Object.keys(value).slice(0, 5).join(', ') || '(none)'}`
    : typeof value;
}
