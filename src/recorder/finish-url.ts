import type { FinishUrl } from '../define.js';
import { AuthSessionError } from '../errors.js';

/**
 * Tells whether a page URL is where the recorder's person is done. Built once per recording from the auth's
 * `finishUrl`; throws `INVALID_OPTIONS` when a predicate throws (a bug in the definition, not a "no").
 *
 * @example
 * ```ts
 * const done: FinishMatcher = finishMatcher('https://portal.example/home', 'https://portal.example/login', 'portal');
 * done('https://portal.example/home?tab=1'); // true
 * ```
 */
export type FinishMatcher = (url: string) => boolean;

/**
 * Makes the matcher of a `finishUrl`:
 * - a string is a URL prefix, compared with the page's full URL (`href`); a relative prefix such as
 *   `'/home'` is resolved against `startUrl` first;
 * - a RegExp is tested against the full URL (its `g`/`y` flags are ignored, so repeated tests agree);
 * - a function receives the parsed `URL` and must return exactly `true`.
 *
 * `about:blank` and URLs that do not parse never match: a tab the browser just opened is not a finish.
 *
 * @example
 * ```ts
 * finishMatcher('/account', 'http://127.0.0.1:3000/login', 'demo')('http://127.0.0.1:3000/account'); // true
 * finishMatcher(/\/account$/, 'http://127.0.0.1:3000/login', 'demo')('http://127.0.0.1:3000/account'); // true
 * finishMatcher((url) => url.pathname === '/account', 'http://127.0.0.1:3000/login', 'demo')('http://127.0.0.1:3000/account'); // true
 * ```
 */
export function finishMatcher(finishUrl: FinishUrl, startUrl: string, authName: string): FinishMatcher {
  if (typeof finishUrl === 'string') {
    const prefix = normalisePrefix(finishUrl, startUrl);
    return (url) => isPageUrl(url) && url.startsWith(prefix);
  }
  if (finishUrl instanceof RegExp) {
    const pattern = new RegExp(finishUrl.source, finishUrl.flags.replace(/[gy]/g, ''));
    return (url) => isPageUrl(url) && pattern.test(url);
  }
  if (typeof finishUrl === 'function') {
    return (url) => {
      if (!isPageUrl(url)) return false;
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return false;
      }
      try {
        return finishUrl(parsed) === true;
      } catch (err) {
        throw new AuthSessionError(
          'INVALID_OPTIONS',
          `The "finishUrl" function of auth "${authName}" threw; it must return true or false`,
          { cause: err },
        );
      }
    };
  }
  throw new AuthSessionError(
    'INVALID_OPTIONS',
    `"finishUrl" of auth "${authName}" must be a URL prefix, a RegExp or a function`,
  );
}

function isPageUrl(url: string): boolean {
  return url !== '' && url !== 'about:blank';
}

/**
 * `HTTP://Portal.Example/home` and `/home` (relative to the start URL) become `http://portal.example/home`, as
 * pages report their URLs. A prefix without a path gets the `/` every page URL has.
 */
function normalisePrefix(prefix: string, startUrl: string): string {
  try {
    return new URL(prefix, startUrl).href;
  } catch {
    return prefix;
  }
}
