import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthSessionError } from '../../src/errors.js';
import {
  KEY_ENV_VAR,
  type KeyInput,
  type MetaStore,
  OWASP_SCRYPT_PARAMS,
  type ResolveKeyringDeps,
  resolveKeyring,
} from '../../src/vault/key-source.js';
import { keyCheckValue } from '../../src/vault/keyring.js';
import { rejection } from '../shared.js';

const MAKE_KEY = `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;
// Cheap parameters so tests stay fast; the OWASP default runs once below.
const FAST = { N: 2 ** 10, r: 8, p: 1 };

class MemoryMeta implements MetaStore {
  readonly map = new Map<string, unknown>();
  async get(key: string): Promise<unknown> {
    return structuredClone(this.map.get(key));
  }
  async set(key: string, value: unknown): Promise<void> {
    this.map.set(key, structuredClone(value));
  }
}

let dir: string;
let meta: MemoryMeta;
let notices: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-ks-'));
  meta = new MemoryMeta();
  notices = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function deps(extra: Partial<ResolveKeyringDeps> = {}): ResolveKeyringDeps {
  return {
    meta,
    env: {},
    dataDir: join(dir, 'data'),
    notice: (m) => notices.push(m),
    scryptParams: FAST,
    ...extra,
  };
}

const rawKey = (): Uint8Array => new Uint8Array(randomBytes(32));
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

describe('raw keys', () => {
  it('accepts base64, base64url without padding, surrounding whitespace and Uint8Array', async () => {
    const raw = rawKey();
    const inputs: KeyInput[] = [
      b64(raw),
      ` ${b64(raw)}\n`,
      Buffer.from(raw).toString('base64url'),
      raw,
      { current: b64(raw) },
    ];
    for (const input of inputs) {
      const ring = await resolveKeyring(input, deps());
      expect(ring.currentKid).toBe(keyCheckValue(raw));
    }
    expect(notices).toEqual([]);
  });

  it('rejects malformed keys with INVALID_OPTIONS, a fix, and never the key text', async () => {
    const secretish = [
      b64(new Uint8Array(randomBytes(31))),
      b64(new Uint8Array(randomBytes(33))),
      Buffer.from(randomBytes(32)).toString('hex'),
      'correct horse battery staple secret',
      'AAAA$BBBB',
      '   ',
    ];
    for (const text of secretish) {
      for (const [input, env] of [
        [text, {}],
        [undefined, { [KEY_ENV_VAR]: text }],
        [{ current: rawKey(), previous: [text] }, {}],
      ] as const) {
        const err = await rejection(resolveKeyring(input, deps({ env })));
        expect(err.code).toBe('INVALID_OPTIONS');
        expect(err.message).toContain(MAKE_KEY);
        if (text.trim() !== '') expect(err.message).not.toContain(text.trim());
        expect(JSON.stringify(err)).not.toContain(text.trim() || '\u0000');
      }
    }
  });

  it('names the source and the problem', async () => {
    const short = await rejection(resolveKeyring(b64(new Uint8Array(16)), deps()));
    expect(short.message).toMatch(/option `key`.*16 bytes/);
    const env = await rejection(resolveKeyring(undefined, deps({ env: { [KEY_ENV_VAR]: 'zz' } })));
    expect(env.message).toContain(KEY_ENV_VAR);
    const prev = await rejection(resolveKeyring({ current: rawKey(), previous: [rawKey(), 'x!'] }, deps()));
    expect(prev.message).toContain('key.previous[1]');
    expect(prev.message).toContain('not valid base64');
  });

  it('rejects Uint8Arrays of the wrong length and unsupported shapes', async () => {
    const bad: unknown[] = [
      new Uint8Array(16),
      42,
      null,
      [],
      {},
      { passphrase: 'long enough passphrase', keyFile: '/x' },
    ];
    for (const input of bad) {
      const err = await rejection(resolveKeyring(input as KeyInput, deps()));
      expect(err.code).toBe('INVALID_OPTIONS');
    }
  });

  it('uses AUTH_SESSIONS_KEY when no key is given, and creates no key file', async () => {
    const raw = rawKey();
    const ring = await resolveKeyring(undefined, deps({ env: { [KEY_ENV_VAR]: b64(raw) } }));
    expect(ring.currentKid).toBe(keyCheckValue(raw));
    await expect(stat(join(dir, 'data'))).rejects.toThrow();
    expect(notices).toEqual([]);
  });

  it('prefers an explicit key over AUTH_SESSIONS_KEY', async () => {
    const explicit = rawKey();
    const ring = await resolveKeyring(explicit, deps({ env: { [KEY_ENV_VAR]: b64(rawKey()) } }));
    expect(ring.currentKid).toBe(keyCheckValue(explicit));
  });
});

describe('key files', () => {
  it('creates <dataDir>/key with mode 0600 (dir 0700), notices once, and reuses it', async () => {
    const first = await resolveKeyring(undefined, deps());
    const path = join(dir, 'data', 'key');
    const info = await stat(path);
    expect(info.mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'data'))).mode & 0o777).toBe(0o700);
    const content = await readFile(path, 'utf8');
    expect(content).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);

    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain(path);
    expect(notices[0]).toMatch(/lost/);
    expect(notices[0]).not.toContain(content.trim());

    const envelope = first.seal('r', 'f', { ok: true });
    const second = await resolveKeyring(undefined, deps());
    expect(second.currentKid).toBe(first.currentKid);
    expect(second.open('r', 'f', envelope)).toEqual({ ok: true });
    expect(notices).toHaveLength(1);
  });

  it('concurrent first resolutions agree on one key', async () => {
    const rings = await Promise.all([1, 2, 3, 4].map(() => resolveKeyring(undefined, deps())));
    expect(new Set(rings.map((r) => r.currentKid)).size).toBe(1);
    expect(notices).toHaveLength(1);
  });

  it('reads an explicit keyFile and warns when others can read it', async () => {
    const raw = rawKey();
    const path = join(dir, 'my.key');
    await writeFile(path, `${b64(raw)}\n`, { mode: 0o644 });
    const ring = await resolveKeyring({ keyFile: path }, deps());
    expect(ring.currentKid).toBe(keyCheckValue(raw));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('chmod 600');
    expect(notices[0]).not.toContain(b64(raw));
  });

  it('fails clearly when an explicit keyFile is missing or holds a bad key', async () => {
    const missing = await rejection(resolveKeyring({ keyFile: join(dir, 'absent.key') }, deps()));
    expect(missing.code).toBe('INVALID_OPTIONS');
    expect(missing.message).toContain('does not exist');
    expect(missing.message).toContain('absent.key');

    const badPath = join(dir, 'bad.key');
    await writeFile(badPath, 'not-a-key-at-all', { mode: 0o600 });
    const bad = await rejection(resolveKeyring({ keyFile: badPath }, deps()));
    expect(bad.code).toBe('INVALID_OPTIONS');
    expect(bad.message).not.toContain('not-a-key-at-all');

    const dirPath = await rejection(resolveKeyring({ keyFile: dir }, deps()));
    expect(dirPath.code).toBe('INVALID_OPTIONS');
  });
});

describe('passphrases', () => {
  const passphrase = 'correct horse battery staple';

  it('stores salt and parameters under kdf:pass; the same passphrase opens, another cannot', async () => {
    const first = await resolveKeyring({ passphrase }, deps());
    expect(first.currentKid).toBe('pass');
    const stored = meta.map.get('kdf:pass') as Record<string, unknown>;
    expect(stored).toMatchObject({ v: 1, alg: 'scrypt', N: FAST.N, r: 8, p: 1, keylen: 32 });
    expect(Buffer.from(stored.salt as string, 'base64')).toHaveLength(16);
    expect(JSON.stringify(stored)).not.toContain('horse');

    const envelope = first.seal('sess', 'credentials', { password: 'x' });

    // Later resolutions read the stored parameters, whatever the (weaker) override says.
    const again = await resolveKeyring({ passphrase }, deps({ scryptParams: { N: 2 ** 10, r: 4, p: 1 } }));
    expect(again.open('sess', 'credentials', envelope)).toEqual({ password: 'x' });
    expect(meta.map.get('kdf:pass')).toEqual(stored);

    // Another passphrase is told at once (the stored settings carry a check value), before it seals anything.
    const other = await rejection(resolveKeyring({ passphrase: 'a different passphrase' }, deps()));
    expect(other.code).toBe('KEY_MISMATCH');
    expect(other.message).not.toContain('different passphrase');
  });

  it('creates no key file when the store already holds sessions (they were sealed with another key)', async () => {
    const err = await rejection(resolveKeyring(undefined, deps({ hasSessions: async () => true })));
    expect(err.code).toBe('KEY_MISMATCH');
    expect(existsSync(join(dir, 'data', 'key'))).toBe(false);
  });

  it('refuses stored settings weaker than its own minimum, and a missing salt while sessions exist', async () => {
    await resolveKeyring({ passphrase }, deps());
    const stored = meta.map.get('kdf:pass') as Record<string, unknown>;
    // An attacker with write access to the store lowers the cost: refused, nothing derived with it.
    meta.map.set('kdf:pass', { ...stored, N: 2 ** 10, r: 1, check: undefined });
    const weak = await rejection(resolveKeyring({ passphrase }, deps()));
    expect(weak.code).toBe('CORRUPT_RECORD');
    expect(weak.message).toContain('weaker');
    // Deleting the settings does not make a new salt (a new key) over sessions sealed with the old one.
    meta.map.delete('kdf:pass');
    const missing = await rejection(resolveKeyring({ passphrase }, deps({ hasSessions: async () => true })));
    expect(missing.code).toBe('KEY_MISMATCH');
    expect(meta.map.has('kdf:pass')).toBe(false);
  });

  it('uses the given kid for the key id and the salt record', async () => {
    const ring = await resolveKeyring({ passphrase, kid: 'team-a' }, deps());
    expect(ring.currentKid).toBe('team-a');
    expect(meta.map.has('kdf:team-a')).toBe(true);
    expect(meta.map.has('kdf:pass')).toBe(false);
  });

  it('rotates from an old passphrase to a new one through a keyring', async () => {
    const old = await resolveKeyring({ passphrase }, deps());
    const oldBox = old.seal('r', 'f', 'old');
    const ring = await resolveKeyring(
      { current: { passphrase: 'the brand new passphrase', kid: 'pass-2' }, previous: [{ passphrase }] },
      deps(),
    );
    expect(ring.kids).toEqual(['pass-2', 'pass']);
    expect(ring.open('r', 'f', oldBox)).toBe('old');
    expect(ring.isCurrent(oldBox)).toBe(false);
    expect(ring.isCurrent(ring.seal('r', 'f', 'new'))).toBe(true);
  });

  it('rejects two different passphrases sharing a kid', async () => {
    const err = await rejection(
      resolveKeyring(
        { current: { passphrase }, previous: [{ passphrase: 'another long passphrase' }] },
        deps(),
      ),
    );
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.message).toContain('kid');
  });

  it('rejects short passphrases and bad kids without echoing them', async () => {
    const short = await rejection(resolveKeyring({ passphrase: 'short-pw123' }, deps()));
    expect(short.code).toBe('INVALID_OPTIONS');
    expect(short.message).toContain('12');
    expect(short.message).not.toContain('short-pw123');
    // 12 code points (emoji count once each) is enough.
    await expect(resolveKeyring({ passphrase: '🔑'.repeat(12) }, deps())).resolves.toBeDefined();
    const badKid = await rejection(resolveKeyring({ passphrase, kid: 'has space' }, deps()));
    expect(badKid.code).toBe('INVALID_OPTIONS');
    expect(meta.map.size).toBe(1);
  });

  it('treats a malformed salt record as CORRUPT_RECORD', async () => {
    const valid = { v: 1, alg: 'scrypt', salt: b64(new Uint8Array(16)), N: 1024, r: 8, p: 1, keylen: 32 };
    const corrupt: unknown[] = [
      'garbage',
      { ...valid, v: 2 },
      { ...valid, salt: 'short' },
      { ...valid, N: 1000 },
      { ...valid, N: 2 ** 30 },
      { ...valid, r: 32, N: 2 ** 20 },
      { ...valid, keylen: 64 },
      { ...valid, extra: true },
      JSON.parse(`${JSON.stringify(valid).slice(0, -1)},"__proto__":{"polluted":true}}`),
    ];
    for (const value of corrupt) {
      meta.map.set('kdf:pass', value);
      const err = await rejection(resolveKeyring({ passphrase }, deps()));
      expect(err.code).toBe('CORRUPT_RECORD');
    }
    meta.map.set('kdf:pass', valid);
    await expect(resolveKeyring({ passphrase }, deps())).resolves.toBeDefined();
  });

  it('surfaces store failures as STORAGE_UNAVAILABLE', async () => {
    const failing: MetaStore = {
      get: async () => {
        throw new Error('ECONNREFUSED');
      },
      set: async () => undefined,
    };
    const err = await rejection(resolveKeyring({ passphrase }, deps({ meta: failing })));
    expect(err.code).toBe('STORAGE_UNAVAILABLE');
    const typed = new AuthSessionError('STORAGE_UNAVAILABLE', 'down');
    const passthrough = await rejection(
      resolveKeyring(
        { passphrase },
        deps({ meta: { get: () => Promise.reject(typed), set: async () => undefined } }),
      ),
    );
    expect(passthrough).toBe(typed);
  });

  it('rejects out-of-range scrypt overrides', async () => {
    const err = await rejection(
      resolveKeyring({ passphrase }, deps({ scryptParams: { N: 1000, r: 8, p: 1 } })),
    );
    expect(err.code).toBe('INVALID_OPTIONS');
  });

  it('uses OWASP parameters (N=2^17, r=8, p=1) by default', async () => {
    const { scryptParams: _omit, ...defaults } = deps();
    const ring = await resolveKeyring({ passphrase }, defaults);
    expect(OWASP_SCRYPT_PARAMS).toEqual({ N: 2 ** 17, r: 8, p: 1 });
    expect(meta.map.get('kdf:pass')).toMatchObject({ N: 2 ** 17, r: 8, p: 1, keylen: 32 });
    const envelope = ring.seal('r', 'f', 'owasp');
    const again = await resolveKeyring({ passphrase }, defaults);
    expect(again.open('r', 'f', envelope)).toBe('owasp');
  });
});
