/**
 * Whether `value` reads back as the same string when written as a plain (unquoted)
 * scalar, in any context (block or flow) and under both YAML 1.2 (the `yaml` package,
 * Argo CD's and Flux's parsers) and YAML 1.1 (go-yaml v2 behind `kubectl` and
 * sigs.k8s.io/yaml, which still reads `yes`, `0777`, `1_000` and `10:20` as non-strings).
 * Deliberately conservative: quoting a value that did not need it is harmless, a plain
 * `1.10` that Kubernetes reads as the float 1.1 is not.
 */
export function canBePlain(value: string): boolean {
  if (value === '') return false;
  // No spaces, no control or non-ASCII characters: that also rules out ': ' and ' #'.
  if (/[^\x21-\x7e]/.test(value)) return false;
  // Indicators at the start, flow indicators and '#' anywhere, ':' at the end. '+' and
  // '.' start numbers (`+1`, `.5`, `.inf`); '-' and '.' also start `---` and `...`.
  if (/^[-?:,[\]{}#&*!|>'"%@`+.]/.test(value) || /[,[\]{}#]/.test(value) || value.endsWith(':')) return false;
  if (looksNumeric(value)) return false;
  return !NON_STRING.some((pattern) => pattern.test(value));
}

/**
 * Anything that starts like a number and stays in number alphabet: decimal, octal,
 * hex, binary, exponents, `_` separators and YAML 1.1 base-60 (`1:20`), e.g. `10`,
 * `1.10`, `0x1F`, `0o17`, `1e3`, `1_000`, `10:20`, `2024-01-31`. Two exceptions keep
 * the usual tags plain, now that tags are written on their own (Helm `tag`, kustomize
 * `newTag`): a hex letter other than `e` without a `0x`/`0b`/`0o` prefix (git SHAs,
 * `4f3a2b1`), and digits with two or more dots (`1.5.0`), which no YAML 1.1 or 1.2
 * resolver (go-yaml, libyaml, the `yaml` package) reads as anything but a string.
 */
function looksNumeric(value: string): boolean {
  if (!/^[0-9][0-9a-fA-FoOxX_.:+-]*$/.test(value)) return false;
  if (/^[0-9]+(?:\.[0-9]+){2,}$/.test(value)) return false;
  return /^0[xXbBoO]/.test(value) || !/[a-dfA-DF]/.test(value);
}

const NON_STRING: readonly RegExp[] = [
  // null, in both versions
  /^(?:~|null|Null|NULL)$/,
  // booleans: YAML 1.2 has true/false, YAML 1.1 adds y/n, yes/no and on/off
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  // YAML 1.1 timestamps with a time part (`2001-12-14t21:59:43.10-05:00`)
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[Tt]/,
  // infinities and not-a-number (also covered by the '+' and '.' rule above)
  /^\.(?:inf|Inf|INF|nan|NaN|NAN)$/,
  // YAML 1.1 merge and value keys
  /^(?:<<|=)$/,
];
