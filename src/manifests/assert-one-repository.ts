import { KipError } from '../errors.js';
import { normalizeRepository, tryParseImageReference } from './image-reference.js';

/** A workload container that an app's `container:` named, and the image it runs now. */
export interface NamedContainer {
  workload: string | undefined;
  image: string;
}

/**
 * The workloads, in file order, when the named containers run images of more than one
 * repository (after Docker's normalisation); undefined when they all run one. Naming a
 * container is how an app deploys over an image of another repository, but one name
 * across several workloads (`server` in every Deployment of an all-in-one manifest)
 * would overwrite other services' images: issue #9.
 */
export function ambiguousWorkloads(named: readonly NamedContainer[]): string[] | undefined {
  const repositories = new Set(named.map((container) => repositoryKey(container.image)));
  if (repositories.size <= 1) return undefined;
  return [...new Set(named.flatMap((container) => container.workload ?? []))];
}

/** Throws AMBIGUOUS_TARGET, naming the workloads, when `ambiguousWorkloads` finds any. */
export function assertOneRepository(named: readonly NamedContainer[], container: string): void {
  const workloads = ambiguousWorkloads(named);
  if (workloads === undefined) return;
  throw new KipError(
    'AMBIGUOUS_TARGET',
    `container "${container}" runs images of different repositories in ${workloads.join(', ')}; ` +
      'add `workload: <Kind>/<name>` to the app in kipper.yaml to say which one it deploys',
    { container, workloads },
  );
}

// A current image that is not a reference (`${IMAGE}`) counts as a repository of its
// own: it cannot be shown to be the same as the others.
function repositoryKey(image: string): string {
  const reference = tryParseImageReference(image);
  return reference === undefined ? image : normalizeRepository(reference.repository);
}
