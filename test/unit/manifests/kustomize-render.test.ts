/**
 * The kustomize fixtures, edited, rendered by `kubectl kustomize`: the same rendering
 * Argo CD and Flux do. Proves that the keys we write, add and drop mean to kustomize
 * what `after` says. Skipped, with the reason in the title, where kubectl is missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMap, isSeq, parseAllDocuments, parseDocument, type Document } from 'yaml';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { setImage, type ImageMatch } from '../../../src/manifests/set-image.js';
import { loadGoldenCases } from './load-fixtures.js';
import { splitYamlPath } from './yaml-spans.js';

const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 10_000 });
const kubectl = probe.status === 0;
const title = kubectl ? '' : ' (skipped: kubectl is not on PATH, so kustomize rendering cannot be checked here)';

const cases = loadGoldenCases().filter((c) => c.image !== undefined && /(^|\n)\s*images:/.test(c.input) && /Kustomization/.test(c.input));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A kustomization holding the edited entry's images list as the edit left it, over a
 * Deployment with one container per entry. The rest of the fixture (resources that are
 * not here, patches) is dropped: only the images transformer is under test.
 */
function render(text: string, match: ImageMatch): string {
  const doc = parseAllDocuments(text)[match.documentIndex] as Document.Parsed;
  const path = splitYamlPath(match.yamlPath);
  const images = doc.getIn(path.slice(0, -1), true);
  if (!isSeq(images)) throw new Error(`no images list above ${match.yamlPath}`);
  const names = images.items.map((entry) => (isMap(entry) ? String(entry.get('name')) : ''));
  const kustomization = parseDocument('resources: [deployment.yaml]\n');
  kustomization.set('images', images);
  const containers = names.map((name, i) => `        - name: c${i}\n          image: ${name}:0.0.0-base\n`).join('');
  const dir = mkdtempSync(join(tmpdir(), 'kipper-kustomize-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'kustomization.yaml'), kustomization.toString());
  writeFileSync(
    join(dir, 'deployment.yaml'),
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers:\n${containers}`,
  );
  const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`kubectl kustomize failed: ${run.stderr}`);
  const rendered = parseDocument(run.stdout).toJS() as {
    spec: { template: { spec: { containers: Array<{ name: string; image: string }> } } };
  };
  const index = path[path.length - 1] as number;
  return rendered.spec.template.spec.containers.find((c) => c.name === `c${index}`)?.image ?? '';
}

describe.skipIf(!kubectl)(`kubectl kustomize renders the edited kustomize fixtures${title}`, () => {
  it('has kustomize fixtures to render', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });

  describe.each(cases)('$name', (golden) => {
    it('renders the posted image, and random tags and digests of the same repository', () => {
      const posted = parseImageReference(golden.image as string);
      const repository = parseImageReference(setImage(golden.input, { image: posted }).matches[0]?.after ?? '').repository;
      const sha = (seed: number) => `sha256:${seed.toString(16).padStart(8, '0').repeat(8)}`;
      const images = [
        posted.raw,
        `${repository}:1.10`,
        `${repository}@${sha(golden.name.length)}`,
        `${repository}:v2-rc.1@${sha(golden.input.length)}`,
      ];
      for (const raw of images) {
        const { text, matches } = setImage(golden.input, { image: parseImageReference(raw) });
        expect(matches.length).toBeGreaterThan(0);
        for (const match of matches) expect(render(text, match), `${raw} at ${match.yamlPath}`).toBe(match.after);
      }
    });
  });
});
