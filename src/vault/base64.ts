/**
 * Encodes bytes as standard, padded base64. Copies through `Buffer.from(bytes)`, never `bytes.buffer`,
 * because a `Uint8Array` may be a view on a larger (pooled) buffer.
 *
 * @example
 * ```ts
 * encodeBase64(new Uint8Array([1, 2, 3])); // 'AQID'
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/**
 * Decodes canonical, padded, standard base64, or returns `undefined` for anything else. `Buffer.from(text,
 * 'base64')` is lenient (it skips unknown characters, accepts the URL alphabet and missing padding, ignores
 * trailing bits), so the decoded bytes are encoded again and must give back exactly `text`. The result is a
 * fresh `Uint8Array` that owns its memory; the intermediate (possibly pooled) buffer is zeroed.
 *
 * @example
 * ```ts
 * decodeBase64('AQID'); // Uint8Array [1, 2, 3]
 * decodeBase64('AQI');  // undefined (missing padding)
 * ```
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  const buffer = Buffer.from(text, 'base64');
  try {
    if (buffer.toString('base64') !== text) return undefined;
    return new Uint8Array(buffer);
  } finally {
    buffer.fill(0);
  }
}
