import { z } from 'zod';

const nameValue = z.object({ name: z.string(), value: z.string() }).strict();

const cookieSchema = z
  .object({
    name: z.string(),
    value: z.string(),
    domain: z.string(),
    path: z.string(),
    expires: z.number(),
    httpOnly: z.boolean(),
    secure: z.boolean(),
    sameSite: z.enum(['Strict', 'Lax', 'None']),
    partitionKey: z.string().optional(),
  })
  // Playwright adds browser-internal fields to some cookies (e.g. `_crHasCrossSiteAncestor`): keep them.
  .loose();

const originSchema = z
  .object({
    origin: z.string().url(),
    localStorage: z.array(nameValue),
    // Playwright's IndexedDB snapshot format is internal to Playwright: kept as it is and handed back.
    indexedDB: z.array(z.unknown()).optional(),
  })
  .loose();

const sessionStorageSchema = z.object({ origin: z.string().url(), items: z.array(nameValue) }).strict();

/**
 * Zod schema of {@link BrowserState}: Playwright's `storageState` JSON plus a `sessionStorage` extension.
 * Used on import and on every read from storage.
 */
export const browserStateSchema = z
  .object({
    cookies: z.array(cookieSchema),
    origins: z.array(originSchema),
    sessionStorage: z.array(sessionStorageSchema).optional(),
  })
  .strict();

/**
 * The full browser state of a session: Playwright's storageState (cookies, localStorage and IndexedDB per
 * origin) and, as an extension, sessionStorage per origin. Secret: it lets anyone act as the user.
 */
export type BrowserState = z.infer<typeof browserStateSchema>;

/** A cookie of a {@link BrowserState}. */
export type StateCookie = BrowserState['cookies'][number];

/**
 * Stable serialisation, so an unchanged state is recognised as such and not re-sealed. Ordered by code units:
 * `localeCompare` costs tens of microseconds per comparison and showed as the largest item of a run's own
 * CPU time.
 */
export function stateFingerprint(state: BrowserState | undefined): string {
  if (state === undefined) return '';
  const cookies = [...state.cookies].sort((a, b) =>
    byCodeUnits(`${a.domain}\0${a.path}\0${a.name}`, `${b.domain}\0${b.path}\0${b.name}`),
  );
  const origins = [...state.origins].sort((a, b) => byCodeUnits(a.origin, b.origin));
  const session = [...(state.sessionStorage ?? [])].sort((a, b) => byCodeUnits(a.origin, b.origin));
  return JSON.stringify([cookies, origins, session]);
}

/** Orders strings by UTF-16 code units: fast, and the same everywhere (no locale). */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
