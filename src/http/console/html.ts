/**
 * HTML by tagged template, escaped by default: every interpolated value is text unless it
 * is Html made by `html` itself (or `attrs`), so a value from git (an image, a commit
 * message, an author) can never become markup. Arrays are joined.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML: `&<>"'` escaped (safe in element content and in quoted attributes). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(part: Part): string {
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  if (part === null || part === undefined || part === false) return '';
  return escapeHtml(String(part));
}

/** The tagged template: `html\`<p>${text}</p>\``. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new Html(out);
}

/** Attributes from an object: `true` writes the bare name, `false`/null/undefined leaves it out. */
export function attrs(values: Record<string, string | number | boolean | null | undefined>): Html {
  const out: string[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (v === false || v === null || v === undefined) continue;
    out.push(v === true ? name : `${name}="${escapeHtml(String(v))}"`);
  }
  return new Html(out.join(' '));
}
