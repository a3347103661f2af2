import { SessionCodec } from '../lifecycle/codec.js';
import { DEFAULT_DATA_DIR } from '../store/default-store.js';
import type { SessionStore } from '../store/session-store.js';
import { resolveKeyring } from '../vault/key-source.js';
import type { Keyring } from '../vault/keyring.js';
import { type AuthSessionManagerOptions, DEFAULT_CACHE_BYTES } from './options.js';

/** The options of the manager the codec is made from (read on first use). */
export type CodecOptions = Pick<AuthSessionManagerOptions, 'key' | 'dataDir' | 'onNotice' | 'cacheBytes'>;

/**
 * The manager's session codec, made on first use: resolving the key may read the store (and write a new
 * key's check to it), so it waits until a call needs it. A failed resolution is retried on the next call.
 */
export class LazyCodec {
  readonly #options: CodecOptions;
  readonly #store: SessionStore;
  #codec: Promise<SessionCodec> | undefined;

  constructor(options: CodecOptions, store: SessionStore) {
    this.#options = options;
    this.#store = store;
  }

  /** The codec, its key resolved on the first call. */
  get(): Promise<SessionCodec> {
    if (!this.#codec) {
      const codec = resolveKeyring(this.#options.key, {
        meta: { get: (k) => this.#store.getMeta(k), set: (k, v) => this.#store.setMeta(k, v) },
        hasSessions: () => this.#store.hasRecords(),
        dataDir: this.#options.dataDir ?? DEFAULT_DATA_DIR,
        ...(this.#options.onNotice ? { notice: this.#options.onNotice } : {}),
      }).then(
        (keyring: Keyring) =>
          new SessionCodec(keyring, {
            cacheBytes: Math.floor((this.#options.cacheBytes ?? DEFAULT_CACHE_BYTES) / 2),
          }),
      );
      this.#codec = codec;
      // A failed key resolution (e.g. the store was down) is retried on the next call.
      codec.catch(() => {
        if (this.#codec === codec) this.#codec = undefined;
      });
    }
    return this.#codec;
  }

  /** Destroys the keyring, once resolved (if ever). */
  destroy(): void {
    this.#codec?.then(
      (c) => c.keyring.destroy(),
      () => {},
    );
  }
}
