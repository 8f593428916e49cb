import { describe, expect, it } from 'vitest';
import { parseKipperFile } from '../../../src/config/kipper-file.js';
import { allows, roleOf } from '../../../src/identity/access.js';
import type { Person } from '../../../src/identity/principal.js';
import { personOf } from '../../../src/identity/principal.js';

const APPS = `apps:
  - { namespace: shop-test, name: api, files: [a.yaml] }
  - { namespace: shop-prod, name: api, files: [b.yaml] }
`;
const person = (email: string, groups: string[] = []): Person => ({
  kind: 'person',
  sub: `sub-${email}`,
  email,
  name: undefined,
  groups,
});

describe('kipper.yaml access: rules', () => {
  const { access } = parseKipperFile(`${APPS}access:
  - { group: platform, role: admin }
  - { group: shop-devs, role: deployer, namespaces: [shop-test] }
  - { user: dev@example.com, role: viewer, namespaces: [shop-prod] }
  - { user: auditor@example.com, role: viewer }
`);

  it('gives the strongest role of the rules that match user or group, within their namespaces', () => {
    expect(roleOf(person('ana@example.com', ['platform']), access, 'shop-prod')).toBe('admin');
    expect(roleOf(person('dev@example.com', ['shop-devs']), access, 'shop-test')).toBe('deployer');
    expect(roleOf(person('dev@example.com', ['shop-devs']), access, 'shop-prod')).toBe('viewer');
    expect(roleOf(person('tess@example.com', ['shop-devs']), access, 'shop-prod')).toBeNull();
    expect(roleOf(person('auditor@example.com'), access, 'shop-test')).toBe('viewer');
    expect(roleOf({ kind: 'admin', actor: 'admin' }, [], 'anything')).toBe('admin');
  });

  it('lets a viewer read and a deployer or admin write', () => {
    expect([
      allows('viewer', 'read'),
      allows('viewer', 'write'),
      allows('deployer', 'write'),
      allows('admin', 'write'),
      allows(null, 'read'),
    ]).toEqual([true, false, true, true, false]);
  });

  it('refuses a rule with both or neither of user and group, or an unknown role, naming the field', () => {
    for (const rule of [
      '{ user: a@b.c, group: g, role: admin }',
      '{ role: viewer }',
      '{ group: g, role: owner }',
      '{ group: g, role: viewer, namespaces: [Bad_NS] }',
    ]) {
      expect(() => parseKipperFile(`${APPS}access:\n  - ${rule}\n`), rule).toThrow(/kipper\.yaml: access\[0\]/);
    }
  });

  it('reads a person from claims: email only when it is one, groups from the configured claim', () => {
    expect(personOf({ sub: 's1', email: 'x@example.com', roles: ['a', 7, 'b'] }, 'roles')).toMatchObject({
      sub: 's1',
      email: 'x@example.com',
      groups: ['a', 'b'],
    });
    expect(personOf({ sub: 's1', email: 'not an email' }, 'groups')?.email).toBeUndefined();
    expect(personOf({ sub: 'two\nlines' }, 'groups')).toBeUndefined();
  });
});
