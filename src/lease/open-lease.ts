import type { Settings } from '../config/settings.js';
import type { Logger } from '../log.js';
import { LeaderElector } from './leader-elector.js';
import { kubeLeaseStore, loadKubeConfig } from './lease-store.js';

/**
 * The electors of KIPPER_LEASE, one per config repo (null without it): the Lease is
 * `<name>` for KIPPER_REPO_URL or the embedded repo, `<name>-<repo name>` for each entry
 * of KIPPER_REPOS_FILE. Loads the kubeconfig once, at startup, so a missing one stops it.
 */
export function leaseElectors(settings: Settings, log: Logger): (repo: string) => LeaderElector | null {
  const { lease, peerUrl } = settings;
  if (!lease || !peerUrl) return () => null;
  const kube = loadKubeConfig(settings.kubeconfig);
  const several = settings.repos.length > 0;
  return (repo) => {
    const name = several ? `${lease.name}-${repo}` : lease.name;
    return new LeaderElector(kubeLeaseStore(kube, lease.namespace, name), peerUrl, log.child({ repo }));
  };
}
