/**
 * The contract between `setImage`/`findImages` and the finders. A finder looks at one
 * composed document and reports every place that holds an image, without deciding
 * whether it matches: matching and writing are shared, so a new kind of target is one
 * more finder and nothing else.
 */
import type { Alias, Document, Scalar } from 'yaml';
import type { ImageReference } from './image-reference.js';
import type { NodeLookup } from './node-lookup.js';
import type { Splice } from './render-scalar.js';

/**
 * What kind of place holds the image: a workload's (init)container, a kustomize
 * `images:` entry, a Helm-values `{repository, tag}` mapping, or `$kipper` setter markers.
 */
export type ImageSiteKind = 'container' | 'initContainer' | 'kustomize' | 'helmValues' | 'marker';

/** One scalar to rewrite: the node as written at the site (an alias is replaced in place). */
export interface ScalarWrite {
  node: Scalar | Alias;
  value: string;
}

/** What a site needs changed to read as the posted image. */
export interface SitePlan {
  /** The full reference the site reads as afterwards. */
  after: string;
  writes: ScalarWrite[];
  /**
   * Keys added to or removed from the site's mapping (kustomize's `newTag` and
   * `digest`), as splices of the original text. Never overlapping a write.
   */
  splices?: Splice[];
}

/** Where a site is and what kind it is: what a site, a reading of it and a match share. */
export type SiteWhere = Pick<ImageSite, 'kind' | 'documentIndex' | 'yamlPath' | 'fields' | 'container' | 'workload'>;

/** The SiteWhere fields of a site or a reading of one, alone (no YAML nodes kept alive). */
export function whereOf(site: SiteWhere): SiteWhere {
  const { kind, documentIndex, yamlPath, fields, container, workload } = site;
  return { kind, documentIndex, yamlPath, fields, container, workload };
}

/** A place in a document that holds an image reference. */
export interface ImageSite {
  kind: ImageSiteKind;
  documentIndex: number;
  /**
   * Dotted path with [index] for sequences, e.g. `spec.template.spec.containers[0].image`:
   * the scalar itself, or for a site split over several keys, the mapping holding them.
   */
  yamlPath: string;
  /**
   * For a split site, the keys of the mapping at `yamlPath` that this site may write,
   * add or remove (`['newName', 'newTag', 'digest']`); empty when `yamlPath` is the scalar.
   */
  fields: readonly string[];
  /** The container's `name`, for `container:` narrowing; undefined where there is none. */
  container: string | undefined;
  /**
   * The workload a container is in, `<kind>/<metadata.name>` (`Deployment/api`), for
   * `workload:` narrowing; undefined for sites outside workloads.
   */
  workload: string | undefined;
  /** The full image reference the site reads as now. */
  current: string;
  /**
   * The repositories the site answers to when matching by repository. Defaults to the
   * repository of `current`; a kustomize entry answers to its `name` and its `newName`.
   */
  repositories?: readonly string[];
  /** The nodes, as written, that the site reads `current` from, in file order. */
  nodes: ReadonlyArray<Scalar | Alias>;
  /**
   * The edits that make this site read as `image`. A site split over several scalars
   * (repository + tag) writes only the parts that change.
   */
  plan(image: ImageReference): SitePlan;
}

/** What a finder gets to look at: one document of a file, and the file's text for splices. */
export interface FinderContext {
  text: string;
  doc: Document.Parsed;
  documentIndex: number;
  lookup: NodeLookup;
}

/** Reports every image site in one document. */
export type ImageFinder = (context: FinderContext) => ImageSite[];
