import type { Document } from 'yaml';
import { imageFinders } from './image-finders.js';
import type { ImageSite } from './image-site.js';
import { markerSites } from './marker-sites.js';
import { NodeLookup } from './node-lookup.js';
import { findSetterMarkers } from './setter-markers.js';

/** The sites of one file for one app, and whether they come from the app's markers. */
export interface FileSites {
  sites: ImageSite[];
  byMarkers: boolean;
}

/**
 * The image sites of a file. When `app` has image markers in the file (`ns/app`,
 * `:name`, `:tag`, `:digest`), those are the only sites: a marker says exactly where
 * the image goes, so automatic matching, which could also hit a copy of the image
 * elsewhere in the file, is off (docs/design.md "The config repo"). Otherwise the automatic
 * finders' sites, minus any that would write a scalar carrying a marker: that scalar
 * belongs to the app its marker names (or is a commit), and is left alone.
 */
export function collectSites(text: string, documents: readonly Document.Parsed[], app: string | undefined): FileSites {
  const markers = findSetterMarkers(text, documents);
  if (app !== undefined) {
    const mine = markers.filter((marker) => marker.app === app && marker.part !== 'commit');
    if (mine.length > 0) return { sites: markerSites(mine), byMarkers: true };
  }
  const marked = new Set<unknown>(markers.map((marker) => marker.node));
  const sites: ImageSite[] = [];
  documents.forEach((doc, documentIndex) => {
    const context = { text, doc, documentIndex, lookup: new NodeLookup(doc) };
    const found: ImageSite[] = [];
    for (const finder of imageFinders) found.push(...finder(context));
    // File order, so matches read top to bottom like the diff (initContainers usually
    // come before containers).
    sites.push(...found.filter((site) => !site.nodes.some((node) => marked.has(node))).sort((a, b) => offsetOf(a) - offsetOf(b)));
  });
  return { sites, byMarkers: false };
}

function offsetOf(site: ImageSite): number {
  return site.nodes[0]?.range?.[0] ?? 0;
}
