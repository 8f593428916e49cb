import { isMap, type Alias, type Scalar } from 'yaml';
import type { ImageReference } from './image-reference.js';
import type { FinderContext, ImageFinder, ImageSite, ScalarWrite, SitePlan } from './image-site.js';
import { composeReference, parseRepository, scalarFields, type ScalarField } from './site-values.js';
import { walkNodes } from './walk-nodes.js';

const KEYS = ['registry', 'repository', 'tag', 'digest'] as const;

/**
 * Finds Helm-values style images: every mapping with `repository` and `tag` (and
 * optionally `registry` and `digest`), at any depth and in any document, which covers
 * values.yaml, a Flux HelmRelease's `spec.values`, an Argo CD Application's
 * `helm.valuesObject` and kustomize `helmCharts[].valuesInline` alike. Matching by
 * repository keeps this safe: a mapping of another image is never touched. A
 * `helm.values` block string is text to YAML, not values, and is not looked into.
 */
export const findHelmValues: ImageFinder = (context: FinderContext): ImageSite[] => {
  const sites: ImageSite[] = [];
  walkNodes(context.doc.contents, (node, place) => {
    if (!isMap(node)) return;
    const fields = scalarFields(context.lookup, node, KEYS);
    const repository = fields?.get('repository');
    const tag = fields?.get('tag');
    if (fields === undefined || repository === undefined || tag === undefined) return;
    const registry = fields.get('registry')?.value;
    const name = registry ? `${registry.replace(/\/+$/, '')}/${repository.value}` : repository.value;
    if (parseRepository(name) === undefined) return;
    const digest = fields.get('digest');
    sites.push({
      kind: 'helmValues',
      documentIndex: context.documentIndex,
      yamlPath: place.path,
      fields: digest === undefined ? ['tag'] : ['tag', 'digest'],
      container: undefined,
      workload: undefined,
      current: composeReference(name, tag.value, digest?.value),
      repositories: [name],
      nodes: KEYS.flatMap((key) => fields.get(key)?.node ?? []).sort(byOffset),
      plan: (image) => planValues(name, tag, digest, image),
    });
  });
  return sites;
};

/**
 * Only `tag` and `digest` are written: the mapping was matched by its repository, so
 * `registry`/`repository` already name it. With a `digest` key the digest goes there
 * (`""` when the image has none, so a stale pin does not outlive a tag deploy);
 * without one it is appended to the tag (`1.4.2@sha256:…`), which the usual
 * `{{ .repository }}:{{ .tag }}` template turns into a pinned reference. A digest-only
 * image keeps the tag that is there (charts pull by the digest); an image with neither
 * is `latest`, as Docker reads it.
 */
function planValues(name: string, tag: ScalarField, digest: ScalarField | undefined, image: ImageReference): SitePlan {
  const writes: ScalarWrite[] = [];
  let newTag: string;
  let newDigest: string | undefined;
  if (digest !== undefined) {
    newTag = image.tag ?? (image.digest === undefined ? 'latest' : tag.value);
    newDigest = image.digest ?? '';
    if (digest.value !== newDigest) writes.push({ node: digest.node, value: newDigest });
  } else {
    const kept = tag.value.split('@')[0] || 'latest';
    newTag = (image.tag ?? (image.digest === undefined ? 'latest' : kept)) + (image.digest ? `@${image.digest}` : '');
  }
  if (tag.value !== newTag) writes.push({ node: tag.node, value: newTag });
  return { after: composeReference(name, newTag, newDigest), writes };
}

function byOffset(a: Scalar | Alias, b: Scalar | Alias): number {
  return (a.range?.[0] ?? 0) - (b.range?.[0] ?? 0);
}
