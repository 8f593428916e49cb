import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBareRepo } from './git-cli.js';

/** The example config repo the bridge seeds its embedded default from. */
export const SEED_FIXTURE = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));

/** The namespace and app ids of a generated config repo's apps. */
export function appIds(count: number, namespace = 'team-test'): string[] {
  return Array.from({ length: count }, (_, i) => `${namespace}/app-${String(i).padStart(4, '0')}`);
}

/** A small Deployment for a generated app, with a sidecar that must never change. */
export function deploymentYaml(name: string, namespace: string, image: string): string {
  return `# ${name}: generated test app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  template:
    spec:
      containers:
        - name: ${name}
          image: ${image} # set by kipper
        - name: proxy
          image: docker.io/envoyproxy/envoy:v1.30.1
`;
}

/** Options of a generated config repo. */
export interface ConfigTreeOptions {
  /** More keys of an app's kipper.yaml entry, e.g. `argocd: { application: x }`. */
  appKeys?: (id: string, index: number) => string | undefined;
}

/**
 * Write a config repo of `count` generated apps (plus the seed's demo app) into a new
 * directory, each with its webhook enabled (generation 1). Returns the directory.
 */
export async function writeConfigTree(
  count: number,
  namespace = 'team-test',
  options: ConfigTreeOptions = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-config-tree-'));
  await cp(SEED_FIXTURE, dir, { recursive: true });
  const ids = appIds(count, namespace);
  const apps: string[] = [];
  const hooks: string[] = ['  demo-test/api: { generation: 1 }'];
  for (const id of ids) {
    const name = id.split('/')[1]!;
    const file = `apps/${namespace}/${name}/deployment.yaml`;
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), deploymentYaml(name, namespace, `registry.example.com/${name}:v0`));
    const keys = options.appKeys?.(id, apps.length);
    apps.push(`  - namespace: ${namespace}\n    name: ${name}\n    files: [${file}]${keys ? `\n    ${keys}` : ''}`);
    hooks.push(`  ${id}: { generation: 1 }`);
  }
  const kipper = `apps:
  - namespace: demo-test
    name: api
    files: [apps/demo-test/api/deployment.yaml]
    container: api
${apps.join('\n')}
webhooks:
${hooks.join('\n')}
`;
  await writeFile(join(dir, 'kipper.yaml'), kipper);
  return dir;
}

/** A bare repo under `root` seeded with `count` generated apps. */
export async function createConfigRepo(
  root: string,
  name: string,
  count: number,
  options: ConfigTreeOptions = {},
): Promise<string> {
  return createBareRepo(root, name, await writeConfigTree(count, 'team-test', options));
}
