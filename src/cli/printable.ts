/**
 * Control characters a terminal acts on instead of printing: C0 (ESC starts colour codes
 * and `ESC ] 0 ; … BEL` retitles the window), DEL, C1 (0x9b is a one-byte CSI), and the
 * bidirectional overrides and isolates that reorder what is shown (Trojan Source).
 * A commit message, an author or a kipper.yaml reason is anyone's text (issue #18, §5).
 */
// eslint-disable-next-line no-control-regex -- control characters are what this finds
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- the same, newlines included
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `text` with every control character but the newline written as a `\uXXXX` escape, so it
 * prints as what it is. What `kip` writes to the terminal passes through here, JSON too:
 * in `JSON.stringify` output such a character can only stand inside a string, where
 * `\uXXXX` is the same JSON value (DEL and C1 are the ones it leaves raw).
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** One table cell or line: `printable`, and a newline escaped too, so it cannot break the row. */
export function printableLine(text: string): string {
  return text.replace(UNSAFE_IN_LINE, escape);
}
