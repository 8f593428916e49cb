import { execFile, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadSettings } from '../../src/config/settings.js';

// Issue #19: the SSH deploy key example (manifests/examples/ssh-deploy-key) mounts the
// Secret read-only where the env says the key and known_hosts are.

const MANIFESTS = fileURLToPath(new URL('../../manifests/', import.meta.url));
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode?: number; items?: Array<{ key: string; path: string }> };
}
interface Obj {
  kind: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: { template: { spec: { volumes: Volume[]; containers: Array<{ volumeMounts: Mount[] }> } } };
}

describe('the SSH deploy key example', () => {
  it.skipIf(!hasKubectl)(
    'mounts the kipper-ssh Secret read-only at the paths of KIPPER_GIT_SSH_KEY and KIPPER_GIT_KNOWN_HOSTS',
    async () => {
      const { stdout } = await promisify(execFile)('kubectl', ['kustomize', `${MANIFESTS}examples/ssh-deploy-key`], {
        timeout: 60_000,
      });
      const objects = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
      const env = objects.find((o) => o.kind === 'ConfigMap')!.data!;
      const pod = objects.find((o) => o.kind === 'Deployment')!.spec!.template.spec;
      const volume = pod.volumes.find((v) => v.secret?.secretName === 'kipper-ssh')!;
      const mount = pod.containers[0]!.volumeMounts.find((m) => m.name === volume.name)!;
      expect(mount.readOnly).toBe(true);
      expect(volume.secret!.defaultMode! & 0o077 & ~0o040).toBe(0);
      const files = volume.secret!.items!.map((i) => `${mount.mountPath}/${i.path}`);
      expect(files).toContain(env.KIPPER_GIT_SSH_KEY);
      expect(files).toContain(env.KIPPER_GIT_KNOWN_HOSTS);
      // The pod's environment passes the bridge's own validation (with the Secret's values).
      const settings = loadSettings({ ...env, KIPPER_SECRET_KEY: 'k'.repeat(32), KIPPER_ADMIN_TOKEN: 'a'.repeat(16) });
      expect(settings.repoUrl).toMatch(/^ssh:\/\//);
    },
  );

  it('has a Secret template with the two keys the overlay mounts, applied by no kustomization', async () => {
    const template = parseAllDocuments(await readFile(`${MANIFESTS}ssh-secret.example.yaml`, 'utf8'))[0]!.toJS() as Obj;
    expect(Object.keys(template.stringData!).sort()).toEqual(['identity', 'known_hosts']);
    const overlay = await readFile(`${MANIFESTS}examples/ssh-deploy-key/kustomization.yaml`, 'utf8');
    expect(overlay).not.toContain('ssh-secret.example.yaml\n');
  });
});
