import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { headOf } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const APP = 'team-test/app-0001';
const OTHER = 'team-test/app-0002';
const DISABLED = 'team-test/app-0003';
const TOKEN = tokenFor(TEST_SECRET_KEY, APP, 1);
const GOOD = 'registry.example.com/app-0001:good1';

interface Bad {
  name: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  status: number;
  code: string;
}

const json = (v: unknown) => JSON.stringify(v);
const image = (ref: string): Bad['body'] => json({ image: ref });
const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

// Issue #5: no input changes the config repo unless it is authorised and valid.
const CASES: Bad[] = [
  // body: JSON
  { name: 'malformed JSON', body: '{"image": ', status: 400, code: 'INVALID_JSON' },
  { name: 'not JSON at all', body: 'image=registry.example.com/app-0001:1', status: 400, code: 'INVALID_JSON' },
  { name: 'an empty body', body: '', status: 400, code: 'INVALID_JSON' },
  { name: 'a JSON string', body: '"registry.example.com/app-0001:1"', status: 400, code: 'INVALID_BODY' },
  { name: 'JSON null', body: 'null', status: 400, code: 'INVALID_BODY' },
  { name: 'a JSON array', body: json([GOOD]), status: 400, code: 'INVALID_BODY' },
  { name: 'image null', body: json({ image: null }), status: 400, code: 'INVALID_IMAGE' },
  { name: 'image a number', body: json({ image: 42 }), status: 400, code: 'INVALID_IMAGE' },
  { name: 'image an object', body: json({ image: { ref: GOOD } }), status: 400, code: 'INVALID_IMAGE' },
  { name: 'image an array', body: json({ image: [GOOD] }), status: 400, code: 'INVALID_IMAGE' },
  { name: 'commit a number', body: json({ image: GOOD, commit: 1234567 }), status: 400, code: 'INVALID_COMMIT' },
  { name: 'commit null', body: json({ image: GOOD, commit: null }), status: 400, code: 'INVALID_COMMIT' },
  { name: 'no image', body: json({ commit: 'abc1234' }), status: 400, code: 'INVALID_IMAGE' },
  {
    name: 'duplicated keys',
    body: `{"image":"${GOOD}","image":"registry.example.com/app-0001:evil"}`,
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'a __proto__ key',
    body: `{"image":"${GOOD}","__proto__":{"admin":true}}`,
    status: 400,
    code: 'INVALID_BODY',
  },
  {
    name: 'a constructor key',
    body: `{"constructor":{"prototype":{"x":1}},"image":"${GOOD}"}`,
    status: 400,
    code: 'INVALID_BODY',
  },
  {
    name: 'a huge extra field',
    body: json({ image: GOOD, notes: 'x'.repeat(60_000) }),
    status: 400,
    code: 'INVALID_BODY',
  },
  {
    name: 'a body of 64 KiB + 1',
    body: json({ image: GOOD, pad: 'x'.repeat(64 * 1024 - 24) }).padEnd(64 * 1024 + 1, ' '),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a gzip bomb',
    headers: { 'content-encoding': 'gzip' },
    body: gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'an unknown content encoding',
    headers: { 'content-encoding': 'br-unknown' },
    body: image(GOOD),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a text/plain content type',
    headers: { 'content-type': 'text/plain' },
    body: image(GOOD),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a form content type',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: image(GOOD),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  // methods
  { name: 'GET on the webhook', method: 'GET', body: undefined, status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'PUT on the webhook', method: 'PUT', body: image(GOOD), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'DELETE on the webhook', method: 'DELETE', body: undefined, status: 405, code: 'METHOD_NOT_ALLOWED' },
  // images
  {
    name: 'an image with a newline',
    body: image('registry.example.com/app-0001:1\nKipper-App: x/y'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  { name: 'an image with a CR', body: image('registry.example.com/app-0001:1\r'), status: 400, code: 'INVALID_IMAGE' },
  {
    name: 'an image with a NUL',
    body: image('registry.example.com/app-0001:1\u0000'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  { name: 'an image with a tab', body: image('registry.example.com/app-0001:\t1'), status: 400, code: 'INVALID_IMAGE' },
  {
    name: 'an image with a space',
    body: image('registry.example.com/app-0001: 1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'an uppercase image path',
    body: image('registry.example.com/App-0001:1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'an image path with ..',
    body: image('registry.example.com/../app-0001:1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'a unicode look-alike image',
    body: image('registry.example.com/аpp-0001:1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'a tag of 129 characters',
    body: image(`registry.example.com/app-0001:${'a'.repeat(129)}`),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'a digest that is not hex',
    body: image('registry.example.com/app-0001@sha256:zzzz'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'a sha256 digest of the wrong length',
    body: image(`registry.example.com/app-0001@sha256:${'a'.repeat(63)}`),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  { name: 'a YAML alias as image', body: image('*a'), status: 400, code: 'INVALID_IMAGE' },
  {
    name: 'a YAML anchor as image',
    body: image('&a registry.example.com/app-0001:1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  {
    name: 'a YAML tag as image',
    body: image('!!str registry.example.com/app-0001:1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  { name: 'a flow mapping as image', body: image('{}'), status: 400, code: 'INVALID_IMAGE' },
  { name: 'a comment as image', body: image('registry.example.com/app-0001:1 #x'), status: 400, code: 'INVALID_IMAGE' },
  {
    name: 'an image with a leading dash',
    body: image('-registry.example.com/app-0001:1'),
    status: 400,
    code: 'INVALID_IMAGE',
  },
  { name: 'an empty image', body: image(''), status: 400, code: 'INVALID_IMAGE' },
  // commits
  {
    name: 'a commit that is not hex',
    body: json({ image: GOOD, commit: 'ghijklm' }),
    status: 400,
    code: 'INVALID_COMMIT',
  },
  {
    name: 'a commit of 6 characters',
    body: json({ image: GOOD, commit: 'abc123' }),
    status: 400,
    code: 'INVALID_COMMIT',
  },
  {
    name: 'a commit of 65 characters',
    body: json({ image: GOOD, commit: 'a'.repeat(65) }),
    status: 400,
    code: 'INVALID_COMMIT',
  },
  {
    name: 'a commit with a newline',
    body: json({ image: GOOD, commit: 'abc1234\nKipper-Trigger: manual' }),
    status: 400,
    code: 'INVALID_COMMIT',
  },
  // names in the path
  {
    name: 'a namespace of ..',
    path: '/api/v1/webhook/../app-0001',
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'an encoded ..',
    path: '/api/v1/webhook/%2e%2e/app-0001',
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'an encoded slash in the app',
    path: '/api/v1/webhook/team-test/app-0001%2f..%2fapp-0002',
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'an extra path segment',
    path: `/api/v1/webhook/${APP}/extra`,
    body: image(GOOD),
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'a backslash in the app',
    path: '/api/v1/webhook/team-test/app-0001%5c..',
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a unicode app name',
    path: '/api/v1/webhook/team-test/%D0%B0pp-0001',
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a 300-character app name',
    path: `/api/v1/webhook/team-test/${'a'.repeat(300)}`,
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  // authorisation
  { name: 'no token', headers: { 'x-kipper-token': '' }, body: image(GOOD), status: 401, code: 'UNAUTHORIZED' },
  {
    name: 'an unknown app',
    path: '/api/v1/webhook/team-test/nope',
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a disabled webhook',
    path: `/api/v1/webhook/${DISABLED}`,
    headers: { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, DISABLED, 1) },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: "another app's token",
    headers: { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, OTHER, 1) },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'the previous token after a regenerate',
    path: `/api/v1/webhook/${OTHER}`,
    headers: { 'x-kipper-token': tokenFor(TEST_SECRET_KEY, OTHER, 1) },
    body: image('registry.example.com/app-0002:x'),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'the admin token',
    headers: { 'x-kipper-token': TEST_ADMIN_TOKEN },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a token with inner whitespace',
    headers: { 'x-kipper-token': `${TOKEN.slice(0, 30)} ${TOKEN.slice(31)}` },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a truncated token',
    headers: { 'x-kipper-token': TOKEN.slice(0, 63) },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'an uppercased token',
    headers: { 'x-kipper-token': TOKEN.toUpperCase() },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'an HMAC over a different body',
    headers: {
      'x-kipper-token': '',
      'x-hub-signature-256': sign(TOKEN, image('registry.example.com/app-0001:other') as string),
    },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a sha1= signature',
    headers: {
      'x-hub-signature-256': `sha1=${createHmac('sha1', TOKEN)
        .update(image(GOOD) as string)
        .digest('hex')}`,
    },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a valid signature with a tampered body',
    headers: { 'x-hub-signature-256': sign(TOKEN, image(GOOD) as string) },
    body: image('registry.example.com/app-0001:evil'),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a GitLab token of another app',
    headers: { 'x-gitlab-token': tokenFor(TEST_SECRET_KEY, OTHER, 1) },
    body: image(GOOD),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  // Issue #9: no Content-Type is not JSON; a token header is checked before the body is read.
  {
    name: 'no Content-Type at all',
    headers: { 'content-type': '' },
    body: image(GOOD),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a wrong token with a 70 KB body (401 before 413)',
    headers: { 'x-kipper-token': 'f'.repeat(64) },
    body: json({ image: GOOD, pad: 'x'.repeat(70_000) }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a wrong GitLab token with a 70 KB body',
    headers: { 'x-gitlab-token': 'f'.repeat(64) },
    body: json({ image: GOOD, pad: 'x'.repeat(70_000) }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a 70 KB body signed for GitHub (the body is read to check it)',
    headers: { 'x-hub-signature-256': sign(TOKEN, 'x') },
    body: json({ image: GOOD, pad: 'x'.repeat(70_000) }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'the right token with a 70 KB body',
    body: json({ image: GOOD, pad: 'x'.repeat(70_000) }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
];

/** Send a request with node:http, so paths are sent exactly as written (no URL normalising of ..). */
function send(base: string, c: Bad): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // The right token unless the case brings its own way of authorising.
  const own = ['x-kipper-token', 'x-gitlab-token', 'x-hub-signature-256'].some((h) => c.headers && h in c.headers);
  if (!own) headers['x-kipper-token'] = TOKEN;
  Object.assign(headers, c.headers ?? {});
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method ?? 'POST',
        path: c.path ?? `/api/v1/webhook/${APP}`,
        headers,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(c.body);
  });
}

describe('bad requests change nothing', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(4));
    const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    expect(
      (await fetch(`${bridge.url}/api/v1/apps/${DISABLED}/webhook`, { method: 'DELETE', headers: admin })).status,
    ).toBe(200);
    expect((await fetch(`${bridge.url}/api/v1/apps/${OTHER}/webhook`, { method: 'POST', headers: admin })).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('has at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES)('$status $code: $name', async (c) => {
    const head = await headOf(bare);
    const res = await send(bridge.url, c);
    expect(res.status, res.body).toBe(c.status);
    expect(JSON.parse(res.body)).toMatchObject({ code: c.code, error: expect.any(String) });
    expect(await headOf(bare)).toBe(head);
  });

  it('still deploys a good request afterwards', async () => {
    const res = await send(bridge.url, { name: 'good', body: image(GOOD), status: 200, code: '' });
    expect(res.status, res.body).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'deployed', image: GOOD });
  });
});
