import { describe, expect, it } from 'vitest';
import { isKipError } from '../../../src/errors.js';
import { canBePlain } from '../../../src/manifests/can-be-plain.js';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { findImages, setImage } from '../../../src/manifests/set-image.js';
import { maskSpans, maskTargets, targetSpans } from './yaml-spans.js';
import { codeOf } from '../../helpers/code-of.js';


function set(text: string, image: string, container?: string) {
  return setImage(text, { image: parseImageReference(image), container });
}

function pod(image: string, name = 'app'): string {
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: ${name}\n      image: ${image}\n`;
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/shop/api:1.4.1
      containers:
        # image: registry.example.com/shop/api:0.0.1 (a comment, never a target)
        - name: envoy
          image: envoyproxy/envoy:v1.30.1
        - name: api
          image: registry.example.com/shop/api:1.4.1
`;

describe('setImage', () => {
  it('returns the text unchanged and no matches when nothing matches', () => {
    const result = set(DEPLOYMENT, 'registry.example.com/shop/web:2.0.0');
    expect(result).toEqual({ text: DEPLOYMENT, changed: false, matches: [] });
  });

  it('returns no matches for an empty file or one with only comments', () => {
    expect(set('', 'nginx:1').matches).toEqual([]);
    expect(set('# nothing here\n', 'nginx:1').matches).toEqual([]);
  });

  it('updates every container and initContainer with the repository, in file order, and nothing else', () => {
    const result = set(DEPLOYMENT, 'registry.example.com/shop/api:1.5.0');
    expect(result.changed).toBe(true);
    expect(result.text).toBe(DEPLOYMENT.replaceAll('api:1.4.1', 'api:1.5.0'));
    expect(result.matches).toEqual([
      {
        kind: 'initContainer',
        documentIndex: 0,
        yamlPath: 'spec.template.spec.initContainers[0].image',
        fields: [],
        container: 'migrate',
        workload: 'Deployment/api',
        before: 'registry.example.com/shop/api:1.4.1',
        after: 'registry.example.com/shop/api:1.5.0',
      },
      {
        kind: 'container',
        documentIndex: 0,
        yamlPath: 'spec.template.spec.containers[1].image',
        fields: [],
        container: 'api',
        workload: 'Deployment/api',
        before: 'registry.example.com/shop/api:1.4.1',
        after: 'registry.example.com/shop/api:1.5.0',
      },
    ]);
  });

  it('matches repositories after Docker normalisation and writes the posted reference as given', () => {
    const result = set(pod('nginx:1.25'), 'docker.io/library/nginx:1.26');
    expect(result.text).toBe(pod('docker.io/library/nginx:1.26'));
    expect(set(pod('index.docker.io/library/nginx:1.25'), 'nginx:1.26').text).toBe(pod('nginx:1.26'));
    expect(set(pod('nginx:1.25'), 'ghcr.io/library/nginx:1.26').matches).toEqual([]);
  });

  it('matches a digest-pinned image and replaces the whole reference', () => {
    const sha = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
    expect(set(pod(`ghcr.io/acme/api:1@sha256:${sha}`), 'ghcr.io/acme/api:2').text).toBe(pod('ghcr.io/acme/api:2'));
    expect(set(pod('ghcr.io/acme/api:1'), `ghcr.io/acme/api@sha256:${sha}`).text).toBe(
      pod(`ghcr.io/acme/api@sha256:${sha}`),
    );
  });

  it('narrows to the named container whatever its repository, and leaves same-repository siblings alone', () => {
    const result = set(DEPLOYMENT, 'ghcr.io/acme/envoy-custom:2', 'envoy');
    expect(result.matches.map((m) => m.container)).toEqual(['envoy']);
    expect(result.text).toBe(DEPLOYMENT.replace('envoyproxy/envoy:v1.30.1', 'ghcr.io/acme/envoy-custom:2'));
    expect(set(DEPLOYMENT, 'registry.example.com/shop/api:9', 'nope').matches).toEqual([]);
  });

  it('matches a templated or invalid current image only by container name', () => {
    const text = pod('${IMAGE}');
    expect(set(text, 'nginx:1').matches).toEqual([]);
    expect(set(text, 'nginx:1', 'app').text).toBe(pod('nginx:1'));
  });

  it('skips containers without an image value', () => {
    const text = 'kind: Pod\nspec:\n  containers:\n    - name: app\n      image:\n    - name: b\n      image: {x: 1}\n';
    expect(set(text, 'nginx:1', 'app').matches).toEqual([]);
    expect(set(text, 'nginx:1', 'b').matches).toEqual([]);
  });

  it('ignores kinds that are not workloads even when they look like one', () => {
    const rollout = pod('nginx:1').replace('kind: Pod', 'kind: Rollout');
    expect(set(rollout, 'nginx:2').matches).toEqual([]);
    const noKind = pod('nginx:1').replace('kind: Pod\n', '');
    expect(set(noKind, 'nginx:2').matches).toEqual([]);
    const list = `kind: List\nitems:\n  - ${pod('nginx:1').replaceAll('\n', '\n    ').trimEnd()}\n`;
    expect(set(list, 'nginx:2').matches).toEqual([]);
  });

  it('counts documents the way the YAML stream has them, empty ones included', () => {
    const text = `---\n# empty\n---\n${pod('nginx:1')}`;
    expect(set(text, 'nginx:2').matches.map((m) => m.documentIndex)).toEqual([1]);
  });

  it('reads documents with directives and custom tags', () => {
    const text = `%YAML 1.1\n%TAG !k! tag:example.com,2024:\n---\nkind: !k!x Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1\n...\n`;
    expect(set(text, 'nginx:2').text).toBe(text.replace('nginx:1', 'nginx:2'));
  });

  it('does not follow merge keys to a shared image', () => {
    const text = `x-base: &base {image: nginx:1}\nkind: Pod\nspec:\n  containers:\n    - <<: *base\n      name: app\n`;
    expect(set(text, 'nginx:2').matches).toEqual([]);
  });

  it('keeps a tag and an anchor on the image scalar', () => {
    const text = pod('!!str &img nginx:1 # pinned');
    expect(set(text, 'nginx:2').text).toBe(pod('!!str &img nginx:2 # pinned'));
  });

  it('follows the path through aliased collections', () => {
    const text = `x-base: &c\n  - name: app\n    image: nginx:1\nkind: Pod\nspec:\n  containers: *c\n`;
    const result = set(text, 'nginx:2');
    expect(result.text).toBe(text.replace('nginx:1', 'nginx:2'));
    expect(result.matches.map((m) => m.yamlPath)).toEqual(['spec.containers[0].image']);
  });

  it('writes one scalar once when two sites reach it through an alias', () => {
    const text = `kind: Pod\nspec:\n  containers:\n    - &c {name: app, image: nginx:1}\n  initContainers:\n    - *c\n`;
    const result = set(text, 'nginx:2');
    expect(result.text).toBe(text.replace('nginx:1', 'nginx:2'));
    expect(result.matches).toHaveLength(2);
  });

  describe('an image written as an alias', () => {
    const text = `kind: Pod
spec:
  containers:
    - name: api
      image: &img registry.example.com/api:1
    - name: sidecar
      image: *img
`;

    it('follows its anchor when both are set', () => {
      const result = set(text, 'registry.example.com/api:2');
      expect(result.text).toBe(text.replace('api:1', 'api:2'));
      expect(result.matches.map((m) => m.container)).toEqual(['api', 'sidecar']);
    });

    it('is replaced by the value when only the alias is targeted, so the anchor keeps its value', () => {
      const result = set(text, 'registry.example.com/other:7', 'sidecar');
      expect(result.text).toBe(text.replace('*img', 'registry.example.com/other:7'));
      expect(result.matches.map((m) => m.container)).toEqual(['sidecar']);
    });

    it('reports every alias that follows an edited anchor', () => {
      const result = set(text, 'registry.example.com/api:2', 'api');
      expect(result.text).toBe(text.replace('api:1', 'api:2'));
      expect(result.matches.map((m) => [m.container, m.before, m.after])).toEqual([
        ['api', 'registry.example.com/api:1', 'registry.example.com/api:2'],
        ['sidecar', 'registry.example.com/api:1', 'registry.example.com/api:2'],
      ]);
    });
  });

  describe('quoting', () => {
    it.each([
      ['10', '"10"'],
      ['1.10', '"1.10"'],
      ['10:20', '"10:20"'],
      ['1e3', '"1e3"'],
      ['0x1f', '"0x1f"'],
      ['0o17', '"0o17"'],
      ['2024-01-31', '"2024-01-31"'],
      ['yes', '"yes"'],
      ['no', '"no"'],
      ['on', '"on"'],
      ['off', '"off"'],
      ['y', '"y"'],
      ['null', '"null"'],
      ['true', '"true"'],
      ['[::1]:5000/app:1', '"[::1]:5000/app:1"'],
      ['nginx:1.10', 'nginx:1.10'],
      ['registry.example.com/api:10', 'registry.example.com/api:10'],
      ['localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
      ['yes/no:true', 'yes/no:true'],
    ])('writes %s as %s over a plain scalar', (image, source) => {
      expect(set(pod('old:1 # c'), image, 'app').text).toBe(pod(`${source} # c`));
    });

    it('keeps single quotes, and double quotes, for any value', () => {
      expect(set(pod("'old:1'"), '10', 'app').text).toBe(pod("'10'"));
      expect(set(pod('"old:1"'), 'nginx:2', 'app').text).toBe(pod('"nginx:2"'));
      expect(set(pod('"old:1"'), '1.10', 'app').text).toBe(pod('"1.10"'));
    });

    it('keeps plain values plain inside a flow mapping', () => {
      const text = 'kind: Pod\nspec:\n  containers: [{name: app, image: old:1}]\n';
      expect(set(text, 'ghcr.io/acme/api:1.2', 'app').text).toBe(text.replace('old:1', 'ghcr.io/acme/api:1.2'));
      expect(set(text, '10:20', 'app').text).toBe(text.replace('old:1', '"10:20"'));
    });

    it('reads a plain multi-line scalar and replaces it whole', () => {
      const text = 'kind: Pod\nspec:\n  containers:\n    - name: app\n      image: old\n        :1\n      args: [a]\n';
      expect(findImages(text, { container: 'app' })[0]?.value).toBe('old :1');
      expect(set(text, 'nginx:2', 'app').text).toBe(
        'kind: Pod\nspec:\n  containers:\n    - name: app\n      image: nginx:2\n      args: [a]\n',
      );
    });
  });

  describe('canBePlain', () => {
    const needQuotes = [
      ...['~', 'null', 'Null', 'NULL', 'TRUE', 'False', 'Yes', 'NO', 'ON', 'Off', '<<', '='],
      ...['.inf', '-.inf', '.NaN', '+1', '-1', '.5', '1_000', '0b101', '0777', '1:20:30', '2001-12-14t21:59:43.10-05:00'],
      ...['', ' a', 'a ', 'a b', 'a: b', 'a #b', 'a:', '-', '---', '...', '?x', ':x', '*a', '&a', '!a', '|', '>'],
      ...["'a", '"a', '%a', '@a', '`a', '{a}', '[a]', 'a,b', 'a#b', 'a\nb', 'a\tb', '\u00e9', 'a\u0085b'],
    ];
    it.each(needQuotes)('%j needs quotes', (value) => {
      expect(canBePlain(value)).toBe(false);
    });

    const plainSafe = ['nginx', 'nginx:1.10', 'a/b:c', 'registry.example.com:5000/a', 'v1.2.3', 'sha-abc', 'x=1', 'a<b'];
    it.each(plainSafe)('%j is plain-safe', (value) => {
      expect(canBePlain(value)).toBe(true);
    });
  });

  describe('YAML errors', () => {
    it.each([
      ['an unclosed flow sequence', 'kind: Pod\nspec:\n  containers: [\n'],
      ['bad indentation', 'kind: Pod\nspec:\n  containers:\n  - name: a\n   image: x\n'],
      ['a duplicate key', 'kind: Pod\nkind: Pod\n'],
      ['an unterminated quote', 'kind: "Pod\n'],
      ['an error in a later document', `${pod('nginx:1')}---\na: [\n`],
      ['a tab used as indentation', 'kind: Pod\nspec:\n\tcontainers: []\n'],
    ])('throws YAML_PARSE_ERROR for %s', (_label, text) => {
      expect(codeOf(() => set(text, 'nginx:2'))).toBe('YAML_PARSE_ERROR');
      expect(codeOf(() => findImages(text, {}))).toBe('YAML_PARSE_ERROR');
    });

    it('says where the error is, without the file content', () => {
      try {
        set('kind: Pod\nspec:\n  containers: [\n', 'nginx:2');
        expect.unreachable();
      } catch (err) {
        expect(isKipError(err, 'YAML_PARSE_ERROR') && err.data).toMatchObject({ line: expect.any(Number) });
      }
    });
  });
});

describe('container and workload narrowing in a file of many workloads (issue #9)', () => {
  const REGISTRY = 'us-central1-docker.pkg.dev/google-samples/microservices-demo';
  // An all-in-one manifest: every Deployment names its container `server`.
  const deployment = (name: string, image: string, kind = 'Deployment') =>
    `apiVersion: apps/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: server\n          image: ${image}\n`;
  const service = (name: string) => `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  ports: [{port: 80}]\n`;
  const ALL_IN_ONE = [
    deployment('emailservice', `${REGISTRY}/emailservice:v0.10.2`),
    service('emailservice'),
    deployment('checkoutservice', `${REGISTRY}/checkoutservice:v0.10.2`),
    deployment('frontend', `${REGISTRY}/frontend:v0.10.2`),
  ].join('---\n');
  const target = (image: string, narrowing: { container?: string; workload?: string }) =>
    setImage(ALL_IN_ONE, { image: parseImageReference(image), ...narrowing });

  it('refuses a container name that hits workloads of different repositories, naming them', () => {
    expect(codeOf(() => target(`${REGISTRY}/checkoutservice:v0.10.3`, { container: 'server' }))).toBe('AMBIGUOUS_TARGET');
    expect(codeOf(() => findImages(ALL_IN_ONE, { container: 'server' }))).toBe('AMBIGUOUS_TARGET');
    try {
      target(`${REGISTRY}/checkoutservice:v0.10.3`, { container: 'server' });
      expect.unreachable();
    } catch (err) {
      expect(isKipError(err, 'AMBIGUOUS_TARGET') && err.data['workloads']).toEqual([
        'Deployment/emailservice',
        'Deployment/checkoutservice',
        'Deployment/frontend',
      ]);
    }
  });

  it('changes only the named workload when the app names it', () => {
    const posted = `${REGISTRY}/checkoutservice:v0.10.3`;
    const expected = ALL_IN_ONE.replace('checkoutservice:v0.10.2', 'checkoutservice:v0.10.3');
    const named = target(posted, { container: 'server', workload: 'Deployment/checkoutservice' });
    expect(named.text).toBe(expected);
    expect(named.matches.map((m) => [m.workload, m.container, m.documentIndex])).toEqual([['Deployment/checkoutservice', 'server', 2]]);
    // Without `container`, the repository picks the container inside the workload.
    expect(target(posted, { workload: 'Deployment/checkoutservice' }).text).toBe(expected);
    expect(target(posted, { workload: 'Deployment/frontend' }).matches).toEqual([]);
    // A named workload may run another repository: naming it is what allows that.
    const moved = target('ghcr.io/acme/frontend:2', { container: 'server', workload: 'Deployment/frontend' });
    expect(moved.text).toBe(ALL_IN_ONE.replace(`${REGISTRY}/frontend:v0.10.2`, 'ghcr.io/acme/frontend:2'));
    expect(findImages(ALL_IN_ONE, { container: 'server', workload: 'Deployment/frontend' }).map((f) => f.value)).toEqual([
      `${REGISTRY}/frontend:v0.10.2`,
    ]);
  });

  it('matches the workload by kind and name', () => {
    const text = `${deployment('api', 'ghcr.io/acme/api:1', 'StatefulSet')}---\n${deployment('api', 'ghcr.io/acme/api:1')}`;
    const result = setImage(text, { image: parseImageReference('ghcr.io/acme/api:2'), workload: 'StatefulSet/api' });
    expect(result.matches.map((m) => [m.workload, m.documentIndex])).toEqual([['StatefulSet/api', 0]]);
    expect(setImage(text, { image: parseImageReference('ghcr.io/acme/api:2'), workload: 'Job/api' }).matches).toEqual([]);
  });

  it('still updates every workload of one repository, whatever it is, by container name alone', () => {
    const twice = `${deployment('api', 'ghcr.io/acme/api:1')}---\n${deployment('api-canary', 'docker.io/acme/legacy:7')}`;
    const same = twice.replace('docker.io/acme/legacy:7', 'ghcr.io/acme/api:1');
    expect(set(same, 'ghcr.io/acme/api:2', 'server').text).toBe(same.replaceAll('api:1', 'api:2'));
    // Another repository than the posted one is fine when it is the only one named.
    const legacy = twice.replace('ghcr.io/acme/api:1', 'docker.io/acme/legacy:7');
    expect(set(legacy, 'ghcr.io/acme/api:2', 'server').text).toBe(legacy.replaceAll('docker.io/acme/legacy:7', 'ghcr.io/acme/api:2'));
    // Docker's normalisation decides what is one repository.
    const spelt = twice.replace('docker.io/acme/legacy:7', 'index.docker.io/acme/legacy:8').replace('ghcr.io/acme/api:1', 'acme/legacy:7');
    expect(set(spelt, 'ghcr.io/acme/api:2', 'server').matches).toHaveLength(2);
    expect(codeOf(() => set(twice, 'ghcr.io/acme/api:2', 'server'))).toBe('AMBIGUOUS_TARGET');
  });

  it('counts an image that is not a reference as a repository of its own', () => {
    const text = `${deployment('a', 'ghcr.io/acme/api:1')}---\n${deployment('b', '${IMAGE}')}`;
    expect(codeOf(() => set(text, 'ghcr.io/acme/api:2', 'server'))).toBe('AMBIGUOUS_TARGET');
  });

  it('leaves kustomize, Helm-values and marker sites to their own rules', () => {
    const release = 'kind: HelmRelease\nspec:\n  values:\n    image: {repository: ghcr.io/acme/api, tag: "1"}\n';
    const text = `${deployment('api', 'ghcr.io/acme/api:1')}---\n${deployment('web', 'ghcr.io/acme/web:1')}---\n${release}`;
    const result = setImage(text, { image: parseImageReference('ghcr.io/acme/api:2'), container: 'server', workload: 'Deployment/api' });
    expect(result.matches.map((m) => m.kind)).toEqual(['container', 'helmValues']);
    expect(result.text).toBe(text.replace('api:1', 'api:2').replace('tag: "1"', 'tag: "2"'));
    // Helm values are not containers, so they never make a container name ambiguous.
    const single = `${deployment('api', 'ghcr.io/acme/legacy:1')}---\n${release}`;
    expect(set(single, 'ghcr.io/acme/api:2', 'server').matches.map((m) => m.kind)).toEqual(['container', 'helmValues']);
  });
});

describe('findImages', () => {
  it('reads the images setImage would target', () => {
    expect(findImages(DEPLOYMENT, { repository: 'registry.example.com/shop/api' })).toEqual([
      {
        kind: 'initContainer',
        documentIndex: 0,
        yamlPath: 'spec.template.spec.initContainers[0].image',
        fields: [],
        container: 'migrate',
        workload: 'Deployment/api',
        value: 'registry.example.com/shop/api:1.4.1',
      },
      {
        kind: 'container',
        documentIndex: 0,
        yamlPath: 'spec.template.spec.containers[1].image',
        fields: [],
        container: 'api',
        workload: 'Deployment/api',
        value: 'registry.example.com/shop/api:1.4.1',
      },
    ]);
  });

  it('accepts a full reference as the repository and ignores its tag', () => {
    expect(findImages(DEPLOYMENT, { repository: 'registry.example.com/shop/api:9.9.9' })).toHaveLength(2);
  });

  it('narrows by container name, and lists everything with no filter', () => {
    expect(findImages(DEPLOYMENT, { container: 'envoy' }).map((f) => f.value)).toEqual(['envoyproxy/envoy:v1.30.1']);
    expect(findImages(DEPLOYMENT, { repository: 'nginx', container: 'envoy' })).toHaveLength(1);
    expect(findImages(DEPLOYMENT, {}).map((f) => f.container)).toEqual(['migrate', 'envoy', 'api']);
  });

  it('rejects an invalid repository with INVALID_IMAGE', () => {
    expect(codeOf(() => findImages(DEPLOYMENT, { repository: 'Bad Name' }))).toBe('INVALID_IMAGE');
  });
});

describe('the byte check used by the golden and property tests', () => {
  it('catches a change outside the image scalar', () => {
    const input = pod('nginx:1 # keep   spacing');
    const output = pod('nginx:2 # keep spacing');
    const targets = [{ documentIndex: 0, yamlPath: 'spec.containers[0].image' }];
    expect(maskSpans(output, targetSpans(output, targets))).not.toBe(maskSpans(input, targetSpans(input, targets)));
  });

  const entry = 'images:\n  - name: api # the api\n    digest: sha256:%s\nresources: [a.yaml]\n';
  const targets = [{ documentIndex: 0, yamlPath: 'images[0]', fields: ['newName', 'newTag', 'digest'] }];
  const masked = (before: string, after: string): boolean => {
    const [a, b] = maskTargets(before, after, targets);
    return a === b;
  };

  it('accepts a key added or dropped in a split site, and nothing more', () => {
    const input = entry.replace('%s', 'a'.repeat(64));
    const replaced = 'images:\n  - name: api # the api\n    newTag: "2"\nresources: [a.yaml]\n';
    expect(masked(input, replaced)).toBe(true);
    expect(masked(input, replaced.replace('# the api', '# the  api'))).toBe(false);
    expect(masked(input, replaced.replace('resources:', '\nresources:'))).toBe(false);
    expect(masked(input, replaced.replace('name: api', 'name: apj'))).toBe(false);
    expect(masked(input, replaced.replace('newTag', 'newtag'))).toBe(false);
  });

  it('accepts a value filled in after a bare colon, and not a moved comment', () => {
    const input = 'image:\n  repository: api\n  tag: # none yet\n';
    const targets = [{ documentIndex: 0, yamlPath: 'image', fields: ['tag'] }];
    const [a, b] = maskTargets(input, 'image:\n  repository: api\n  tag: "2" # none yet\n', targets);
    expect(b).toBe(a);
    const [c, d] = maskTargets(input, 'image:\n  repository: api\n  tag: "2" # none  yet\n', targets);
    expect(d).not.toBe(c);
  });
});
