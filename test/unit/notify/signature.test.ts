import { createHmac, randomBytes } from 'node:crypto';
import { verify as verifyGithubStyle } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { notificationSecret, sign, verify } from '../../../src/notify/signature.js';

const key = randomBytes(32);
const secret = notificationSecret(key);
const body = Buffer.from('{"event":"deployed","app":"team/api","reason":"café ☕"}', 'utf8');

describe('X-Kipper-Signature-256', () => {
  it('is sha256=<hex HMAC-SHA256 of the body>, keyed with the 64-hex notification secret', () => {
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    expect(sign(key, body)).toBe(expected);
    expect(sign(secret, body)).toBe(expected);
  });

  it('verifies with the derived key or the secret text, over the exact bytes only', () => {
    const header = sign(key, body);
    expect(verify(key, body, header)).toBe(true);
    expect(verify(secret, body.toString('utf8'), header)).toBe(true);
    expect(verify(key, Buffer.from(body.toString('utf8').replace('café', 'cafe')), header)).toBe(false);
    expect(verify(randomBytes(32), body, header)).toBe(false);
    expect(verify(key, body, header.replace('sha256=', 'sha1='))).toBe(false);
    expect(verify(key, body, header.slice(0, -2))).toBe(false);
    expect(verify(key, body, `${header.slice(0, -1)}é`)).toBe(false);
    expect(verify(key, body, undefined)).toBe(false);
  });

  it("is checked by code written for GitHub's X-Hub-Signature-256, given the secret", async () => {
    expect(await verifyGithubStyle(secret, body.toString('utf8'), sign(key, body))).toBe(true);
  });
});
