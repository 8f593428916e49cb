import { CST } from 'yaml';
import { canBePlain } from './can-be-plain.js';

/** A replacement of `text.slice(start, end)` by `source`. */
export interface Splice {
  start: number;
  end: number;
  source: string;
}

/**
 * The splice that makes the scalar (or alias) token `token` read as `value`, keeping
 * its quoting style when `value` can be written in it, and double quotes otherwise.
 * Only the token's own bytes are replaced: its anchor, tag and trailing comment are
 * separate tokens and stay as they are.
 */
export function renderScalar(token: CST.Token, value: string): Splice {
  switch (token.type) {
    case 'scalar':
    case 'alias':
      return flowSplice(token, canBePlain(value) ? value : doubleQuoted(value));
    case 'single-quoted-scalar':
      return flowSplice(token, canBeSingleQuoted(value) ? `'${value.replaceAll("'", "''")}'` : doubleQuoted(value));
    case 'double-quoted-scalar':
      return flowSplice(token, doubleQuoted(value));
    case 'block-scalar':
      return blockSplice(token, value);
    default:
      throw new Error(`cannot write a scalar over a ${token.type} token`);
  }
}

/** A new value where there was none: plain when it reads back as the same string, double-quoted otherwise. */
export function renderNewScalar(value: string): string {
  return canBePlain(value) ? value : doubleQuoted(value);
}

/**
 * The splice that fills an empty value (`tag:` with nothing after it, or only a
 * comment) at `offset`, where the parser puts the empty scalar: a space after the
 * indicator when there is none, and one before a comment that follows.
 */
export function renderIntoEmpty(text: string, offset: number, value: string): Splice {
  const before = offset > 0 && !/[ \t]/.test(text[offset - 1] ?? '') ? ' ' : '';
  const after = text[offset] === '#' ? ' ' : '';
  return { start: offset, end: offset, source: `${before}${renderNewScalar(value)}${after}` };
}

function flowSplice(token: CST.FlowScalar | CST.SourceToken, source: string): Splice {
  return { start: token.offset, end: token.offset + token.source.length, source };
}

/**
 * A block scalar (`image: |-` on its own line) stays a block scalar: same indicator,
 * same indentation, same line break and any comment after the header. Chomping becomes
 * strip (`-`) because the value has no final line break; blank lines that followed
 * the content are kept.
 */
function blockSplice(token: CST.BlockScalar, value: string): Splice {
  const [header, ...afterHeader] = token.props;
  const start = token.offset;
  const end = start + token.props.reduce((n, prop) => n + CST.stringify(prop).length, 0) + token.source.length;
  const headerRest = afterHeader.map((prop) => CST.stringify(prop)).join('');
  const lineBreak = headerRest.endsWith('\r\n') ? '\r\n' : '\n';
  const lines = token.source.split(/(?<=\n)/);
  let last = lines.length - 1;
  while (last >= 0 && (lines[last] ?? '').trim() === '') last -= 1;
  const trailing = lines.slice(last + 1).join('');
  if (header?.type !== 'block-scalar-header' || last < 0 || !canBeBlockLine(value)) {
    // Not expected for image references; fall back to a quoted flow scalar that keeps
    // the header's comment and the blank lines.
    return { start, end, source: `${doubleQuoted(value)}${headerRest}${trailing}` };
  }
  const indent = /^[ ]*/.exec(lines[last] ?? '')?.[0] ?? '';
  const indicator = header.source.startsWith('>') ? '>' : '|';
  return { start, end, source: `${indicator}-${headerRest}${indent}${value}${lineBreak}${trailing}` };
}

// Printable characters that need no escaping and carry no line break (YAML c-printable
// minus the line separators that YAML 1.1 treats as breaks).
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]/;

function canBeSingleQuoted(value: string): boolean {
  return !UNPRINTABLE.test(value);
}

function canBeBlockLine(value: string): boolean {
  return value !== '' && !UNPRINTABLE.test(value) && !/^[ \t]|[ \t]$/.test(value) && !value.includes('\t');
}

/** A YAML double-quoted scalar; escapes everything that is not safely printable. */
function doubleQuoted(value: string): string {
  // JSON escapes quotes, backslashes and C0 controls; the rest is escaped by hand so
  // that DEL, C1 controls and line separators never appear raw in the file.
  return JSON.stringify(value).replace(
    /[\x7f-\x9f\u2028\u2029\ufeff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
