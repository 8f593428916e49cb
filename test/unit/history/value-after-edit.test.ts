import { describe, expect, it } from 'vitest';
import { parseKipperFile, type AppConfig } from '../../../src/config/kipper-file.js';
import { appValue, repositoryOf, valueAfterEdit } from '../../../src/history/app-value.js';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { setCommit } from '../../../src/manifests/set-commit.js';
import { setImage } from '../../../src/manifests/set-image.js';
import { loadGoldenCases } from '../manifests/load-fixtures.js';

function appOf(
  id: string,
  fields: { source?: string; container?: string | undefined; workload?: string | undefined },
): AppConfig {
  const [namespace, name] = id.split('/');
  const extra = [
    fields.source ? `, source: ${fields.source}` : '',
    fields.container ? `, container: ${JSON.stringify(fields.container)}` : '',
    fields.workload ? `, workload: ${fields.workload}` : '',
  ].join('');
  return parseKipperFile(`apps:\n  - {namespace: ${namespace}, name: ${name}, files: [a.yaml]${extra}}\n`).apps.get(
    id,
  )!;
}

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** Posted images for a case: its own, other tags and digests of its repository, and another repository. */
function postings(image: string): string[] {
  const repository = parseImageReference(image).repository;
  return [
    image,
    `${repository}:v9`,
    `${repository}:1.10`,
    `${repository}@${DIGEST}`,
    `${repository}:10@${DIGEST}`,
    'other.example.com/team/else:2',
  ];
}

// History learns a deploy's value from the edit instead of parsing the files again
// (issue #14): whatever the edit reports must be what a reading of its output gives.
describe('valueAfterEdit', () => {
  describe.each(loadGoldenCases())('$name', (golden) => {
    const id = golden.app ?? 'shop-test/api';
    if (golden.commit !== undefined) {
      it('tells the commit a reading of the edited file gives', () => {
        const app = appOf(id, { source: 'git' });
        for (const commit of [golden.commit!, '0123abc', '1e45678']) {
          const result = setCommit(golden.input, { app: id, commit });
          expect(valueAfterEdit(app, result.matches)).toEqual(appValue(app, [result.text], undefined));
        }
      });
      return;
    }
    it('tells the images a reading of the edited file gives', () => {
      const app = appOf(id, { container: golden.container, workload: golden.workload });
      let told = 0;
      for (const posted of postings(golden.image!)) {
        const image = parseImageReference(posted);
        let result;
        try {
          result = setImage(golden.input, { image, container: app.container, workload: app.workload, app: id });
        } catch {
          continue; // refused (ambiguous): a deploy writes nothing, history reads nothing
        }
        if (result.matches.length === 0) continue; // NO_IMAGE_TARGET: no commit
        const learned = valueAfterEdit(app, result.matches);
        if (learned === undefined) continue;
        told++;
        expect(learned, posted).toEqual(appValue(app, [result.text], repositoryOf(image.raw)));
      }
      expect(told).toBeGreaterThan(0);
    });
  });

  it('cannot tell when an alias followed an edited anchor, and says so', () => {
    const text =
      'kind: Pod\nspec:\n  containers:\n    - name: api\n      image: &img registry.example.com/api:1\n    - name: sidecar\n      image: *img\n';
    const app = appOf('shop-test/api', { container: 'api' });
    const result = setImage(text, {
      image: parseImageReference('registry.example.com/api:2'),
      container: 'api',
      app: app.id,
    });
    expect(result.matches.some((m) => m.throughAlias)).toBe(true);
    expect(valueAfterEdit(app, result.matches)).toBeUndefined();
  });

  it('counts only containers and markers for an app with a container, as a reading does', () => {
    const text =
      'kind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: server, image: nginx:1}\n' +
      '---\nimages:\n  - name: docker.io/library/nginx\n    newTag: "1"\n';
    const app = appOf('shop-test/api', { container: 'server' });
    const image = parseImageReference('nginx:2');
    const result = setImage(text, { image, container: 'server', app: app.id });
    expect(result.matches.map((m) => m.kind)).toEqual(['container', 'kustomize']);
    expect(result.matches.map((m) => m.after)).toEqual(['nginx:2', 'docker.io/library/nginx:2']);
    expect(valueAfterEdit(app, result.matches)).toEqual({ images: ['nginx:2'] });
    expect(valueAfterEdit(app, result.matches)).toEqual(appValue(app, [result.text], repositoryOf(image.raw)));
  });
});
