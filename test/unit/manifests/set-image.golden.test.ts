import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { setCommit } from '../../../src/manifests/set-commit.js';
import { setImage, type EditResult } from '../../../src/manifests/set-image.js';
import { loadGoldenCases, type GoldenCase } from './load-fixtures.js';
import { expectReadsAsPosted } from './site-reading.js';
import { jsAt, maskTargets } from './yaml-spans.js';

const cases = loadGoldenCases();

/** The edit a case describes: an image (setImage) or, for a git-source app, a commit (setCommit). */
function edit(golden: GoldenCase, text = golden.input): EditResult {
  if (golden.commit !== undefined) return setCommit(text, { app: golden.app as string, commit: golden.commit });
  const image = parseImageReference(golden.image as string);
  return setImage(text, { image, container: golden.container, workload: golden.workload, app: golden.app });
}

describe('setImage golden files (fixtures/manifests)', () => {
  it('has the cases the edit must survive', () => {
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        // workloads
        'deployment-commented',
        'crlf',
        'bom',
        'no-final-newline',
        'multi-document',
        'sidecar-and-init-containers',
        'shared-image',
        'long-lines',
        'quoted-single',
        'quoted-double',
        'flow-container',
        'anchors-aliases',
        'statefulset',
        'daemonset',
        'job',
        'cronjob',
        'pod',
        'replicaset',
        'container-narrowing',
        'all-in-one-workload',
        'numeric-tag',
        // kustomize
        'kustomize-commented',
        'kustomize-flow-entries',
        'kustomize-flow-number-tag',
        'kustomize-missing-newtag',
        'kustomize-missing-newtag-crlf-no-final-newline',
        'kustomize-digest-replaces-newtag',
        'kustomize-tag-and-digest-first-key',
        'kustomize-moved-repository',
        'kustomize-null-values',
        'flux-kustomization-images',
        // Helm values
        'helm-values-nested',
        'helm-values-registry-split',
        'helm-values-number-tags',
        'helm-values-integer-tag',
        'helm-values-digest-in-tag',
        'helm-values-anchors',
        'helm-values-crlf-bom-no-final-newline',
        'helm-values-tag-null',
        'helm-values-tag-tilde',
        'helm-multi-document',
        'helmrelease-flux',
        'argocd-application-values-object',
        // markers
        'markers-crd',
        'markers-helmrelease-crlf-bom',
        'markers-values-sequence',
        'argocd-application-commit',
      ]),
    );
  });

  describe.each(cases)('$name', (golden) => {
    it('produces expected.yaml byte for byte', () => {
      const result = edit(golden);
      expect(result.text).toBe(golden.expected);
      expect(result.changed).toBe(true);
      expect(result.matches).toHaveLength(golden.matches);
    });

    it('differs from the input only inside the target values (and keys added or dropped there)', () => {
      const { text, matches } = edit(golden);
      const [before, after] = maskTargets(golden.input, text, matches);
      expect(after).toBe(before);
    });

    it('reads back as the posted value in YAML 1.1 and 1.2', () => {
      const { text, matches } = edit(golden);
      if (golden.commit !== undefined) {
        for (const match of matches) {
          expect(match.after).toBe(golden.commit);
          expect(jsAt(text, match, '1.1')).toBe(golden.commit);
          expect(jsAt(text, match, '1.2')).toBe(golden.commit);
        }
        return;
      }
      expectReadsAsPosted(text, matches, parseImageReference(golden.image as string));
    });

    it('is idempotent: setting the same value again changes nothing', () => {
      const once = edit(golden).text;
      const twice = edit(golden, once);
      expect(twice.text).toBe(once);
      expect(twice.changed).toBe(false);
      expect(twice.matches.every((m) => m.before === m.after)).toBe(true);
    });
  });
});
