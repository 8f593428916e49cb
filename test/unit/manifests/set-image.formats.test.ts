import { describe, expect, it } from 'vitest';
import { canBePlain } from '../../../src/manifests/can-be-plain.js';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { findCommits, setCommit } from '../../../src/manifests/set-commit.js';
import { findImages, setImage } from '../../../src/manifests/set-image.js';
import { codeOf } from '../../helpers/code-of.js';

const SHA = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const OLD = '4c4b2f9b0e3a6d7c8e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

function set(text: string, image: string, options: { container?: string; app?: string } = {}) {
  return setImage(text, { image: parseImageReference(image), ...options });
}


describe('kustomize images:', () => {
  const kustomization = (entries: string) =>
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [d.yaml]\nimages:\n${entries}`;

  it('sets newTag on the entry whose name is the repository, and reports the full reference', () => {
    const text = kustomization('  - name: ghcr.io/acme/api\n    newTag: v1\n  - name: ghcr.io/acme/web\n    newTag: v1\n');
    const result = set(text, 'ghcr.io/acme/api:v2');
    expect(result.text).toBe(text.replace('newTag: v1', 'newTag: v2'));
    expect(result.matches).toEqual([
      {
        kind: 'kustomize',
        documentIndex: 0,
        yamlPath: 'images[0]',
        fields: ['newName', 'newTag', 'digest'],
        container: undefined,
        before: 'ghcr.io/acme/api:v1',
        after: 'ghcr.io/acme/api:v2',
      },
    ]);
  });

  it('matches by newName too, and compares repositories after normalisation', () => {
    const text = kustomization('  - name: api\n    newName: nginx\n    newTag: "1.25"\n');
    expect(set(text, 'nginx:1.26').text).toBe(text.replace('"1.25"', '"1.26"'));
    expect(set(text, 'docker.io/library/nginx:1.26').text).toBe(text.replace('"1.25"', '"1.26"'));
    expect(set(text, 'docker.io/library/api:1.26').matches).toHaveLength(1);
    expect(set(text, 'ghcr.io/acme/nginx:1.26').matches).toEqual([]);
  });

  it('points newName at the posted repository when the entry is found by name but pulled from elsewhere', () => {
    const text = kustomization('  - name: ghcr.io/acme/api\n    newName: mirror.example.com/acme/api\n    newTag: v1\n');
    expect(set(text, 'ghcr.io/acme/api:v2').text).toBe(
      text.replace('mirror.example.com/acme/api', 'ghcr.io/acme/api').replace('newTag: v1', 'newTag: v2'),
    );
  });

  it.each([
    ['a tag drops a stale digest', 'ghcr.io/acme/api:v2', '    newTag: v2\n'],
    ['a digest drops a stale newTag', `ghcr.io/acme/api@sha256:${SHA}`, `    digest: sha256:${SHA}\n`],
    ['tag and digest set both', `ghcr.io/acme/api:v2@sha256:${SHA}`, `    newTag: v2\n    digest: sha256:${SHA}\n`],
    ['no tag and no digest is latest', 'ghcr.io/acme/api', '    newTag: latest\n'],
  ])('does what kustomize edit set image does: %s', (_label, image, fields) => {
    const text = kustomization(`  - name: ghcr.io/acme/api\n    newTag: v1\n    digest: sha256:${OLD}\n`);
    expect(set(text, image).text).toBe(kustomization(`  - name: ghcr.io/acme/api\n${fields}`));
  });

  it('adds a missing newTag in the entry own style: block, dash-aligned block, flow', () => {
    expect(set(kustomization('  - name: api # base name\n    newName: ghcr.io/acme/api\n'), 'ghcr.io/acme/api:v2').text).toBe(
      kustomization('  - name: api # base name\n    newName: ghcr.io/acme/api\n    newTag: v2\n'),
    );
    expect(set(kustomization('-   name: api\n-   name: web\n'), 'api:v2').text).toBe(
      kustomization('-   name: api\n    newTag: v2\n-   name: web\n'),
    );
    expect(set(kustomization('  - {name: api}\n'), 'api:10').text).toBe(kustomization('  - {name: api, newTag: "10"}\n'));
    expect(set('images: [{name: api, digest: "x"}]\n', 'api:v2').text).toBe('images: [{name: api, newTag: v2}]\n');
  });

  it('fills an empty newTag instead of adding a second one', () => {
    expect(set(kustomization('  - name: api\n    newTag:\n'), 'api:v2').text).toBe(kustomization('  - name: api\n    newTag: v2\n'));
  });

  it('keeps a file without a final newline without one, CRLF included', () => {
    expect(set('images:\r\n  - name: api\r\n    digest: x', 'api:v2').text).toBe('images:\r\n  - name: api\r\n    newTag: v2');
    expect(set('images:\r\n  - name: api', 'api:v2').text).toBe('images:\r\n  - name: api\r\n    newTag: v2');
  });

  it('reads a Flux Kustomization spec.images, and no images: of other kinds', () => {
    const flux = 'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  images:\n    - name: api\n      newTag: v1\n';
    expect(set(flux, 'api:v2').text).toBe(flux.replace('newTag: v1', 'newTag: v2'));
    expect(set(flux.replace('kustomize.toolkit.fluxcd.io/v1', 'example.com/v1'), 'api:v2').matches).toEqual([]);
    const configMap = 'apiVersion: v1\nkind: ConfigMap\nimages:\n  - name: api\n    newTag: v1\n';
    expect(set(configMap, 'api:v2').matches).toEqual([]);
  });

  it('skips an entry written as an alias, and one with a tag in its name', () => {
    const text = 'x: &e {name: api, newTag: v1}\nimages:\n  - *e\n  - name: api:v1\n    newTag: v1\n';
    expect(set(text, 'api:v2').matches).toEqual([]);
  });

  it('updates every entry of the repository in the file, in file order', () => {
    const text = '---\nimages:\n  - name: api\n    newTag: v1\n---\nimages:\n  - {name: api, newTag: v1}\n';
    const result = set(text, 'api:v2');
    expect(result.text).toBe(text.replaceAll('v1', 'v2'));
    expect(result.matches.map((m) => [m.documentIndex, m.yamlPath])).toEqual([
      [0, 'images[0]'],
      [1, 'images[0]'],
    ]);
  });

  it.each(['null', '~', 'Null', 'NULL'])('reads newName, newTag and digest written %s as unset', (nil) => {
    const text = kustomization(`  - name: api\n    newName: ${nil}\n    newTag: ${nil}\n    digest: ${nil}\n`);
    expect(findImages(text, {}).map((f) => f.value)).toEqual(['api']);
    // The entry keeps its repository: a null newName is not a move to another one.
    expect(set(text, 'api:v2').text).toBe(kustomization(`  - name: api\n    newName: ${nil}\n    newTag: v2\n`));
    expect(set(text, `api@sha256:${SHA}`).text).toBe(kustomization(`  - name: api\n    newName: ${nil}\n    digest: sha256:${SHA}\n`));
  });

  it('is matched by repository even when the app narrows to a container', () => {
    expect(set(kustomization('  - name: api\n    newTag: v1\n'), 'api:v2', { container: 'web' }).matches).toHaveLength(1);
  });
});

describe('Helm values', () => {
  it('writes only the tag of a {repository, tag} mapping, at any depth', () => {
    const text = 'a:\n  b:\n    - image:\n        repository: ghcr.io/acme/api\n        pullPolicy: Always\n        tag: v1\n';
    const result = set(text, 'ghcr.io/acme/api:v2');
    expect(result.text).toBe(text.replace('tag: v1', 'tag: v2'));
    expect(result.matches.map((m) => [m.kind, m.yamlPath, m.fields, m.before, m.after])).toEqual([
      ['helmValues', 'a.b[0].image', ['tag'], 'ghcr.io/acme/api:v1', 'ghcr.io/acme/api:v2'],
    ]);
  });

  it('joins registry and repository to match, and never rewrites either', () => {
    const text = 'image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: "7.2"\n';
    expect(set(text, 'bitnami/redis:7.4').text).toBe(text.replace('"7.2"', '"7.4"'));
    expect(set(text, 'redis:7.4').matches).toEqual([]);
    expect(findImages(text, {}).map((f) => f.value)).toEqual(['docker.io/bitnami/redis:7.2']);
  });

  it.each([
    ['1.10', 'tag: 1.9', 'tag: "1.10"'],
    ['10', 'tag: 9', 'tag: "10"'],
    ['1e3', 'tag: v1', 'tag: "1e3"'],
    ['0777', 'tag: v1', 'tag: "0777"'],
    ['1.5.0', 'tag: 1.4.1', 'tag: 1.5.0'],
    ['4f3a2b1', 'tag: v1', 'tag: 4f3a2b1'],
    ['10', "tag: '9'", "tag: '10'"],
  ])('writes the tag %s so that YAML reads a string: %s becomes %s', (tag, before, after) => {
    const text = `image:\n  repository: api\n  ${before}\n`;
    expect(set(text, `api:${tag}`).text).toBe(`image:\n  repository: api\n  ${after}\n`);
  });

  it('puts a digest in the digest key, and empties it for a tag-only image', () => {
    const text = `image:\n  repository: api\n  tag: v1\n  digest: ""\n`;
    const pinned = set(text, `api:v2@sha256:${SHA}`).text;
    expect(pinned).toBe(`image:\n  repository: api\n  tag: v2\n  digest: "sha256:${SHA}"\n`);
    expect(set(pinned, 'api:v3').text).toBe(`image:\n  repository: api\n  tag: v3\n  digest: ""\n`);
    // A digest alone keeps the tag: charts pull by the digest.
    expect(set(text, `api@sha256:${SHA}`).text).toBe(`image:\n  repository: api\n  tag: v1\n  digest: "sha256:${SHA}"\n`);
  });

  it('appends the digest to the tag when there is no digest key', () => {
    const text = 'image: {repository: api, tag: v1}\n';
    expect(set(text, `api:v2@sha256:${SHA}`).text).toBe(`image: {repository: api, tag: v2@sha256:${SHA}}\n`);
    expect(set(text, `api@sha256:${SHA}`).text).toBe(`image: {repository: api, tag: v1@sha256:${SHA}}\n`);
    expect(set(text, 'api').text).toBe('image: {repository: api, tag: latest}\n');
  });

  describe.each(['null', '~', 'Null', 'NULL'])('a tag written %s', (nil) => {
    const values = (tag: string, digest?: string) =>
      `image:\n  repository: keelhq/keel\n  tag: ${tag}\n${digest === undefined ? '' : `  digest: ${digest}\n`}  pullPolicy: Always\n`;

    it('reads as no tag, like an empty one', () => {
      expect(findImages(values(nil), {}).map((f) => f.value)).toEqual(['keelhq/keel']);
      expect(findImages(values(nil, nil), { repository: 'keelhq/keel' }).map((f) => f.value)).toEqual(['keelhq/keel']);
    });

    it('is replaced by a posted tag, quoted where YAML would not read a string', () => {
      expect(set(values(nil), 'keelhq/keel:0.19.1').text).toBe(values('0.19.1'));
      expect(set(values(nil), 'keelhq/keel:1.10').text).toBe(values('"1.10"'));
      expect(set(values(nil, nil), 'keelhq/keel:0.19.1').text).toBe(values('0.19.1', nil));
    });

    it('never becomes part of a digest-only reference', () => {
      const result = set(values(nil), `keelhq/keel@sha256:${SHA}`);
      expect(result.text).toBe(values(`latest@sha256:${SHA}`));
      expect(result.matches.map((m) => [m.before, m.after])).toEqual([['keelhq/keel', `keelhq/keel:latest@sha256:${SHA}`]]);
      const pinned = set(values(nil, nil), `keelhq/keel@sha256:${SHA}`);
      expect(pinned.text).toBe(values(nil, `sha256:${SHA}`));
      expect(pinned.matches.map((m) => m.after)).toEqual([`keelhq/keel@sha256:${SHA}`]);
    });
  });

  it('reads a quoted or !!str-tagged null as the tag it spells', () => {
    expect(findImages('image: {repository: api, tag: "null"}\n', {}).map((f) => f.value)).toEqual(['api:null']);
    expect(findImages('image: {repository: api, tag: !!str null}\n', {}).map((f) => f.value)).toEqual(['api:null']);
  });

  it('reads HelmRelease values and Argo CD valuesObject, but not a values block string', () => {
    const release = 'kind: HelmRelease\nspec:\n  values:\n    image: {repository: api, tag: v1}\n';
    expect(set(release, 'api:v2').matches.map((m) => m.yamlPath)).toEqual(['spec.values.image']);
    const app = 'kind: Application\nspec:\n  source:\n    helm:\n      valuesObject:\n        image: {repository: api, tag: v1}\n      values: |\n        image: {repository: api, tag: v1}\n';
    const result = set(app, 'api:v2');
    expect(result.text).toBe(app.replace('tag: v1', 'tag: v2'));
    expect(result.matches.map((m) => m.yamlPath)).toEqual(['spec.source.helm.valuesObject.image']);
  });

  it('reads a values file whose root is the image mapping, at the empty yamlPath', () => {
    const result = set('repository: api\ntag: v1\n', 'api:v2');
    expect(result.text).toBe('repository: api\ntag: v2\n');
    expect(result.matches.map((m) => m.yamlPath)).toEqual(['']);
  });

  it('skips mappings without a tag key, with a non-image repository, or with a non-scalar part', () => {
    const text = 'a: {repository: api}\nb: {repository: "https://charts.example.com", tag: v1}\nc: {repository: api, tag: [v1]}\n';
    expect(set(text, 'api:v2').matches).toEqual([]);
  });

  it('edits a mapping shared through an anchor once, where it is written', () => {
    const text = 'base: &img {repository: api, tag: v1}\na: {image: *img}\nb: {image: *img}\n';
    const result = set(text, 'api:v2');
    expect(result.text).toBe(text.replace('v1', 'v2'));
    expect(result.matches.map((m) => m.yamlPath)).toEqual(['base']);
  });
});

describe('$kipper setter markers', () => {
  const app = 'shop/api';

  it('sets a whole-reference marker whatever its repository, and only with the app', () => {
    const text = 'spec:\n  image: old.example.com/x:1 # {"$kipper": "shop/api"}\n';
    const result = set(text, 'ghcr.io/acme/api:2', { app });
    expect(result.text).toBe(text.replace('old.example.com/x:1', 'ghcr.io/acme/api:2'));
    expect(result.matches).toEqual([
      {
        kind: 'marker',
        documentIndex: 0,
        yamlPath: 'spec.image',
        fields: [],
        container: undefined,
        before: 'old.example.com/x:1',
        after: 'ghcr.io/acme/api:2',
      },
    ]);
    expect(set(text, 'ghcr.io/acme/api:2').matches).toEqual([]);
  });

  it('groups part markers of one mapping into one image', () => {
    const text = [
      'spec:',
      '  image:',
      '    name: ghcr.io/acme/api # {"$kipper": "shop/api:name"}',
      "    version: '1' # {\"$kipper\":\"shop/api:tag\"}",
      `    pin: sha256:${OLD} # {  "$kipper"  :  "shop/api:digest"  }`,
      '',
    ].join('\n');
    const result = set(text, `ghcr.io/acme/api:2@sha256:${SHA}`, { app });
    expect(result.text).toBe(text.replace("'1'", "'2'").replace(OLD, SHA));
    expect(result.matches.map((m) => [m.yamlPath, m.fields, m.before, m.after])).toEqual([
      ['spec.image', ['name', 'version', 'pin'], `ghcr.io/acme/api:1@sha256:${OLD}`, `ghcr.io/acme/api:2@sha256:${SHA}`],
    ]);
  });

  it('takes precedence over automatic matching in the same file only', () => {
    const marked = 'a: ghcr.io/acme/api:1 # {"$kipper": "shop/api"}\nb: {repository: ghcr.io/acme/api, tag: "1"}\n';
    expect(set(marked, 'ghcr.io/acme/api:2', { app }).text).toBe(marked.replace('api:1', 'api:2'));
    const unmarked = 'b: {repository: ghcr.io/acme/api, tag: "1"}\n';
    expect(set(unmarked, 'ghcr.io/acme/api:2', { app }).text).toBe(unmarked.replace('"1"', '"2"'));
  });

  it("leaves another app's marked scalar alone, also for automatic matching", () => {
    const text = 'image: {repository: ghcr.io/acme/api, tag: "1"} \nb:\n  repository: ghcr.io/acme/api\n  tag: "1" # {"$kipper": "shop/worker:tag"}\n';
    const result = set(text, 'ghcr.io/acme/api:2', { app });
    expect(result.matches.map((m) => m.yamlPath)).toEqual(['image']);
    expect(set(text, 'ghcr.io/acme/api:2', { app: 'shop/worker' }).matches.map((m) => m.yamlPath)).toEqual(['b']);
  });

  it('does not count a :commit marker as an image marker', () => {
    const text = 'rev: abcdef1 # {"$kipper": "shop/api:commit"}\nimage: {repository: api, tag: v1}\n';
    expect(set(text, 'api:v2', { app }).matches.map((m) => m.yamlPath)).toEqual(['image']);
  });

  it.each([
    ['a flow collection', 'a: [x:1] # {"$kipper": "shop/api"}\n'],
    ['a block scalar', 'a: |\n  x:1\n# {"$kipper": "shop/api"}\n'],
    ['text after the JSON', 'a: x:1 # {"$kipper": "shop/api"} pinned\n'],
    ['broken JSON', 'a: x:1 # {"$kipper": shop/api}\n'],
    ['an unknown part', 'a: x:1 # {"$kipper": "shop/api:version"}\n'],
    ['no namespace', 'a: x:1 # {"$kipper": "api"}\n'],
    ['a key', 'a: # {"$kipper": "shop/api"}\n  b: x:1\n'],
  ])('is not read from %s', (_label, text) => {
    expect(set(text, 'ghcr.io/acme/api:2', { app }).matches).toEqual([]);
  });

  it('reads a marked null part as unset and writes over it', () => {
    const text = 'image:\n  name: api # {"$kipper": "shop/api:name"}\n  tag: null # {"$kipper": "shop/api:tag"}\n';
    expect(findImages(text, { app }).map((f) => f.value)).toEqual(['api']);
    expect(set(text, 'api:v2', { app }).text).toBe(text.replace('null', 'v2'));
  });

  it('fills a marked empty value', () => {
    expect(set('tag: # {"$kipper": "shop/api:tag"}\n', 'api:v2', { app }).text).toBe('tag: v2 # {"$kipper": "shop/api:tag"}\n');
  });

  it('sets every marker of the app in the file, across documents', () => {
    const text = 'a: x:1 # {"$kipper": "shop/api"}\n---\nb: [1]\nc: x:1 # {"$kipper": "shop/api"}\n...\n';
    const result = set(text, 'ghcr.io/acme/api:2', { app });
    expect(result.text).toBe(text.replaceAll('x:1', 'ghcr.io/acme/api:2'));
    expect(result.matches.map((m) => [m.documentIndex, m.yamlPath])).toEqual([
      [0, 'a'],
      [1, 'c'],
    ]);
  });

  it('is what findImages reads for the app', () => {
    const text = 'a: ghcr.io/acme/api:1 # {"$kipper": "shop/api"}\nb: {repository: ghcr.io/acme/api, tag: "1"}\n';
    expect(findImages(text, { app }).map((f) => [f.kind, f.value])).toEqual([['marker', 'ghcr.io/acme/api:1']]);
    expect(findImages(text, { repository: 'ghcr.io/acme/api' }).map((f) => f.kind)).toEqual(['helmValues']);
  });
});

