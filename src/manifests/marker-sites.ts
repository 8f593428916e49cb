import type { ImageReference } from './image-reference.js';
import type { ImageSite, ScalarWrite } from './image-site.js';
import type { SetterMarker } from './setter-markers.js';
import { composeReference, sameRepository, scalarValue } from './site-values.js';

type ImagePart = 'image' | 'name' | 'tag' | 'digest';
const PARTS: readonly ImagePart[] = ['name', 'tag', 'digest'];

/**
 * The image sites of one app's markers. Part markers (`:name`, `:tag`, `:digest`) on
 * keys of the same mapping are one site, so a marked `{repository, tag}` pair reads and
 * reports as one image; a whole-reference marker, a part marker on a list item, and
 * any marker in a mapping that marks one part twice are sites of their own.
 */
export function markerSites(markers: readonly SetterMarker[]): ImageSite[] {
  const groups = new Map<object, SetterMarker[]>();
  const single: SetterMarker[] = [];
  for (const marker of markers) {
    if (marker.part === 'commit') continue;
    if (marker.part === 'image' || marker.parent === undefined) {
      single.push(marker);
      continue;
    }
    const group = groups.get(marker.parent) ?? [];
    group.push(marker);
    groups.set(marker.parent, group);
  }
  const sites = single.map(singleSite);
  for (const group of groups.values()) {
    const parts = group.map((m) => m.part);
    if (new Set(parts).size === parts.length) sites.push(groupSite(group));
    else sites.push(...group.map(singleSite));
  }
  return sites.sort((a, b) => a.documentIndex - b.documentIndex || offsetOf(a) - offsetOf(b));
}

/** The value a marked scalar gets for `image` (its current value where the image says nothing about that part). */
function partValue(part: ImagePart, current: string, image: ImageReference): string {
  switch (part) {
    case 'image':
      return image.raw;
    case 'name':
      // The same repository spelt differently (`nginx`, `docker.io/library/nginx`) stays as written.
      return sameRepository(current, image.repository) ? current : image.repository;
    case 'tag':
      // A digest-only image leaves the tag; an image with neither is `latest`.
      return image.tag ?? (image.digest === undefined ? 'latest' : current);
    case 'digest':
      // Empty when the image has none, so a stale pin does not outlive a tag deploy.
      return image.digest ?? '';
  }
}

function singleSite(marker: SetterMarker): ImageSite {
  const part = marker.part as ImagePart;
  const current = scalarValue(marker.node);
  return {
    kind: 'marker',
    documentIndex: marker.documentIndex,
    yamlPath: marker.yamlPath,
    fields: [],
    container: undefined,
    workload: undefined,
    current,
    nodes: [marker.node],
    plan: (image) => {
      const value = partValue(part, current, image);
      return { after: value, writes: value === current ? [] : [{ node: marker.node, value }] };
    },
  };
}

function groupSite(group: readonly SetterMarker[]): ImageSite {
  const [first] = group as [SetterMarker];
  const byPart = new Map(group.map((m) => [m.part as ImagePart, m]));
  const read = (values: ReadonlyMap<ImagePart, string>): string =>
    composeReference(values.get('name'), values.get('tag'), values.get('digest'));
  const currentValues = new Map(group.map((m) => [m.part as ImagePart, scalarValue(m.node)]));
  return {
    kind: 'marker',
    documentIndex: first.documentIndex,
    yamlPath: first.parentPath,
    fields: group.map((m) => m.key as string),
    container: undefined,
    workload: undefined,
    current: read(currentValues),
    nodes: group.map((m) => m.node),
    plan: (image) => {
      const writes: ScalarWrite[] = [];
      const after = new Map<ImagePart, string>();
      for (const part of PARTS) {
        const marker = byPart.get(part);
        if (marker === undefined) continue;
        const current = currentValues.get(part) as string;
        const value = partValue(part, current, image);
        after.set(part, value);
        if (value !== current) writes.push({ node: marker.node, value });
      }
      return { after: read(after), writes };
    },
  };
}

function offsetOf(site: ImageSite): number {
  return site.nodes[0]?.range?.[0] ?? 0;
}
