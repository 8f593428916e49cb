/**
 * Generates a config-repo working tree with `count` apps (one deployment per app under
 * apps/<name>/), the shape the repo layer is measured on. Files only, no git.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Name of app number `i`: app-0001 … (apps/a is added as the first one). */
export function appName(i: number): string {
  return i === 0 ? 'a' : `app-${String(i).padStart(4, '0')}`;
}

/** A Deployment manifest for `name` running `image`. */
export function deploymentYaml(name: string, image: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    `        - name: ${name}`,
    `          image: ${image}`,
    '',
  ].join('\n');
}

/** Writes kipper.yaml + apps/<name>/deployment.yaml for `count` apps into a new temp dir. */
export async function makeAppsDir(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-apps-'));
  const kipper: string[] = ['apps:'];
  for (let i = 0; i < count; i++) {
    const name = appName(i);
    await mkdir(join(dir, 'apps', name), { recursive: true });
    await writeFile(
      join(dir, 'apps', name, 'deployment.yaml'),
      deploymentYaml(name, `registry.example.com/${name}:v1`),
    );
    kipper.push(`  - namespace: demo-test`, `    name: ${name}`, `    files: [apps/${name}/deployment.yaml]`);
  }
  await writeFile(join(dir, 'kipper.yaml'), kipper.join('\n') + '\n');
  return dir;
}

/** The bridge's identity in these tests (fixed time so commit ids are reproducible). */
export const KIPPER_SIG = {
  name: 'Kipper Bridge',
  email: 'kipper@example.com',
  timestamp: 1_700_000_000,
  timezoneOffset: -120,
};

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Number of objects a packfile declares in its header (bytes 8..11, big-endian). */
export function packObjectCount(pack: Uint8Array): number {
  return Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength).readUInt32BE(8);
}
