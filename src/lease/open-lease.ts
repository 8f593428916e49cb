import type { Settings } from '../config/settings.js';
import type { Logger } from '../log.js';
import { LeaderElector } from './leader-elector.js';

/**
 * The electors of KIPPER_LEASE, one per config repo (null without it): the Lease is
 * `<name>` for KIPPER_REPO_URL or the embedded repo, `<name>-<repo name>` for each entry
 * of KIPPER_REPOS_FILE. Loads the kubeconfig once, at startup, so a missing one stops it.
 * The Kubernetes client (~0.45 s and tens of MB of heap) is loaded only with KIPPER_LEASE:
 * a bridge without it never pays for it.
 */
export async function leaseElectors(settings: Settings, log: Logger): Promise<(repo: string) => LeaderElector | null> {
  const { lease, peerUrl } = settings;
  if (!lease || !peerUrl) return () => null;
  const { kubeLeaseStore, loadKubeConfig } = await import('./lease-store.js');
  const kube = loadKubeConfig(settings.kubeconfig);
  const several = settings.repos.length > 0;
  return (repo) => {
    const name = several ? `${lease.name}-${repo}` : lease.name;
    return new LeaderElector(kubeLeaseStore(kube, lease.namespace, name), peerUrl, log.child({ repo }));
  };
}
