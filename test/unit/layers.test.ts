import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The layers of src (issue #10): dependencies point down only. Each module may import
 * the modules listed for it, and nothing above. The leaves (errors, log, metrics,
 * api-types) import no other module.
 */
const ALLOWED: Record<string, readonly string[]> = {
  cli: ['http', 'history', 'config', 'errors', 'log', 'api-types'],
  http: [
    'identity',
    'webhooks',
    'deploys',
    'rollout',
    'history',
    'manifests',
    'config',
    'errors',
    'log',
    'metrics',
    'api-types',
  ],
  // identity: who a request is (tokens, sessions' people) and what kipper.yaml `access:` lets them do.
  identity: ['deploys', 'webhooks', 'config', 'errors'],
  webhooks: ['config', 'errors'],
  deploys: [
    'lease',
    'hosts',
    'rollout',
    'notify',
    'history',
    'manifests',
    'config',
    'repo',
    'signing',
    'errors',
    'log',
    'metrics',
    'api-types',
  ],
  rollout: ['config', 'errors'],
  // lease: the write Lease of KIPPER_LEASE fences the repo's pushes (docs/running-in-a-cluster.md "Replicas").
  lease: ['config', 'repo', 'errors', 'log'],
  // The git hosts' pull request APIs (pull-request mode, issue #20).
  hosts: ['config', 'repo', 'errors'],
  history: ['manifests', 'config', 'repo', 'errors', 'api-types'],
  manifests: ['errors'],
  config: ['manifests', 'notify', 'errors', 'log'],
  // log: a credential source logs a rotation (a Logger handed in, type only).
  repo: ['errors', 'log'],
  signing: ['errors'],
  notify: ['log'],
  errors: [],
  log: [],
  metrics: [],
  'api-types': [],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** `http` for src/http/x.ts, `errors` for src/errors.ts. */
function moduleOf(file: string): string {
  const [first] = relative(SRC, file).split('/');
  return first!.replace(/\.ts$/, '');
}

/** Every `importer -> imported` edge between modules of src. */
function edges(): Array<{ from: string; to: string; file: string }> {
  const out: Array<{ from: string; to: string; file: string }> = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
      const from = moduleOf(file);
      const to = moduleOf(target);
      if (from !== to) out.push({ from, to, file: relative(SRC, file) });
    }
  }
  return out;
}

describe('the layers of src', () => {
  it('has every module in the table', () => {
    const modules = new Set(sourceFiles(SRC).map(moduleOf));
    expect([...modules].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('points dependencies down only: cli → http → (webhooks, deploys) → (history, manifests, config) → repo', () => {
    const found = edges();
    expect(found.length).toBeGreaterThan(20);
    const upward = found.filter((e) => !ALLOWED[e.from]?.includes(e.to)).map((e) => `${e.file}: ${e.from} → ${e.to}`);
    expect(upward).toEqual([]);
  });

  it('keeps express in src/http', () => {
    const outside = sourceFiles(SRC).filter(
      (f) => moduleOf(f) !== 'http' && /from 'express'/.test(readFileSync(f, 'utf8')),
    );
    expect(outside.map((f) => relative(SRC, f))).toEqual([]);
  });
});
