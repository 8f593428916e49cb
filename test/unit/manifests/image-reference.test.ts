import { describe, expect, it } from 'vitest';
import { isKipError } from '../../../src/errors.js';
import {
  formatImageReference,
  normalizeRepository,
  parseImageReference,
  tryParseImageReference,
} from '../../../src/manifests/image-reference.js';
import { codeOf } from '../../helpers/code-of.js';

const SHA = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';


describe('parseImageReference accepts valid references', () => {
  it.each([
    ['nginx', { domain: undefined, path: 'nginx', tag: undefined, digest: undefined }],
    ['nginx:1.25', { path: 'nginx', tag: '1.25' }],
    ['library/nginx:latest', { domain: undefined, path: 'library/nginx', tag: 'latest' }],
    ['registry.example.com/api:abc123f', { domain: 'registry.example.com', path: 'api', tag: 'abc123f' }],
    ['localhost:5000/a/b:t', { domain: 'localhost:5000', path: 'a/b', tag: 't' }],
    ['localhost/a', { domain: 'localhost', path: 'a', tag: undefined }],
    ['localhost:5000/a', { domain: 'localhost:5000', path: 'a', tag: undefined }],
    [`repo@sha256:${SHA}`, { path: 'repo', tag: undefined, digest: `sha256:${SHA}` }],
    [`repo:tag@sha256:${SHA}`, { path: 'repo', tag: 'tag', digest: `sha256:${SHA}` }],
    [`ghcr.io/acme/api:v1.2.3@sha256:${SHA}`, { domain: 'ghcr.io', path: 'acme/api', tag: 'v1.2.3' }],
    ['[::1]:5000/app:dev', { domain: '[::1]:5000', path: 'app', tag: 'dev' }],
    ['[2001:db8::1]/app', { domain: '[2001:db8::1]', path: 'app' }],
    ['10.0.0.1:5000/team/api:2024.01.31', { domain: '10.0.0.1:5000', path: 'team/api' }],
    ['Registry.Example.COM/api', { domain: 'Registry.Example.COM', path: 'api' }],
    ['a/b/c/d/e:1', { domain: undefined, path: 'a/b/c/d/e', tag: '1' }],
    ['my_org/my__app:1', { path: 'my_org/my__app' }],
    ['my-org/my---app.v2:1', { path: 'my-org/my---app.v2' }],
    ['api:_private', { tag: '_private' }],
    ['api:1.10', { tag: '1.10' }],
    ['api:UPPER_case-Tag.1', { tag: 'UPPER_case-Tag.1' }],
    [`api:${'t'.repeat(128)}`, { tag: 't'.repeat(128) }],
    [`api@sha512:${'ab'.repeat(64)}`, { digest: `sha512:${'ab'.repeat(64)}` }],
    [`api@multihash+base58:${'0'.repeat(32)}`, { digest: `multihash+base58:${'0'.repeat(32)}` }],
    // Not a valid host, but a valid path component: the grammar's domain is optional.
    ['team_a.v2/api:1', { domain: undefined, path: 'team_a.v2/api', repository: 'team_a.v2/api' }],
    [
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:1.4.1',
      { domain: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', path: 'shop/api' },
    ],
  ] as const)('%s', (ref, expected) => {
    const parsed = parseImageReference(ref);
    expect(parsed).toMatchObject({ raw: ref, ...expected });
    const name = parsed.domain === undefined ? parsed.path : `${parsed.domain}/${parsed.path}`;
    expect(parsed.repository).toBe(name);
    expect(formatImageReference(parsed)).toBe(ref);
  });

  it('accepts a name of exactly 255 characters', () => {
    const name = `r.io/${'a'.repeat(250)}`;
    expect(parseImageReference(`${name}:1`).repository).toBe(name);
  });
});

describe('parseImageReference rejects invalid references with INVALID_IMAGE', () => {
  it.each([
    ['empty', ''],
    ['newline', 'nginx:1.0\nimage: evil'],
    ['carriage return', 'nginx:1.0\r'],
    ['NUL', 'nginx\u0000:1'],
    ['tab', 'nginx:\t1'],
    ['space', 'nginx :1'],
    ['leading space', ' nginx'],
    ['DEL', 'nginx\u007f'],
    ['Cyrillic look-alike а', 'registry.example.com/\u0430pi:1'],
    ['non-ASCII in tag', 'api:v1\u00e9'],
    ['right-to-left override', 'api:\u202e1v'],
    ['uppercase path', 'registry.example.com/Team/api:1'],
    ['uppercase single-name path', 'Nginx'],
    ['double dot in path', 'registry.example.com/a..b/api'],
    ['dot-dot component', 'registry.example.com/../api'],
    ['leading dash', '-nginx'],
    ['leading dash in component', 'acme/-api'],
    ['trailing separator', 'api-'],
    ['empty path component', 'acme//api'],
    ['trailing slash', 'acme/api/'],
    ['tag of 129 characters', `api:${'t'.repeat(129)}`],
    ['tag starting with a dot', 'api:.1'],
    ['tag starting with a dash', 'api:-1'],
    ['empty tag', 'api:'],
    ['two colons', 'api:1:2'],
    ['digest without algorithm', `api@${SHA}`],
    ['sha256 digest too short', `api@sha256:${SHA.slice(1)}`],
    ['sha256 digest too long', `api@sha256:${SHA}0`],
    ['digest with non-hex', `api@sha256:${SHA.slice(1)}g`],
    ['digest under 32 hex', 'api@md5:0123456789abcdef'],
    ['uppercase digest algorithm', `api@SHA256:${SHA}`],
    ['two digests', `api@sha256:${SHA}@sha256:${SHA}`],
    ['empty name before digest', `@sha256:${SHA}`],
    ['YAML alias', '*a'],
    ['YAML anchor', '&a nginx'],
    ['YAML anchor glued', '&a'],
    ['YAML tag', '!!str'],
    ['YAML flow map', '{}'],
    ['YAML flow sequence', '[nginx]'],
    ['comment', '#'],
    ['comment after value', 'nginx#1'],
    ['quoted', '"nginx"'],
    ['port without host', ':5000/api'],
    ['bad port', 'localhost:port/api'],
    ['registry with a bad port and no valid path', 'localhost:5000x/api'],
    ['domain label with trailing dash', 'registry-.io/api'],
    ['name of 256 characters', `r.io/${'a'.repeat(251)}`],
    ['scheme', 'https://registry.example.com/api'],
    ['very long input', `api:${'1'.repeat(5000)}`],
  ])('%s', (_label, ref) => {
    expect(codeOf(() => parseImageReference(ref))).toBe('INVALID_IMAGE');
    expect(tryParseImageReference(ref)).toBeUndefined();
  });

  it('marks the error as about the image field', () => {
    try {
      parseImageReference('Nginx');
      expect.unreachable();
    } catch (err) {
      expect(isKipError(err, 'INVALID_IMAGE') && err.data).toEqual({ field: 'image' });
    }
  });

  it('never echoes control or non-ASCII characters raw in the message', () => {
    for (const ref of ['a\nb', 'a\rb', 'a\u0000b', 'a\u001bb', 'a\u007fb', 'a\u0085b', 'a\u202eb', '\u0430pi']) {
      try {
        parseImageReference(ref);
        expect.unreachable();
      } catch (err) {
        expect((err as Error).message).toMatch(/^[\x20-\x7e]*$/);
      }
    }
  });
});

describe('normalizeRepository', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx'],
    ['library/nginx', 'docker.io/library/nginx'],
    ['docker.io/nginx', 'docker.io/library/nginx'],
    ['docker.io/library/nginx', 'docker.io/library/nginx'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['index.docker.io/nginx', 'docker.io/library/nginx'],
    ['foo/bar', 'docker.io/foo/bar'],
    ['foo/bar/baz', 'docker.io/foo/bar/baz'],
    ['localhost/foo', 'localhost/foo'],
    ['localhost:5000/foo', 'localhost:5000/foo'],
    ['ghcr.io/acme/api', 'ghcr.io/acme/api'],
    ['Registry.Example.com/api', 'registry.example.com/api'],
    ['[::1]:5000/app', '[::1]:5000/app'],
    ['team_a.v2/api', 'docker.io/team_a.v2/api'],
  ])('%s → %s', (repository, normalized) => {
    expect(normalizeRepository(repository)).toBe(normalized);
  });
});

describe('formatImageReference', () => {
  it('joins repository, tag and digest', () => {
    expect(formatImageReference({ repository: 'ghcr.io/acme/api', tag: '2' })).toBe('ghcr.io/acme/api:2');
    expect(formatImageReference({ repository: 'api', digest: `sha256:${SHA}` })).toBe(`api@sha256:${SHA}`);
    expect(formatImageReference({ repository: 'api', tag: 't', digest: `sha256:${SHA}` })).toBe(
      `api:t@sha256:${SHA}`,
    );
  });
});
