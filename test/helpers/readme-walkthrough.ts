/**
 * The quick-start walkthrough as a script: it starts in README.md and goes on in
 * docs/walkthrough.md, one script on one bridge and data dir (later commands depend on what
 * earlier ones did). In each page the fenced blocks between `<!-- walkthrough -->` and
 * `<!-- /walkthrough -->` are read in order, each ```sh block a command and the ```text
 * block right after it what that command prints. The rules for what may vary between the
 * pages and a run (placeholders) are written here once, and each page's comment at its
 * walkthrough's start points here.
 */

/** One command of the walkthrough and what its page says it prints. */
export interface WalkthroughStep {
  /** The command as written in the ```sh block (trailing newline dropped). */
  command: string;
  /** The ```text block after it, as written. */
  expected: string;
  /** The page it is written in (its path from the checkout's root), for failure messages. */
  file: string;
  /** 1-based line of the ```sh fence in that page, for failure messages. */
  line: number;
}

/** A markdown page that holds part of the walkthrough. */
export interface WalkthroughPage {
  /** Its path from the checkout's root, e.g. `README.md` or `docs/walkthrough.md`. */
  file: string;
  markdown: string;
}

const START = '<!-- walkthrough -->';
const END = '<!-- /walkthrough -->';

/**
 * The steps between the walkthrough markers of each page, the pages in the order given, as
 * one script. Throws when a page has no markers or more than one pair, a command block has no output block after
 * it, an output block has no command before it, or a page's walkthrough has no steps: a
 * page the test cannot read must fail, never pass with fewer steps.
 */
export function readWalkthrough(pages: readonly WalkthroughPage[]): WalkthroughStep[] {
  if (pages.length === 0) throw new Error('readWalkthrough: no pages given');
  return pages.flatMap((page) => readPage(page));
}

function readPage({ file, markdown }: WalkthroughPage): WalkthroughStep[] {
  const start = markdown.indexOf(START);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file} has no ${START} … ${END} section`);
  // A second section would be skipped without a word: one section per page.
  if (markdown.includes(START, start + 1) || markdown.includes(END, end + 1))
    throw new Error(`${file} has more than one ${START} … ${END} section`);
  const firstLine = markdown.slice(0, start).split('\n').length;
  const lines = markdown.slice(start, end).split('\n');
  const blocks: { lang: string; body: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') body.push(lines[j++]!);
    if (j >= lines.length) throw new Error(`${file} line ${firstLine + i}: unclosed code block in the walkthrough`);
    blocks.push({ lang: open[1]!, body: body.join('\n'), line: firstLine + i });
    i = j;
  }
  const steps: WalkthroughStep[] = [];
  for (let k = 0; k < blocks.length; k++) {
    const block = blocks[k]!;
    if (block.lang === 'sh') {
      const next = blocks[k + 1];
      if (next?.lang !== 'text')
        throw new Error(
          `${file} line ${block.line}: a walkthrough command needs a \`\`\`text block with its output right after it`,
        );
      steps.push({ command: block.body, expected: next.body, file, line: block.line });
      k++;
    } else {
      throw new Error(
        `${file} line ${block.line}: a \`\`\`${block.lang} block in the walkthrough that follows no \`\`\`sh block`,
      );
    }
  }
  if (steps.length === 0) throw new Error(`${file}: the walkthrough has no steps`);
  return steps;
}

/**
 * Placeholders an output block may use. A bound one stands for one value throughout the
 * walkthrough (the first output that shows it fixes it, and commands after that get the
 * value in its place), and two bound placeholders never stand for the same value.
 */
export const PLACEHOLDERS: Readonly<Record<string, { pattern: string; bound: boolean }>> = {
  // The example app's webhook token that `npm start` printed.
  '<token>': { pattern: '[0-9a-f]{64}', bound: true },
  // The token `kip app webhook enable` made in its place.
  '<new token>': { pattern: '[0-9a-f]{64}', bound: true },
  // Any full commit id.
  '<sha>': { pattern: '[0-9a-f]{40}', bound: false },
  // git's default date line: `Mon Dec 7 05:59:02 2026 +0000`.
  '<date>': { pattern: '[A-Z][a-z]{2} [A-Z][a-z]{2} \\d{1,2} \\d{2}:\\d{2}:\\d{2} \\d{4} [+-]\\d{4}', bound: false },
  // The directory `npm start` ran in (the checkout; the test's own fresh directory).
  '<checkout>': { pattern: '\\S+', bound: true },
};

/** A relative time as history prints it (`2 min ago`, `1 hour ago`): any one matches any other. */
const RELATIVE_TIME = /\b\d+ (?:sec|min|hours?|days?|months?|years?) ago\b/g;
const RELATIVE_TIME_PATTERN = '\\d+ (?:sec|min|hours?|days?|months?|years?) ago';

const PLACEHOLDER = new RegExp(`${Object.keys(PLACEHOLDERS).join('|')}|${RELATIVE_TIME.source}`, 'g');

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `escape`, and a run of two or more spaces (between table columns) matches any such run:
 * a relative time (`0 sec ago`, `12 sec ago`) before a column moves the columns after it.
 */
function escapeText(text: string): string {
  return escape(text).replace(/ {2,}/g, ' {2,}');
}

/** Values the bound placeholders stand for so far. */
export type Bindings = Map<string, string>;

/** `text` with every bound placeholder replaced by its value (for the commands). */
export function fillIn(text: string, bindings: Bindings): string {
  let out = text;
  for (const [name, value] of bindings) out = out.split(name).join(value);
  return out;
}

/**
 * Whether `actual` is what `expected` says, placeholders and relative times aside. On a
 * match, new bindings are added to `bindings`; on a mismatch, `bindings` is unchanged and
 * `reason` says why (the caller shows a diff).
 */
export function matchOutput(
  expected: string,
  actual: string,
  bindings: Bindings,
): { ok: true } | { ok: false; reason: string } {
  const groups: string[] = [];
  let source = '';
  let last = 0;
  for (const m of expected.matchAll(PLACEHOLDER)) {
    source += escapeText(expected.slice(last, m.index));
    last = m.index + m[0].length;
    const name = m[0];
    const spec = PLACEHOLDERS[name];
    if (!spec) {
      source += RELATIVE_TIME_PATTERN;
    } else if (spec.bound && bindings.has(name)) {
      source += escape(bindings.get(name)!);
    } else if (spec.bound && groups.includes(name)) {
      source += `\\k<p${groups.indexOf(name)}>`;
    } else if (spec.bound) {
      source += `(?<p${groups.length}>${spec.pattern})`;
      groups.push(name);
    } else {
      source += spec.pattern;
    }
  }
  source += escapeText(expected.slice(last));
  const m = new RegExp(`^${source}$`).exec(actual);
  if (!m) return { ok: false, reason: 'the output differs from the page' };
  const found = new Map<string, string>();
  groups.forEach((name, i) => found.set(name, m.groups![`p${i}`]!));
  for (const [name, value] of found) {
    for (const [other, otherValue] of [...bindings, ...found]) {
      if (other !== name && otherValue === value)
        return { ok: false, reason: `${name} and ${other} stand for the same value` };
    }
  }
  for (const [name, value] of found) bindings.set(name, value);
  return { ok: true };
}

/** `expected` with bound placeholders filled in and relative times taken from `actual`, for a readable diff. */
export function renderExpected(expected: string, actual: string, bindings: Bindings): string {
  const times = actual.match(RELATIVE_TIME) ?? [];
  let i = 0;
  return fillIn(expected, bindings).replace(RELATIVE_TIME, (t) => times[i++] ?? t);
}
