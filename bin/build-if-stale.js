#!/usr/bin/env node
// Builds dist/ with tsc only when it is stale, so `npm start` and `npm test` on a built
// checkout do not pay 5-10 s of tsc first (issue #9, "Startup cost").
//
// dist/ is fresh when every src/**/*.ts has its dist/**/*.js and the oldest of those is
// newer than every input: the sources, the directories holding them (a deleted or renamed
// file changes its directory), tsconfig*.json and package.json. tsc rewrites every output
// on each build, so a plain `npm run build` (what `prepare` and the Dockerfile run) counts
// as a build too and needs no stamp of its own. A build run here that fails leaves
// dist/.build-failed, so the next run builds again even though tsc emitted files.
//
// Paths are resolved from this file, not the working directory. `--check` only reports:
// exit 0 when dist/ is fresh, 1 with the reason on stderr when it is stale; it never builds.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
const failedMarker = join(dist, '.build-failed');

/** Every file and directory under `dir`, recursively. */
function walk(dir, files = [], dirs = [dir]) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      dirs.push(path);
      walk(path, files, dirs);
    } else files.push(path);
  }
  return { files, dirs };
}

const mtime = (path) => statSync(path).mtimeMs;

/** Why dist/ must be built, or undefined when it is fresh. */
function staleness() {
  if (!existsSync(dist)) return 'dist/ is missing';
  if (existsSync(failedMarker)) return 'the last build failed';
  const { files, dirs } = walk(src);
  const sources = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const configs = readdirSync(root)
    .filter((f) => /^tsconfig.*\.json$/.test(f) || f === 'package.json')
    .map((f) => join(root, f));
  let oldestOutput = Infinity;
  for (const source of sources) {
    const output = join(dist, relative(src, source)).replace(/\.ts$/, '.js');
    if (!existsSync(output)) return `${relative(root, output)} is missing`;
    oldestOutput = Math.min(oldestOutput, mtime(output));
  }
  for (const input of [...sources, ...dirs, ...configs]) {
    if (mtime(input) > oldestOutput) return `${relative(root, input) || '.'} changed since the last build`;
  }
  return undefined;
}

const reason = staleness();
if (reason === undefined) process.exit(0);
if (process.argv.includes('--check')) {
  process.stderr.write(`kip: dist/ is stale (${reason})\n`);
  process.exit(1);
}

process.stderr.write(`kip: building dist/ (${reason})\n`);
const started = new Date();
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  mkdirSync(dist, { recursive: true });
  writeFileSync(failedMarker, 'tsc failed; the next build-if-stale run builds again\n');
  process.exit(result.status ?? 1);
}
rmSync(failedMarker, { force: true });
// Date the outputs at the build's start: a source saved while tsc ran is then newer than
// them, and the next run builds again instead of trusting outputs made from the old text.
for (const source of walk(src).files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
  const output = join(dist, relative(src, source)).replace(/\.ts$/, '.js');
  if (existsSync(output)) utimesSync(output, started, started);
}
