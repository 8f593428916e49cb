import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, realpath, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const PROJECT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'bin/build-if-stale.js';

/** Run the stale check of `root` (its own copy of the script) with `args`. */
function buildIfStale(
  root: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Run from elsewhere: the script must find the project from its own path.
    const child = spawn(process.execPath, [join(root, SCRIPT), ...args], {
      cwd: tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every file under dist/ with its mtime: equal snapshots mean nothing was written. */
async function distMtimes(root: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out[relative(root, path)] = (await stat(path)).mtimeMs;
    }
  };
  await walk(join(root, 'dist'));
  return out;
}

/** Set a file's mtime to now, as an editor's save does. */
const touch = (path: string) => utimes(path, new Date(), new Date());

// Issue #9, "Startup cost": `npm start` and `npm test` build only when dist/ is stale.
// A small project with the real script, configs and node_modules, so each tsc run is short.
describe('build-if-stale on a small project', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kipper-build-'));
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'src', 'cli'), { recursive: true });
    for (const file of [SCRIPT, 'package.json', 'tsconfig.json', 'tsconfig.build.json'])
      await copyFile(join(PROJECT, file), join(root, file));
    await symlink(await realpath(join(PROJECT, 'node_modules')), join(root, 'node_modules'));
    await writeFile(join(root, 'src', 'errors.ts'), "export const code: string = 'USAGE';\n");
    await writeFile(
      join(root, 'src', 'cli', 'index.ts'),
      "import { code } from '../errors.js';\nexport const answer = code.length;\n",
    );
  });

  it('builds when dist/ is missing', async () => {
    const res = await buildIfStale(root);
    expect(res.stderr).toBe('kip: building dist/ (dist/ is missing)\n');
    expect(res.code).toBe(0);
    expect(Object.keys(await distMtimes(root))).toEqual(
      expect.arrayContaining(['dist/errors.js', 'dist/cli/index.js']),
    );
  });

  it('decides fresh on a built checkout without running tsc: nothing in dist/ is written', async () => {
    const before = await distMtimes(root);
    const res = await buildIfStale(root);
    expect([res.code, res.stdout, res.stderr]).toEqual([0, '', '']);
    expect(await distMtimes(root)).toEqual(before);
    expect(await buildIfStale(root, '--check')).toMatchObject({ code: 0, stderr: '' });
  });

  it('builds when a source file was saved since the last build', async () => {
    const before = await distMtimes(root);
    await touch(join(root, 'src', 'errors.ts'));
    expect(await buildIfStale(root, '--check')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'kip: dist/ is stale (src/errors.ts changed since the last build)\n',
    });
    expect(await distMtimes(root)).toEqual(before);
    const res = await buildIfStale(root);
    expect(res.stderr).toBe('kip: building dist/ (src/errors.ts changed since the last build)\n');
    expect(res.code).toBe(0);
    const after = await distMtimes(root);
    expect(after['dist/errors.js']).toBeGreaterThan(before['dist/errors.js']!);
    expect(after['dist/cli/index.js']).toBeGreaterThan(before['dist/cli/index.js']!);
    expect(await buildIfStale(root)).toMatchObject({ code: 0, stderr: '' });
  });

  it.each(['tsconfig.build.json', 'tsconfig.json', 'package.json'])('builds when %s changed', async (file) => {
    await touch(join(root, file));
    const res = await buildIfStale(root);
    expect([res.code, res.stderr]).toEqual([0, `kip: building dist/ (${file} changed since the last build)\n`]);
  });

  it('builds when a source file is added or removed', async () => {
    await writeFile(join(root, 'src', 'cli', 'extra.ts'), 'export const extra = 1;\n');
    expect((await buildIfStale(root)).stderr).toBe('kip: building dist/ (dist/cli/extra.js is missing)\n');
    await rm(join(root, 'src', 'cli', 'extra.ts'));
    // Only the directory records a deletion.
    expect((await buildIfStale(root)).stderr).toBe('kip: building dist/ (src/cli changed since the last build)\n');
    expect((await buildIfStale(root)).stderr).toBe('');
  });

  it('builds again after a failed build, although tsc emitted files', async () => {
    await writeFile(join(root, 'src', 'errors.ts'), 'export const code: string = 42;\n');
    const failed = await buildIfStale(root);
    expect(failed.code).not.toBe(0);
    expect(failed.stdout).toContain('error TS2322');
    expect((await buildIfStale(root, '--check')).stderr).toBe('kip: dist/ is stale (the last build failed)\n');
    await writeFile(join(root, 'src', 'errors.ts'), "export const code: string = 'USAGE';\n");
    const fixed = await buildIfStale(root);
    expect([fixed.code, fixed.stderr]).toEqual([0, 'kip: building dist/ (the last build failed)\n']);
    expect((await buildIfStale(root)).stderr).toBe('');
  });
});

describe('build-if-stale on this checkout', () => {
  // Every other integration test runs dist/ (`npm test` builds it first), so here it is fresh.
  it('decides that the built checkout is fresh', async () => {
    const res = await buildIfStale(PROJECT, '--check');
    expect([res.code, res.stderr]).toEqual([0, '']);
  });
});
