import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sealer } from '../../../src/identity/sealed.js';

describe('sealed cookie values', () => {
  const key = randomBytes(32);

  it('opens what it sealed, and nothing changed, sealed for another purpose or with another key', () => {
    const tokens = new Sealer(key, 'provider tokens');
    const sealed = tokens.seal({ access: 'a', refresh: 'r', expires: 1 });
    expect(tokens.open(sealed)).toEqual({ access: 'a', refresh: 'r', expires: 1 });
    expect(sealed).not.toContain('refresh');
    const flipped = Buffer.from(sealed, 'base64url');
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
    expect(tokens.open(flipped.toString('base64url'))).toBeUndefined();
    expect(new Sealer(key, 'pending sign-in').open(sealed)).toBeUndefined();
    expect(new Sealer(randomBytes(32), 'provider tokens').open(sealed)).toBeUndefined();
    expect(tokens.open('')).toBeUndefined();
    expect(tokens.open('not base64 at all!')).toBeUndefined();
  });
});
