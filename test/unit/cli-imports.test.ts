import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const ENTRY = resolve(SRC, 'cli/index.ts');

/**
 * What a module loads when it is imported: its static imports that survive compilation
 * (`import type` and imports of types only are erased), not `await import(…)`.
 */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'([^']+)'/gm)) {
    const [, typeOnly, names, target] = m;
    if (typeOnly) continue;
    const specifiers = /\{([^}]*)\}/.exec(names ?? '')?.[1];
    const onlyTypes =
      specifiers !== undefined &&
      !/^\s*\w/.test(names!) &&
      specifiers.split(',').every((s) => s.trim() === '' || s.trim().startsWith('type '));
    if (!onlyTypes) out.push(target!);
  }
  // Side-effect imports: `import './x.js'`.
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) out.push(m[1]!);
  return out;
}

/** Every module `kip` loads before it knows the command: files of src (relative to it) and packages. */
function loadedBy(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const target of staticImports(file)) {
      if (target.startsWith('.')) visit(resolve(dirname(file), target.replace(/\.js$/, '.ts')));
      else packages.add(target);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => relative(SRC, f)).sort(), packages: [...packages].sort() };
}

// Issue #18: every kip command loaded the bridge (express, zod, pino, …) to print its help
// or call one API: 0.27 s where `node -e 0` takes 0.06 s. Only `kip serve` may load it.
describe('what kip loads before it knows the command', () => {
  const { files, packages } = loadedBy(ENTRY);

  it('reads the erased and the dynamic imports right', () => {
    expect(staticImports(ENTRY)).toContain('./args.js');
    expect(staticImports(ENTRY)).not.toContain('./serve.js');
    expect(readFileSync(ENTRY, 'utf8')).toMatch(/await import\('\.\/serve\.js'\)/);
    expect(files.length).toBeGreaterThan(10);
  });

  it('is the client side only: no module of the bridge, and no package but node built-ins', () => {
    expect(
      files.filter(
        (f) => !/^(cli\/|errors\.ts$|api-types\.ts$|history\/relative-time\.ts$|config\/secrets\.ts$)/.test(f),
      ),
    ).toEqual([]);
    expect(files).not.toContain('cli/serve.ts');
    expect(packages.filter((p) => !p.startsWith('node:'))).toEqual([]);
  });
});
