import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseKipperFile } from '../../../src/config/kipper-file.js';
import { setLock, setWebhookGeneration } from '../../../src/config/set-section-entry.js';
import { isKipError } from '../../../src/errors.js';

const seed = await readFile(new URL('../../../fixtures/seed/kipper.yaml', import.meta.url), 'utf8');

function codeAndMessage(text: string): { code: string; message: string } {
  try {
    parseKipperFile(text);
  } catch (err) {
    if (isKipError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected parseKipperFile to throw');
}

describe('kipper.yaml', () => {
  it('parses the seed: apps by id with defaults, webhooks by generation', () => {
    const config = parseKipperFile(seed);
    expect([...config.apps.keys()]).toEqual(['demo-test/api', 'demo-prod/api']);
    expect(config.apps.get('demo-test/api')).toMatchObject({
      namespace: 'demo-test',
      name: 'api',
      source: 'image',
      files: ['apps/demo-test/api/deployment.yaml'],
      container: 'api',
      branch: 'main',
    });
    expect(config.webhooks.get('demo-test/api')).toBe(1);
  });

  it('names the file, path and field of each problem', () => {
    const bad = codeAndMessage(
      'apps:\n  - namespace: Demo\n    name: api\n  - namespace: a\n    name: b\n    files: [../x.yaml]\n',
    );
    expect(bad.code).toBe('CONFIG_INVALID');
    expect(bad.message).toContain('kipper.yaml: apps[0].namespace:');
    expect(bad.message).toContain('kipper.yaml: apps[0].files:');
    expect(bad.message).toContain('kipper.yaml: apps[1].files[0]:');
  });

  it('refuses YAML that does not parse, duplicate apps and a bad source', () => {
    expect(codeAndMessage('apps: [\n').code).toBe('CONFIG_INVALID');
    const dup = 'apps:\n  - {namespace: a, name: b, files: [x.yaml]}\n  - {namespace: a, name: b, files: [y.yaml]}\n';
    expect(codeAndMessage(dup).message).toContain('duplicate app a/b');
    expect(codeAndMessage('apps:\n  - {namespace: a, name: b, files: [x.yaml], source: helm}\n').message).toContain(
      'apps[0].source',
    );
  });

  it('reads an optional workload as <Kind>/<name>', () => {
    const app = (workload: string) =>
      `apps:\n  - {namespace: a, name: b, files: [x.yaml], container: server, workload: ${workload}}\n`;
    expect(parseKipperFile(app('Deployment/checkoutservice')).apps.get('a/b')).toMatchObject({
      container: 'server',
      workload: 'Deployment/checkoutservice',
    });
    expect(parseKipperFile(app('CronJob/nightly.report-2')).apps.get('a/b')?.workload).toBe('CronJob/nightly.report-2');
    expect(parseKipperFile(seed).apps.get('demo-test/api')?.workload).toBeUndefined();
  });

  it.each([
    ['no kind', 'api'],
    ['an empty name', 'Deployment/'],
    ['a lowercase kind', 'deployment/api'],
    ['a kind whose containers are not found', 'Rollout/api'],
    ['a name that is not a Kubernetes name', 'Deployment/API'],
    ['a namespace in the name', 'Deployment/shop/api'],
    ['a number', '7'],
  ])('refuses a workload with %s, naming the field', (_label, workload) => {
    const bad = codeAndMessage(`apps:\n  - {namespace: a, name: b, files: [x.yaml], workload: "${workload}"}\n`);
    expect(bad.code).toBe('CONFIG_INVALID');
    expect(bad.message).toContain('kipper.yaml: apps[0].workload:');
  });

  it('an empty file has no apps', () => {
    expect(parseKipperFile('').apps.size).toBe(0);
  });
});

describe('writing webhook generations', () => {
  it('bumps, adds and removes entries, keeping the rest of the file', () => {
    const bumped = setWebhookGeneration(seed, 'demo-test/api', 2);
    expect(parseKipperFile(bumped).webhooks.get('demo-test/api')).toBe(2);
    expect(bumped).toContain('# Kipper: the apps this bridge may deploy.');
    expect(bumped).toContain('container: api              # optional: narrow the edit to one container');
    const removed = setWebhookGeneration(bumped, 'demo-test/api', null);
    expect(parseKipperFile(removed).webhooks.size).toBe(0);
    const added = setWebhookGeneration('apps: []\n', 'a/b', 1);
    expect(parseKipperFile(added).webhooks.get('a/b')).toBe(1);
  });

  it('keeps CRLF line endings and a BOM', () => {
    const crlf = '\uFEFF' + seed.replace(/\n/g, '\r\n');
    const out = setWebhookGeneration(crlf, 'demo-test/api', 3);
    expect(out.startsWith('\uFEFF')).toBe(true);
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expect(parseKipperFile(out.slice(1)).webhooks.get('demo-test/api')).toBe(3);
  });
});

describe('webhook generation edits are byte-exact', () => {
  it('bumping changes only the number', () => {
    const out = setWebhookGeneration(seed, 'demo-test/api', 7);
    expect(out).toBe(seed.replace('{ generation: 1 }', '{ generation: 7 }'));
  });

  it('adding appends one line in the section indentation; removing takes it away again', () => {
    const added = setWebhookGeneration(seed, 'demo-test/web', 1);
    expect(added).toBe(
      seed.replace(
        '  demo-test/api: { generation: 1 }\n',
        '  demo-test/api: { generation: 1 }\n  demo-test/web: { generation: 1 }\n',
      ),
    );
    expect(setWebhookGeneration(added, 'demo-test/web', null)).toBe(seed);
  });

  it('a file without the section gets one appended', () => {
    const text = 'apps: []  # none yet\n';
    expect(setWebhookGeneration(text, 'a/b', 1)).toBe('apps: []  # none yet\nwebhooks:\n  a/b: { generation: 1 }\n');
  });
});

describe('locks in kipper.yaml', () => {
  const lock = { reason: 'INC-42: bad migration', by: 'ana@example.com', at: '2026-11-28T10:00:00.000Z' };

  it('locking appends a locks: section of one line; unlocking the only lock gives the file back', () => {
    const locked = setLock(seed, 'demo-test/api', lock);
    expect(locked).toBe(
      `${seed}locks:\n  demo-test/api: { reason: "INC-42: bad migration", by: "ana@example.com", at: "2026-11-28T10:00:00.000Z" }\n`,
    );
    expect(parseKipperFile(locked).locks.get('demo-test/api')).toEqual(lock);
    expect(setLock(locked, 'demo-test/api', null)).toBe(seed);
  });

  it('a second lock is one more line; locking again replaces only that line; the rest stays byte for byte', () => {
    const one = setLock(seed, 'demo-test/api', lock);
    const two = setLock(one, 'demo-prod/api', { ...lock, reason: 'freeze' });
    expect(two).toBe(
      `${one}  demo-prod/api: { reason: "freeze", by: "ana@example.com", at: "2026-11-28T10:00:00.000Z" }\n`,
    );
    const again = setLock(two, 'demo-test/api', { ...lock, reason: 'INC-43' });
    expect(again).toBe(two.replace('reason: "INC-42: bad migration"', 'reason: "INC-43"'));
    expect(setLock(again, 'demo-test/api', null)).toBe(
      `${seed}locks:\n  demo-prod/api: { reason: "freeze", by: "ana@example.com", at: "2026-11-28T10:00:00.000Z" }\n`,
    );
  });

  it('a hand-written block entry is replaced by one line in its indentation, comments around it kept', () => {
    const text = `${seed}locks:   # incident controls\n    demo-test/api:\n      reason: by hand\n    # keep me\n    demo-prod/api: { reason: x }\n`;
    const out = setLock(text, 'demo-test/api', lock);
    expect(out).toBe(
      `${seed}locks:   # incident controls\n    demo-test/api: { reason: "INC-42: bad migration", by: "ana@example.com", at: "2026-11-28T10:00:00.000Z" }\n    # keep me\n    demo-prod/api: { reason: x }\n`,
    );
    expect(parseKipperFile(text).locks.get('demo-prod/api')).toEqual({ reason: 'x', by: '', at: '' });
  });

  it('a reason with quotes, backslashes, colons and a # survives as one YAML string', () => {
    const reason = 'say "no" \\ to: #tags & {flows}: [x]';
    const out = setLock(seed, 'demo-test/api', { ...lock, reason });
    expect(parseKipperFile(out).locks.get('demo-test/api')?.reason).toBe(reason);
  });

  it('refuses a reason of several lines or none', () => {
    expect(() => parseKipperFile(`${seed}locks:\n  demo-test/api: { reason: "a\\nb" }\n`)).toThrow(
      /locks\.demo-test\/api\.reason: must be one line/,
    );
    expect(() => parseKipperFile(`${seed}locks:\n  demo-test/api: { reason: "" }\n`)).toThrow(/reason/);
  });
});
