import { Composer, Parser, type Document, type YAMLError } from 'yaml';
import { KipError } from '../errors.js';

/**
 * Compose every document in `text`, keeping each node's source token so edits can be
 * spliced into the original bytes. Throws `KipError('YAML_PARSE_ERROR')` on the first
 * syntax error. The failsafe schema reads every scalar as a string: we only look at
 * keys and image strings, and `1.10` must stay `1.10`, not become the number 1.1.
 */
export function parseDocuments(text: string): Document.Parsed[] {
  const composer = new Composer({ keepSourceTokens: true, schema: 'failsafe' });
  const documents = [...composer.compose(new Parser().parse(text), false, text.length)];
  const errors: YAMLError[] = [...composer.streamInfo().errors];
  for (const doc of documents) errors.push(...doc.errors);
  const first = errors[0];
  if (first) {
    const { line, column } = position(text, first.pos[0]);
    throw new KipError(
      'YAML_PARSE_ERROR',
      `YAML syntax error at line ${line}, column ${column}: ${first.message}. Fix the file so that it parses as YAML.`,
      { line, column, yamlCode: first.code },
    );
  }
  return documents;
}

// Only runs on the error path, so a linear scan beats keeping a LineCounter per parse.
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
