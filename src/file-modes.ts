import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

/** Where notices about file modes go when the caller gives nothing. */
export function defaultNotice(message: string): void {
  process.emitWarning(message, { type: 'AuthSessionsWarning' });
}

/** Paths already warned about in this process: one notice per path, however many managers open it. */
const warned = new Set<string>();

function warnOnce(path: string, message: string, notice: (message: string) => void): void {
  if (warned.has(path)) return;
  warned.add(path);
  notice(message);
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes sure `dir` exists: created (with its missing parents) mode 0700 when missing; when it exists and
 * group or others may read or enter it, one notice saying how to restrict it. Nothing is checked on Windows,
 * whose permissions are not modes.
 *
 * @example
 * ```ts
 * ensurePrivateDir('.auth-sessions', (m) => logger.warn(m));
 * ```
 */
export function ensurePrivateDir(dir: string, notice: (message: string) => void = defaultNotice): void {
  const mode = modeOf(dir);
  if (mode === undefined) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    warnOnce(
      dir,
      `auth-sessions: the data folder ${dir} is open to other users (mode ${mode.toString(8)}); ` +
        `restrict it with: chmod 700 '${dir}'`,
      notice,
    );
  }
}

/**
 * Makes sure `file` exists: created empty, mode 0600, when missing (so a store that then opens it never
 * makes it with the process's default mode, typically 0644); when it exists and group or others may read
 * it, one notice saying how to restrict it.
 *
 * @example
 * ```ts
 * ensurePrivateFile('.auth-sessions/sessions.sqlite');
 * ```
 */
export function ensurePrivateFile(file: string, notice: (message: string) => void = defaultNotice): void {
  const mode = modeOf(file);
  if (mode === undefined) {
    closeSync(openSync(file, 'a', 0o600));
    if (process.platform !== 'win32') chmodSync(file, 0o600);
    return;
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    warnOnce(
      file,
      `auth-sessions: the session store ${file} is readable by other users (mode ${mode.toString(8)}); ` +
        `restrict it with: chmod 600 '${file}'`,
      notice,
    );
  }
}
