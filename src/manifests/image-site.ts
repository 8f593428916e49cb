/**
 * The contract between `setImage`/`findImages` and the finders. A finder looks at one
 * composed document and reports every place that holds an image, without deciding
 * whether it matches: matching and writing are shared, so a new kind of target
 * (kustomize `images:`, Helm `{repository, tag}` values, `$kipper` setter markers) is
 * one more finder and nothing else.
 */
import type { Alias, Document, Scalar } from 'yaml';
import type { ImageReference } from './image-reference.js';

/** What kind of place holds the image; grows with each finder. */
export type ImageSiteKind = 'container' | 'initContainer';

/** One scalar to rewrite: the node as written at the site (an alias is replaced in place). */
export interface ScalarWrite {
  node: Scalar | Alias;
  value: string;
}

/** A place in a document that holds an image reference. */
export interface ImageSite {
  kind: ImageSiteKind;
  documentIndex: number;
  /** Dotted path with [index] for sequences, e.g. `spec.template.spec.containers[0].image`. */
  yamlPath: string;
  /** The container's `name`, for `container:` narrowing; undefined where there is none. */
  container: string | undefined;
  /** The full image reference the site reads as now. */
  current: string;
  /** The nodes, as written, that the site reads `current` from (one for a whole reference). */
  nodes: ReadonlyArray<Scalar | Alias>;
  /**
   * The writes that make this site read as `image`, and the full reference it then
   * reads as. A site split over several scalars (repository + tag) returns one write
   * per part that changes.
   */
  plan(image: ImageReference): { after: string; writes: ScalarWrite[] };
}

/** Reports every image site in one document. */
export type ImageFinder = (doc: Document.Parsed, documentIndex: number) => ImageSite[];
