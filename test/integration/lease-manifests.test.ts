import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadSettings } from '../../src/config/settings.js';
import { checkTiming, LEASE_TIMING } from '../../src/lease/lease-timing.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY } from '../helpers/tokens.js';

// manifests/examples/replicas and manifests/lease: what `kubectl kustomize` builds is what a user applies.
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace: string }>;
  automountServiceAccountToken?: boolean;
}

interface Env {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

describe('the 3-replica example under KIPPER_LEASE', () => {
  it.skipIf(!hasKubectl)(
    'runs 3 replicas with a Lease, a peer URL from the pod IP, and RBAC for Leases in its namespace only',
    async () => {
      const dir = fileURLToPath(new URL('../../manifests/examples/replicas/', import.meta.url));
      const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], { timeout: 60_000 });
      const objects = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
      const deployment = objects.find((o) => o.kind === 'Deployment')!;
      const pod = deployment.spec as {
        replicas: number;
        template: { spec: { automountServiceAccountToken: boolean; containers: Array<{ env: Env[] }> } };
      };
      expect(pod.replicas).toBe(3);
      expect(pod.template.spec.automountServiceAccountToken).toBe(true);
      expect(objects.find((o) => o.kind === 'ServiceAccount')!.automountServiceAccountToken).toBe(true);
      const env = pod.template.spec.containers[0]!.env;
      const at = (name: string) => env.findIndex((e) => e.name === name);
      expect(env[at('POD_IP')]!.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
      // The kubelet expands $(POD_IP) only from variables declared before it.
      expect(at('POD_IP')).toBeLessThan(at('KIPPER_PEER_URL'));
      expect(env[at('KIPPER_PEER_URL')]!.value).toBe('http://$(POD_IP):8080');

      const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'kipper-lease')!;
      expect(role.metadata.namespace).toBe('kipper-system');
      expect(role.rules!.map((r) => [r.apiGroups, r.resources, [...r.verbs].sort()])).toEqual([
        [['coordination.k8s.io'], ['leases'], ['create', 'get', 'update']],
      ]);
      const binding = objects.find((o) => o.kind === 'RoleBinding')!;
      expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'kipper-lease' });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kipper', namespace: 'kipper-system' }]);
      expect(objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toEqual([]);

      // The pod's environment, as the kubelet makes it, passes the bridge's own validation.
      const values: NodeJS.ProcessEnv = { ...objects.find((o) => o.kind === 'ConfigMap')!.data, POD_IP: '10.0.0.7' };
      const secrets: Record<string, string> = {
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
        KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      };
      for (const e of env) {
        if (e.valueFrom?.secretKeyRef) values[e.name] = secrets[e.valueFrom.secretKeyRef.key];
        else if (e.value !== undefined) values[e.name] = e.value.replaceAll('$(POD_IP)', values.POD_IP!);
      }
      const settings = loadSettings(values);
      expect(settings.lease).toEqual({ namespace: 'kipper-system', name: 'kipper-writer' });
      expect(settings.peerUrl).toBe('http://10.0.0.7:8080');
      expect(settings.host).toBe('0.0.0.0');
    },
  );

  it('KIPPER_LEASE without a peer URL or a shared secret key stops the start, naming what to set', () => {
    expect(() =>
      loadSettings({ KIPPER_LEASE: 'kipper-system/kipper-writer', KIPPER_SECRET_KEY: TEST_SECRET_KEY }),
    ).toThrow(/KIPPER_PEER_URL/);
    expect(() =>
      loadSettings({ KIPPER_LEASE: 'kipper-system/kipper-writer', KIPPER_PEER_URL: 'http://10.0.0.7:8080' }),
    ).toThrow(/KIPPER_SECRET_KEY/);
    expect(() =>
      loadSettings({
        KIPPER_LEASE: 'kipper-system/kipper-writer',
        KIPPER_PEER_URL: 'http://10.0.0.7:8080',
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      }),
    ).toThrow(/KIPPER_LEASE: needs KIPPER_REPO_URL/);
    expect(() =>
      loadSettings({
        KIPPER_LEASE: 'Kipper_System',
        KIPPER_PEER_URL: 'http://10.0.0.7:8080',
        KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      }),
    ).toThrow(/KIPPER_LEASE/);
  });
});

describe('the timing rules of the Lease', () => {
  it("are client-go's, and a holder that cannot renew must stop before another may take over", () => {
    expect(LEASE_TIMING).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    expect(checkTiming(LEASE_TIMING)).toBe(LEASE_TIMING);
    expect(() => checkTiming({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 })).toThrow(
      /lease duration/,
    );
    expect(() => checkTiming({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(
      /retry period/,
    );
  });
});