describe('setCommit and findCommits', () => {
  const text = [
    'spec:',
    '  source:',
    '    targetRevision: 9f8e7d6 # {"$kipper": "docs/site:commit"}',
    '  other: 9f8e7d6 # {"$kipper": "docs/other:commit"}',
    '  image: ghcr.io/acme/site:9f8e7d6 # {"$kipper": "docs/site"}',
    '',
  ].join('\n');

  it("sets the app's :commit markers and nothing else", () => {
    const result = setCommit(text, { app: 'docs/site', commit: COMMIT });
    expect(result.text).toBe(text.replace('targetRevision: 9f8e7d6', `targetRevision: ${COMMIT}`));
    expect(result.matches).toEqual([
      {
        kind: 'marker',
        documentIndex: 0,
        yamlPath: 'spec.source.targetRevision',
        fields: [],
        container: undefined,
        before: '9f8e7d6',
        after: COMMIT,
      },
    ]);
    expect(setCommit(result.text, { app: 'docs/site', commit: COMMIT }).changed).toBe(false);
  });

  it('quotes a commit that YAML would read as a number', () => {
    expect(setCommit(text, { app: 'docs/site', commit: '1234567' }).text).toContain('targetRevision: "1234567" #');
    expect(setCommit(text, { app: 'docs/site', commit: '1234e56' }).text).toContain('targetRevision: "1234e56" #');
  });

  it('finds no markers in a file without them, and reads the ones there are', () => {
    expect(setCommit('a: b\n', { app: 'docs/site', commit: COMMIT })).toEqual({ text: 'a: b\n', changed: false, matches: [] });
    expect(findCommits(text, 'docs/site')).toEqual([{ documentIndex: 0, yamlPath: 'spec.source.targetRevision', value: '9f8e7d6' }]);
    expect(findCommits(text, 'docs/nope')).toEqual([]);
  });

  it.each(['', 'main', 'abc', '9f8e7d6 # x', `${COMMIT}0`.repeat(2), 'g123456'])('rejects %j with INVALID_COMMIT', (commit) => {
    expect(codeOf(() => setCommit(text, { app: 'docs/site', commit }))).toBe('INVALID_COMMIT');
  });
});

describe('canBePlain for values written on their own (tags, digests, commits)', () => {
  it.each(['1.5.0', '2024.02.14', '4f3a2b1', COMMIT, `sha256:${SHA}`, 'v1.10', '1.5.0-rc.1'])('%s stays plain', (value) => {
    expect(canBePlain(value)).toBe(true);
  });
  it.each(['1.10', '10', '1e3', '0777', '1234567', '0x1f', '0b101', '1.5', '1.5.0-1', '2024-01-31', '1e10'])('%s is quoted', (value) => {
    expect(canBePlain(value)).toBe(false);
  });
});
