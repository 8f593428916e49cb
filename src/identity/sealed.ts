import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) for what a cookie carries that the browser must
 * neither read nor change: the provider's tokens of a console session, a sign-in's PKCE
 * verifier. The key is derived from the console's session key per `purpose`, so a value
 * sealed for one purpose never opens as another.
 */
export class Sealer {
  private readonly key: Buffer;

  constructor(sessionKey: Buffer, purpose: string) {
    this.key = createHmac('sha256', sessionKey).update(`kipper seal: ${purpose}`).digest();
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The value sealed, or undefined for anything this sealer did not seal. */
  open<T>(text: string | undefined): T | undefined {
    if (!text) return undefined;
    try {
      const raw = Buffer.from(text, 'base64url');
      if (raw.length < 29) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
