import { describe, expect, it } from 'vitest';
import { parseKipperFile } from '../../../src/config/kipper-file.js';
import { isKipError } from '../../../src/errors.js';

function messageOf(text: string): string {
  try {
    parseKipperFile(text);
  } catch (err) {
    if (isKipError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

// kipper.yaml's keys are checked in linear time (issue #14), with the answers yaml's own
// check gave: a key twice in one mapping is refused where it is, in block and flow style.
describe('kipper.yaml keys', () => {
  it('refuses a key given twice in a mapping, naming where', () => {
    expect(messageOf('apps: []\nwebhooks: {}\napps: []\n')).toBe(
      'kipper.yaml: not valid YAML: Map keys must be unique at line 3, column 1:',
    );
    expect(messageOf('apps:\n  - {namespace: a, name: b, files: [x.yaml], name: c}\n')).toBe(
      'kipper.yaml: not valid YAML: Map keys must be unique at line 2, column 46:',
    );
    expect(messageOf('apps: []\nwebhooks:\n  a/b: {generation: 1}\n  a/b: {generation: 2}\n')).toContain(
      'Map keys must be unique at line 4, column 3',
    );
  });

  it('takes keys that only look alike, and the same key in different mappings', () => {
    const config = parseKipperFile(
      'apps:\n  - {namespace: a, name: b, files: [x.yaml]}\n  - {namespace: a, name: c, files: [x.yaml]}\nwebhooks:\n  a/b: {generation: 1}\n  "a/c": {generation: 2}\n',
    );
    expect([...config.apps.keys()]).toEqual(['a/b', 'a/c']);
    expect(Object.fromEntries(config.webhooks)).toEqual({ 'a/b': 1, 'a/c': 2 });
  });

  it('reads 10,000 apps', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `team-${Math.floor(i / 100)}-test/app-${i}`);
    const apps = ids.map(
      (id) =>
        `  - namespace: ${id.split('/')[0]}\n    name: ${id.split('/')[1]}\n    files: [apps/${id}/deployment.yaml]`,
    );
    const config = parseKipperFile(
      `apps:\n${apps.join('\n')}\nwebhooks:\n${ids.map((id) => `  ${id}: { generation: 1 }`).join('\n')}\n`,
    );
    expect(config.apps.size).toBe(10_000);
    expect(config.webhooks.size).toBe(10_000);
  });
});
