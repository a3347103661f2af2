import type { ProxySettings } from '../browser/provider.js';
import { type BrowserState, browserStateSchema, stateFingerprint } from '../browser/state.js';
import { AuthSessionError } from '../errors.js';
import { rememberRecent } from '../recent.js';
import type { SessionRecord } from '../session/record.js';
import type { Keyring } from '../vault/keyring.js';

/** The secret fields of a record. */
export type SealedField = 'credentials' | 'state' | 'proxy';

/**
 * Seals and opens the secret fields of records with the keyring. Opened browser states are cached per
 * record id and box, so a run that reads the same revision twice decrypts once.
 */
export class SessionCodec {
  readonly #keyring: Keyring;
  readonly #stateCache = new Map<string, { box: string; state: BrowserState }>();
  /** Fingerprints by state object: the opened state of a session is compared after every run. */
  readonly #fingerprints = new WeakMap<BrowserState, string>();
  readonly #cacheBytes: number;

  /** `cacheBytes`: approximate bytes the cache of opened states may hold (default 32 MiB). */
  constructor(keyring: Keyring, options: { readonly cacheBytes?: number } = {}) {
    this.#keyring = keyring;
    this.#cacheBytes = options.cacheBytes ?? 32 * 1024 * 1024;
  }

  get keyring(): Keyring {
    return this.#keyring;
  }

  seal(id: string, field: SealedField, value: unknown) {
    return this.#keyring.seal(id, field, value);
  }

  /** The decrypted credentials (validated by the caller's schema). */
  credentials(record: SessionRecord): unknown {
    if (!record.sealed.credentials) {
      throw new AuthSessionError('CORRUPT_RECORD', `Session "${record.id}" has no stored credentials`, {
        sessionId: record.id,
      });
    }
    return this.#keyring.open(record.id, 'credentials', record.sealed.credentials);
  }

  /** The decrypted browser state, or undefined when none was saved yet. */
  state(record: SessionRecord): BrowserState | undefined {
    const envelope = record.sealed.state;
    if (!envelope) return undefined;
    const cached = this.#stateCache.get(record.id);
    if (cached && cached.box === envelope.box) return cached.state;
    const parsed = browserStateSchema.safeParse(this.#keyring.open(record.id, 'state', envelope));
    if (!parsed.success) {
      throw new AuthSessionError(
        'CORRUPT_RECORD',
        `The stored browser state of session "${record.id}" has an unknown shape`,
        {
          sessionId: record.id,
        },
      );
    }
    this.#remember(record.id, envelope.box, parsed.data);
    return parsed.data;
  }

  /** Seals a browser state and remembers it as the opened state of the new box. */
  sealState(id: string, state: BrowserState) {
    const envelope = this.#keyring.seal(id, 'state', state);
    this.#remember(id, envelope.box, state);
    return envelope;
  }

  /**
   * A canonical text of a state (cookies and origins in a fixed order), to tell "unchanged" after a run without
   * re-sealing. Computed once per state object (states are never mutated once opened, captured or sealed).
   */
  fingerprint(state: BrowserState | undefined): string {
    if (state === undefined) return '';
    let fingerprint = this.#fingerprints.get(state);
    if (fingerprint === undefined) {
      fingerprint = stateFingerprint(state);
      this.#fingerprints.set(state, fingerprint);
    }
    return fingerprint;
  }

  /** The full proxy settings (with password), or undefined. */
  proxy(record: SessionRecord): ProxySettings | undefined {
    if (!record.sealed.proxy) return undefined;
    return this.#keyring.open(record.id, 'proxy', record.sealed.proxy) as ProxySettings;
  }

  forget(id: string): void {
    this.#stateCache.delete(id);
  }

  #remember(id: string, box: string, state: BrowserState): void {
    // Bounded: a cache of the most recently used states, not of every session ever seen, and not more bytes
    // than allowed (an opened state is counted as twice its sealed box, which is base64 of the sealed JSON).
    rememberRecent(
      this.#stateCache,
      id,
      { box, state },
      { max: 1000, maxBytes: this.#cacheBytes, sizeOf: (entry) => entry.box.length * 2 },
    );
  }
}
