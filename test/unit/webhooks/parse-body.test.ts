import { describe, expect, it } from 'vitest';
import { isKipError } from '../../../src/errors.js';
import { validateDeployBody } from '../../../src/deploys/deploy-request.js';
import { parseJsonBody } from '../../../src/webhooks/parse-body.js';

/** What the webhook route does with a plain CI body. */
const parseWebhookBody = (raw: Buffer) => validateDeployBody(parseJsonBody(raw));
import { deriveWebhookToken, safeEqual } from '../../../src/config/tokens.js';

function codeOf(body: string): string {
  try {
    parseWebhookBody(Buffer.from(body));
  } catch (err) {
    if (isKipError(err)) return err.code;
    throw err;
  }
  return 'OK';
}

describe('webhook body', () => {
  it('accepts an image and a commit, lowercasing the commit', () => {
    const body = parseWebhookBody(Buffer.from('{"image":"registry.example.com/api:abc123f","commit":"ABC123F"}'));
    expect(body.image?.raw).toBe('registry.example.com/api:abc123f');
    expect(body.commit).toBe('abc123f');
  });

  it.each([
    ['', 'INVALID_JSON'],
    ['{"image":', 'INVALID_JSON'],
    ['null', 'INVALID_BODY'],
    ['"x"', 'INVALID_BODY'],
    ['[]', 'INVALID_BODY'],
    ['{"image": null}', 'INVALID_IMAGE'],
    ['{"image": ["a"]}', 'INVALID_IMAGE'],
    ['{"image": "a b"}', 'INVALID_IMAGE'],
    ['{"image": "ok:1", "commit": 1234567}', 'INVALID_COMMIT'],
    ['{"image": "ok:1", "commit": "123456"}', 'INVALID_COMMIT'],
    ['{"image": "ok:1", "commit": "' + 'a'.repeat(65) + '"}', 'INVALID_COMMIT'],
    ['{"image": "ok:1", "commit": "abcdefg"}', 'INVALID_COMMIT'],
    ['{"image": "ok:1", "commit": "abc123f\\u0000"}', 'INVALID_COMMIT'],
    ['{"image": "BAD", "commit": "x"}', 'INVALID_BODY'],
    ['{"image": "ok:1", "commit": "' + 'a'.repeat(64) + '"}', 'OK'],
  ])('%s → %s', (body, code) => {
    expect(codeOf(body)).toBe(code);
  });
});

describe('webhook tokens', () => {
  it('are 64 hex, differ per app and per generation', () => {
    const key = 'k'.repeat(32);
    const a1 = deriveWebhookToken(key, 'ns/a', 1);
    expect(a1).toMatch(/^[0-9a-f]{64}$/);
    expect(deriveWebhookToken(key, 'ns/a', 2)).not.toBe(a1);
    expect(deriveWebhookToken(key, 'ns/b', 1)).not.toBe(a1);
    expect(deriveWebhookToken('j'.repeat(32), 'ns/a', 1)).not.toBe(a1);
  });

  it('compare equal only when identical, whatever the length', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
  });
});

describe('keys a deploy body must not have', () => {
  it.each([
    ['{"image":"r/a:1","image":"r/a:2"}', 'INVALID_JSON'],
    ['{"image":"r/a:1","commit":"abc1234","x":{"k":1,"k":2}}', 'INVALID_JSON'],
    ['{"image":"r/a:1","__proto__":{"polluted":true}}', 'INVALID_BODY'],
    ['{"constructor":{"prototype":{}},"image":"r/a:1"}', 'INVALID_BODY'],
    ['{"image":"r/a:1","pad":"' + 'x'.repeat(1000) + '"}', 'INVALID_BODY'],
    ['{"imgae":"r/a:1"}', 'INVALID_BODY'],
    ['{"image":"r/a:1","commit":"abc1234"}', 'OK'],
    ['{"image":"r/a:1","commit":"abc1234" }', 'OK'],
    ['{"image":"r/a:\\"1"}', 'INVALID_IMAGE'],
  ])('%s → %s', (body, code) => {
    expect(codeOf(body)).toBe(code);
  });

  it('names an unknown field in `fields`', () => {
    try {
      parseWebhookBody(Buffer.from('{"image":"r/a:1","imgae":"x"}'));
      expect.unreachable();
    } catch (err) {
      expect(isKipError(err, 'INVALID_BODY') && err.data.fields).toHaveProperty('imgae');
    }
  });
});
