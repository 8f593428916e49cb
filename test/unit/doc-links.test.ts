import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every relative link in README.md and docs/*.md points at a file of this checkout, and
// an #anchor at a heading of that file (GitHub's ids: lower case, punctuation dropped,
// spaces as hyphens, -1, -2 … for repeats).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

const FENCED = /^```[^\n]*\n[\s\S]*?^```$/gm;
const INLINE_CODE = /`([^`\n]*)`/g;

/** Markdown without its fenced code blocks and inline code spans, where a `[x](y)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(FENCED, '').replace(INLINE_CODE, '');
}

/** Link targets: `[text](target)`, `![alt](target)`, `<img src>` and `<a href>`. */
export function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const targets: string[] = [];
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!);
  for (const m of text.matchAll(/<(?:img|a)\s[^>]*?(?:src|href)="([^"]+)"/g)) targets.push(m[1]!);
  return targets;
}

/** The ids GitHub gives the headings of a markdown file. */
export function anchors(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown
    .replace(FENCED, '')
    .replace(INLINE_CODE, '$1')
    .matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** What is wrong with each relative link of `page` (a path from the checkout's root). */
function brokenLinks(page: string): string[] {
  const markdown = readFileSync(join(ROOT, page), 'utf8');
  const broken: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: … are not relative
    const [path, anchor] = target.split('#', 2) as [string, string | undefined];
    const file = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), decodeURIComponent(path));
    if (!file.startsWith(ROOT) || !existsSync(file)) {
      broken.push(`${page}: ${target} (no such file: ${relative(ROOT, file)})`);
      continue;
    }
    if (
      anchor !== undefined &&
      file.endsWith('.md') &&
      statSync(file).isFile() &&
      !anchors(readFileSync(file, 'utf8')).has(anchor)
    ) {
      broken.push(`${page}: ${target} (no heading #${anchor} in ${relative(ROOT, file)})`);
    }
  }
  return broken;
}

describe('relative links in README.md and docs/', () => {
  it.each(PAGES)('%s: every relative link resolves', (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });

  it('reads links and heading ids the way GitHub does', () => {
    const md =
      '# How it writes to git\n## `kip` and the admin API\n## Notes\n## Notes\n```sh\n# not a heading\n[x](nowhere.md)\n```\n[a](docs/x.md#y) ![b](p.png) <img src="q.png">';
    expect([...anchors(md)]).toEqual(['how-it-writes-to-git', 'kip-and-the-admin-api', 'notes', 'notes-1']);
    expect(linkTargets(md)).toEqual(['docs/x.md#y', 'p.png', 'q.png']);
  });
});
