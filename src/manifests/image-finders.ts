import { findHelmValues } from './find-helm-values.js';
import { findKustomizeImages } from './find-kustomize-images.js';
import { findWorkloadImages } from './find-workload-images.js';
import type { ImageFinder } from './image-site.js';

/**
 * Every automatic finder. Their sites are reported in file order whatever the order
 * here. `$kipper` setter markers are not in this list: they are not matched by
 * repository, and where an app has them they replace all of these (collect-sites.ts).
 */
export const imageFinders: readonly ImageFinder[] = [findWorkloadImages, findKustomizeImages, findHelmValues];
