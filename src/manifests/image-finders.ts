import { findWorkloadImages } from './find-workload-images.js';
import type { ImageFinder } from './image-site.js';

/**
 * Every finder, in the order their sites are reported. Kustomize `images:`, Helm
 * values and `$kipper` setter markers join this list.
 */
export const imageFinders: readonly ImageFinder[] = [findWorkloadImages];
