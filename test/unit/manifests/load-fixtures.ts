import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One golden case from fixtures/manifests/<name>/. */
export interface GoldenCase {
  name: string;
  input: string;
  expected: string;
  /** The posted image; undefined for a commit case. */
  image: string | undefined;
  /** A commit case (`setCommit`) posts this instead of an image. */
  commit: string | undefined;
  container: string | undefined;
  /** `<Kind>/<name>`, for a case whose app names its workload. */
  workload: string | undefined;
  /** `<namespace>/<app>`, for cases with `$kipper` markers. */
  app: string | undefined;
  /** How many places the edit reports. */
  matches: number;
}

interface CaseSpec {
  image?: string;
  commit?: string;
  container?: string;
  workload?: string;
  app?: string;
  matches: number;
}

const ROOT = fileURLToPath(new URL('../../../fixtures/manifests/', import.meta.url));

/** Every golden case, read as raw bytes and decoded the way the caller does (BOM kept). */
export function loadGoldenCases(): GoldenCase[] {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const read = (file: string): string => readFileSync(`${ROOT}${name}/${file}`).toString('utf8');
      const spec = JSON.parse(read('case.json')) as CaseSpec;
      return {
        name,
        input: read('input.yaml'),
        expected: read('expected.yaml'),
        image: spec.image,
        commit: spec.commit,
        container: spec.container,
        workload: spec.workload,
        app: spec.app,
        matches: spec.matches,
      };
    });
}
