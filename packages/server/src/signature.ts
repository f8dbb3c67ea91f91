/**
 * HMAC-SHA256 signatures for `POST /process`, with Web Crypto so they work on every
 * runtime (Node, edge, Deno). The signed text is `<timestamp>.<raw body>`; the
 * timestamp is Unix seconds and requests older (or newer) than the tolerance are
 * refused, so a captured request cannot be replayed later.
 */

export const SIGNATURE_HEADER = 'x-jobstream-signature';
export const TIMESTAMP_HEADER = 'x-jobstream-timestamp';
/** @default five minutes */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 5 * 60_000;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = globalThis.crypto.subtle.importKey(
      'raw',
      encoder.encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    keys.set(secret, key);
  }
  return key;
}

function toHex(buffer: ArrayBuffer): string {
  let hex = '';
  for (const byte of new Uint8Array(buffer)) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

function fromHex(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Signs `body` at `timestamp` (Unix seconds); returns the two headers to send. */
export async function signBody(
  secret: string,
  body: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): Promise<Record<string, string>> {
  const mac = await globalThis.crypto.subtle.sign(
    'HMAC',
    await keyFor(secret),
    encoder.encode(`${timestamp}.${body}`),
  );
  return { [SIGNATURE_HEADER]: toHex(mac), [TIMESTAMP_HEADER]: String(timestamp) };
}

/** True when the headers carry a valid signature of `body` made within the tolerance. */
export async function verifyBody(
  secret: string,
  body: string,
  headers: Headers,
  toleranceMs: number = DEFAULT_SIGNATURE_TOLERANCE_MS,
  now: number = Date.now(),
): Promise<boolean> {
  const signature = fromHex(headers.get(SIGNATURE_HEADER) ?? '');
  const timestampText = headers.get(TIMESTAMP_HEADER) ?? '';
  if (!signature || !/^\d{1,12}$/.test(timestampText)) return false;
  const timestamp = Number(timestampText);
  if (Math.abs(now - timestamp * 1000) > toleranceMs) return false;
  // subtle.verify compares in constant time.
  return globalThis.crypto.subtle.verify(
    'HMAC',
    await keyFor(secret),
    signature as Uint8Array<ArrayBuffer>,
    encoder.encode(`${timestamp}.${body}`),
  );
}
