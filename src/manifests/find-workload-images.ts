import { isAlias, isScalar } from 'yaml';
import type { FinderContext, ImageFinder, ImageSite, ImageSiteKind } from './image-site.js';

// Where each workload kind keeps its pod spec. Other kinds (Service, ConfigMap, CRDs)
// are not workloads and are skipped even if they happen to contain `containers`.
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/** The kinds whose containers are found, and that an app's `workload: <Kind>/<name>` may name. */
export const WORKLOAD_KINDS: readonly string[] = Object.keys(POD_SPEC_PATHS);

const CONTAINER_LISTS: ReadonlyArray<readonly [key: string, kind: ImageSiteKind]> = [
  ['containers', 'container'],
  ['initContainers', 'initContainer'],
];

/** Finds the `image` of every container and initContainer of a Kubernetes workload. */
export const findWorkloadImages: ImageFinder = ({ doc, documentIndex, lookup }: FinderContext): ImageSite[] => {
  const kind = lookup.string(doc.contents, 'kind');
  const specPath = kind === undefined ? undefined : POD_SPEC_PATHS[kind];
  if (specPath === undefined) return [];

  let podSpec: unknown = doc.contents;
  for (const key of specPath) {
    podSpec = lookup.map(podSpec, key);
    if (podSpec === undefined) return [];
  }

  // A workload without a name (`generateName`) cannot be named in kipper.yaml; its kind
  // alone still tells the user which document it is.
  const name = lookup.string(lookup.map(doc.contents, 'metadata'), 'name');
  const workload = name === undefined ? kind : `${kind}/${name}`;
  const sites: ImageSite[] = [];
  for (const [listKey, siteKind] of CONTAINER_LISTS) {
    const list = lookup.seq(podSpec, listKey);
    if (list === undefined) continue;
    list.items.forEach((item, index) => {
      // Only an `image` key in the container itself counts. One inherited through a
      // `<<: *base` merge key is not followed: editing the shared anchor would change
      // every container merged from it, so such a file reports no match instead.
      const node = lookup.entry(item, 'image');
      const value = lookup.resolve(node);
      // An image that is not a string, or an empty `image:` with no bytes to replace,
      // is left for Kubernetes to reject; it can never match a posted image.
      if (node === undefined || !(isScalar(node) || isAlias(node)) || !isScalar(value)) return;
      const current = value.source;
      if (current === undefined || (isScalar(node) && node.srcToken === undefined)) return;
      sites.push({
        kind: siteKind,
        documentIndex,
        yamlPath: `${specPath.join('.')}.${listKey}[${index}].image`,
        fields: [],
        container: lookup.string(item, 'name'),
        workload,
        current,
        nodes: [node],
        plan: (image) => ({ after: image.raw, writes: current === image.raw ? [] : [{ node, value: image.raw }] }),
      });
    });
  }
  return sites;
};
