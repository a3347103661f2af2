import type { AuthSessionError } from '../errors.js';
import { assertKnownOptions, CALL_OPTION_NAMES } from '../option-names.js';
import type { SessionRecord } from '../session/record.js';
import type { SessionState } from '../session/states.js';
import { assertSessionId } from '../session-options.js';
import type { IndexTerm } from '../store/contract.js';
import type { SessionStore } from '../store/session-store.js';

/** A filter for `list`; `N` is the auth names of the manager. */
export interface ListFilter<N extends string = string> {
  /** Only sessions of this auth. */
  readonly auth?: N;
  /** Only sessions in this state (or one of these). */
  readonly state?: SessionState | readonly SessionState[];
  /** Only sessions carrying all of these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** At most this many. */
  readonly limit?: number;
  /**
   * Starts after the session with this id, in the store's listing order: pass the id of the last session of
   * one page to get the next. Skipped sessions are not decoded. Nothing is listed when that session is gone.
   */
  readonly after?: string;
}

/**
 * Streams the records matching a filter (checked first), reading through the store's index by the filter's
 * most selective property; `onSkipped` hears of each record that cannot be read.
 */
export async function* listRecords(
  store: SessionStore,
  filter: ListFilter,
  onSkipped: (id: string, err: AuthSessionError) => void,
): AsyncGenerator<SessionRecord> {
  assertKnownOptions(filter, CALL_OPTION_NAMES.list, 'list(filter)');
  if (filter.after !== undefined) assertSessionId(filter.after, 'list(filter): "after"');
  const states = filter.state === undefined ? undefined : new Set<string>([filter.state].flat());
  const labels = Object.entries(filter.labels ?? {});
  let count = 0;
  // The most selective indexed property of the filter: a label, else one state, else the auth.
  const [label] = labels;
  const term: IndexTerm | undefined = label
    ? { field: 'label', name: label[0], value: label[1] }
    : states?.size === 1
      ? { field: 'state', value: [...states][0]! }
      : filter.auth !== undefined
        ? { field: 'auth', value: filter.auth }
        : undefined;
  for await (const record of store.records(onSkipped, term, filter.after)) {
    if (filter.auth !== undefined && record.auth !== filter.auth) continue;
    if (states && !states.has(record.state)) continue;
    if (labels.some(([k, v]) => record.labels[k] !== v)) continue;
    yield record;
    if (filter.limit !== undefined && ++count >= filter.limit) return;
  }
}
