import { isMap, type YAMLMap, type YAMLSeq } from 'yaml';
import type { ImageReference } from './image-reference.js';
import type { FinderContext, ImageFinder, ImageSite, ScalarWrite, SitePlan } from './image-site.js';
import { insertPairs, removePair } from './pair-edits.js';
import { renderNewScalar, type Splice } from './render-scalar.js';
import { composeReference, parseRepository, sameRepository, scalarFields, type ScalarField } from './site-values.js';

const KEYS = ['name', 'newName', 'newTag', 'digest'] as const;
const WRITABLE = ['newName', 'newTag', 'digest'] as const;

/**
 * Finds the entries of a kustomization's `images:` (kustomize.config.k8s.io, also a
 * kustomization.yaml without `kind`) and of a Flux Kustomization's `spec.images`,
 * which has the same fields.
 */
export const findKustomizeImages: ImageFinder = (context: FinderContext): ImageSite[] => {
  const { doc, lookup } = context;
  const root = doc.contents;
  const kind = lookup.string(root, 'kind');
  const apiVersion = lookup.string(root, 'apiVersion') ?? '';
  let images: YAMLSeq | undefined;
  let basePath: string;
  if (kind === undefined || apiVersion.startsWith('kustomize.config.k8s.io/')) {
    images = lookup.seq(root, 'images');
    basePath = 'images';
  } else if (kind === 'Kustomization' && apiVersion.startsWith('kustomize.toolkit.fluxcd.io/')) {
    images = lookup.seq(lookup.map(root, 'spec'), 'images');
    basePath = 'spec.images';
  } else {
    return [];
  }
  if (images === undefined) return [];

  const sites: ImageSite[] = [];
  images.items.forEach((entry, index) => {
    // An entry written as `*alias` is skipped: editing its anchor would also change
    // whatever else shares it.
    if (!isMap(entry)) return;
    const fields = scalarFields(lookup, entry, KEYS);
    const name = fields?.get('name');
    if (fields === undefined || name === undefined || parseRepository(name.value) === undefined) return;
    const newName = fields.get('newName');
    const repositories = [name.value];
    if (newName?.value && parseRepository(newName.value) !== undefined) repositories.push(newName.value);
    sites.push({
      kind: 'kustomize',
      documentIndex: context.documentIndex,
      yamlPath: `${basePath}[${index}]`,
      fields: WRITABLE,
      container: undefined,
      workload: undefined,
      current: composeReference(newName?.value || name.value, fields.get('newTag')?.value, fields.get('digest')?.value),
      repositories,
      nodes: KEYS.flatMap((key) => fields.get(key)?.node ?? []),
      plan: (image) => planEntry(context.text, entry, fields, image),
    });
  });
  return sites;
};

/**
 * What `kustomize edit set image` would do to the entry: a tag sets `newTag` and drops
 * `digest`, a digest sets `digest` and drops `newTag`, both set both. A posted image
 * with neither is `latest`, as Docker reads it. An entry found by its `name` whose
 * `newName` points elsewhere (the image moved registries) gets the posted repository as
 * `newName`; one found by `newName` keeps it. Values already right are not rewritten.
 */
function planEntry(
  text: string,
  entry: YAMLMap,
  fields: ReadonlyMap<string, ScalarField>,
  image: ImageReference,
): SitePlan {
  const writes: ScalarWrite[] = [];
  const splices: Splice[] = [];
  const name = fields.get('name') as ScalarField;
  const newName = fields.get('newName');
  const wanted: Record<(typeof WRITABLE)[number], string | undefined> = {
    newName: newName?.value ? newName.value : undefined,
    newTag: image.tag ?? (image.digest === undefined ? 'latest' : undefined),
    digest: image.digest,
  };
  const repository = wanted.newName ?? name.value;
  if (!sameRepository(repository, image.repository)) wanted.newName = image.repository;

  // Keys to add go right after the last key that stays before them, in kustomize's own
  // order (name, newName, newTag, digest); several added after the same key are one insertion.
  const insertions = new Map<number, Array<[string, string]>>();
  let anchor = name.index;
  for (const key of WRITABLE) {
    const field = fields.get(key);
    const value = wanted[key];
    if (field === undefined) {
      if (value === undefined) continue;
      const list = insertions.get(anchor) ?? [];
      list.push([key, renderNewScalar(value)]);
      insertions.set(anchor, list);
    } else if (value === undefined) {
      // newName is never removed: an empty one means "unset" to kustomize already.
      if (key !== 'newName') splices.push(removePair(text, entry, field.index));
    } else {
      if (field.value !== value) writes.push({ node: field.node, value });
      anchor = Math.max(anchor, field.index);
    }
  }
  for (const [after, entries] of insertions) splices.push(insertPairs(text, entry, after, entries));
  return { after: composeReference(wanted.newName ?? name.value, wanted.newTag, wanted.digest), writes, splices };
}
