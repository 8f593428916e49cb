/**
 * Per-format YAML edit time (issue #4): every golden fixture of fixtures/manifests,
 * edited in process the way a deploy does (setImage / setCommit, parse included).
 */
import { performance } from 'node:perf_hooks';
import { parseImageReference } from '../../src/manifests/image-reference.js';
import { setCommit } from '../../src/manifests/set-commit.js';
import { setImage } from '../../src/manifests/set-image.js';
import { loadGoldenCases } from '../unit/manifests/load-fixtures.js';

/** Median µs per edit for each fixture, grouped by format (the fixture name's first word). */
export function editBench(
  rounds = 300,
): Array<{ format: string; fixtures: number; medianUs: number; worstUs: number }> {
  const byFormat = new Map<string, number[]>();
  for (const c of loadGoldenCases()) {
    const edit = c.commit
      ? () => setCommit(c.input, { app: c.app!, commit: c.commit! })
      : (() => {
          const image = parseImageReference(c.image!);
          return () => setImage(c.input, { image, container: c.container, workload: c.workload, app: c.app });
        })();
    for (let i = 0; i < 30; i++) edit(); // warm up the JIT
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      edit();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const format = formatOf(c.name);
    byFormat.set(format, [...(byFormat.get(format) ?? []), times[Math.floor(times.length / 2)]! * 1000]);
  }
  return [...byFormat].map(([format, us]) => {
    const sorted = [...us].sort((a, b) => a - b);
    return { format, fixtures: us.length, medianUs: sorted[Math.floor(sorted.length / 2)]!, worstUs: sorted.at(-1)! };
  });
}

function formatOf(name: string): string {
  if (name.startsWith('kustomize') || name.startsWith('flux-kustomization')) return 'kustomization images:';
  if (name.startsWith('helm') || name.startsWith('argocd-application-values')) return 'Helm values / HelmRelease';
  if (name.startsWith('markers') || name.startsWith('argocd-application-commit')) return '$kipper markers';
  return 'workloads';
}
