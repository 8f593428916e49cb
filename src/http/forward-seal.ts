import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * How a follower vouches for a write it hands to the Lease holder (docs/running-in-a-cluster.md
 * "Replicas"). Every replica derives the same two keys from KIPPER_SECRET_KEY:
 * - the caller's headers (its credentials among them) travel sealed with AES-256-GCM,
 *   never in the clear between pods;
 * - `X-Kipper-Forwarded: v1 t=<ms>,mac=<hex>` is HMAC-SHA256 over the method, the path,
 *   the time, the body's SHA-256, the caller's address and the sealed headers, valid for
 *   FORWARD_WINDOW_MS and once only, so it can be neither forged, altered nor replayed.
 */
export const FORWARDED = 'x-kipper-forwarded';
export const FORWARDED_HEADERS = 'x-kipper-forwarded-headers';
export const FORWARDED_FOR = 'x-kipper-forwarded-for';

/** How far a forwarded request's time may be from the holder's clock. */
export const FORWARD_WINDOW_MS = 30_000;

/** What is signed and sealed: the request as the follower received it. */
export interface ForwardedRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  body: Buffer;
  /** The caller's address (the holder counts failed authorisations by it). */
  from: string;
  headers: Record<string, string | string[]>;
}

export interface ForwardKeys {
  mac: Buffer;
  seal: Buffer;
}

/** The headers that carry `request` to the holder. */
export function signForward(keys: ForwardKeys, request: ForwardedRequest, now = Date.now()): Record<string, string> {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.seal, iv);
  const sealed = Buffer.concat([
    iv,
    cipher.update(JSON.stringify(request.headers), 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ]).toString('base64url');
  const mac = macOf(keys.mac, request, now, sealed);
  return { [FORWARDED]: `v1 t=${now},mac=${mac}`, [FORWARDED_HEADERS]: sealed, [FORWARDED_FOR]: request.from };
}

/** Why a forwarded request is refused, for the log (never the MAC or the headers). */
export type ForwardRefusal = 'malformed' | 'expired' | 'bad mac' | 'replayed';

/**
 * The caller's headers when `headers` (the forwarded ones) vouch for `method url body`;
 * else why not. `seen` remembers accepted MACs for the window (replays are refused).
 */
export function openForward(
  keys: ForwardKeys,
  request: Omit<ForwardedRequest, 'headers' | 'from'>,
  header: { forwarded: string | undefined; sealed: string | undefined; from: string | undefined },
  seen: Map<string, number>,
  now = Date.now(),
): { headers: Record<string, string | string[]>; from: string } | { refused: ForwardRefusal } {
  const m = /^v1 t=(\d{1,15}),mac=([0-9a-f]{64})$/.exec(header.forwarded ?? '');
  if (!m || header.sealed === undefined || header.from === undefined) return { refused: 'malformed' };
  const t = Number(m[1]);
  if (Math.abs(now - t) > FORWARD_WINDOW_MS) return { refused: 'expired' };
  const expected = Buffer.from(macOf(keys.mac, { ...request, from: header.from }, t, header.sealed), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'))) return { refused: 'bad mac' };
  // Oldest first (insertion order): drop the expired ones from the front, not a walk of all.
  for (const [mac, at] of seen) {
    if (now - at <= 2 * FORWARD_WINDOW_MS) break;
    seen.delete(mac);
  }
  if (seen.has(m[2]!)) return { refused: 'replayed' };
  seen.set(m[2]!, now);
  try {
    const raw = Buffer.from(header.sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keys.seal, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const text = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    return { headers: JSON.parse(text) as Record<string, string | string[]>, from: header.from };
  } catch {
    return { refused: 'malformed' };
  }
}

function macOf(key: Buffer, r: Omit<ForwardedRequest, 'headers'>, t: number, sealed: string): string {
  const bodyHash = createHash('sha256').update(r.body).digest('hex');
  return createHmac('sha256', key)
    .update(['v1', r.method.toUpperCase(), r.url, String(t), bodyHash, r.from, sealed].join('\n'))
    .digest('hex');
}
