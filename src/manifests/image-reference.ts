/**
 * OCI image references: parse and validate against the distribution reference grammar
 * (github.com/distribution/reference, regexp.go), and normalise familiar Docker Hub
 * names so that `nginx` and `docker.io/library/nginx` compare equal.
 */
import { KipError } from '../errors.js';

/** A validated image reference, split into its parts. */
export interface ImageReference {
  /** The reference exactly as given. */
  raw: string;
  /** Registry host with optional port, when the name has one (`localhost:5000`, `ghcr.io`). */
  domain: string | undefined;
  /** Repository path without the domain (`team/api`). */
  path: string;
  /** The name as written (domain + '/' + path, or just path), without tag or digest. */
  repository: string;
  tag: string | undefined;
  /** `algorithm:hex`, e.g. `sha256:…`. */
  digest: string | undefined;
}

// The grammar, written out from the distribution/reference spec. Every pattern is
// anchored and free of nested quantifiers over overlapping classes, so matching stays
// linear on hostile input.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST_ALGORITHM = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;
const DIGEST_ENCODED = /^[a-fA-F0-9]{32,}$/;
// Registered algorithms have a fixed length (OCI image-spec descriptor.md).
const DIGEST_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };
const NAME_MAX_LENGTH = 255;
// Anything beyond this is not an image reference; refuse before doing any work on it.
const INPUT_MAX_LENGTH = 1024;

const EXPECTED =
  'expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], ' +
  'e.g. registry.example.com/team/api:1.4.2';

const DOCKER_HUB = 'docker.io';
const LEGACY_DOCKER_HUB = 'index.docker.io';
const OFFICIAL_NAMESPACE = 'library';

/** Parse and validate `ref`; throws `KipError('INVALID_IMAGE')` saying what is wrong. */
export function parseImageReference(ref: string): ImageReference {
  const result = checkImageReference(ref);
  if (typeof result === 'string') {
    throw new KipError('INVALID_IMAGE', `image ${describe(ref)} is invalid: ${result}; ${EXPECTED}`, {
      field: 'image',
    });
  }
  return result;
}

/** Like `parseImageReference`, but returns undefined instead of throwing. */
export function tryParseImageReference(ref: string): ImageReference | undefined {
  const result = checkImageReference(ref);
  return typeof result === 'string' ? undefined : result;
}

/**
 * Docker's familiar-name normalisation, for comparing repositories:
 * `nginx` → `docker.io/library/nginx`, `foo/bar` → `docker.io/foo/bar`,
 * `index.docker.io/x/y` → `docker.io/x/y`. The domain is lower-cased because host
 * names are case-insensitive; the path is case-sensitive and kept as is.
 */
export function normalizeRepository(repository: string): string {
  const { domain, path } = splitDomain(repository);
  let host = domain === undefined ? DOCKER_HUB : domain.toLowerCase();
  if (host === LEGACY_DOCKER_HUB) host = DOCKER_HUB;
  const fullPath = host === DOCKER_HUB && !path.includes('/') ? `${OFFICIAL_NAMESPACE}/${path}` : path;
  return `${host}/${fullPath}`;
}

/** Build a reference string from a repository and an optional tag and digest. */
export function formatImageReference(parts: {
  repository: string;
  tag?: string | undefined;
  digest?: string | undefined;
}): string {
  let out = parts.repository;
  if (parts.tag !== undefined) out += `:${parts.tag}`;
  if (parts.digest !== undefined) out += `@${parts.digest}`;
  return out;
}

/** The parsed reference, or a sentence saying what is wrong with it. */
function checkImageReference(ref: string): ImageReference | string {
  if (typeof ref !== 'string') return 'it is not a string';
  if (ref === '') return 'it is empty';
  if (ref.length > INPUT_MAX_LENGTH) return `it is longer than ${INPUT_MAX_LENGTH} characters`;
  // One check covers whitespace, control characters and non-ASCII look-alikes (a
  // Cyrillic 'а' would otherwise name a different repository that reads the same).
  const bad = /[^\x21-\x7e]/.exec(ref);
  if (bad) {
    return `it contains ${describeChar(bad[0])} at position ${bad.index}; only printable ASCII without spaces is allowed`;
  }

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = checkDigest(digest);
    if (problem) return problem;
  }

  // A colon after the last slash starts the tag; one before it belongs to a port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1 && colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      return tag.length > 128
        ? `the tag is ${tag.length} characters long; at most 128 are allowed`
        : `the tag ${describe(tag)} must start with a letter, digit or '_' ` +
            "and contain only letters, digits, '_', '.' and '-'";
    }
  }

  if (rest === '') return 'the repository name is missing';
  if (rest.length > NAME_MAX_LENGTH) return `the repository name is longer than ${NAME_MAX_LENGTH} characters`;
  const { domain, path } = splitDomain(rest);
  const problem = checkPath(path);
  if (problem) {
    const first = rest.slice(0, rest.indexOf('/'));
    return domain === undefined && rest.includes('/') && looksLikeDomain(first)
      ? `the registry ${describe(first)} is not a host name with an optional port`
      : problem;
  }
  return { raw: ref, domain, path, repository: rest, tag, digest };
}

function checkPath(path: string): string | undefined {
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      return component === ''
        ? 'the repository path has an empty component'
        : `the repository path component ${describe(component)} must be lowercase letters and digits, ` +
            "separated by '.', '_', '__' or '-'";
    }
  }
  return undefined;
}

function checkDigest(digest: string): string | undefined {
  const sep = digest.indexOf(':');
  if (sep === -1) return 'the digest must look like sha256:<64 hex digits>';
  const algorithm = digest.slice(0, sep);
  const encoded = digest.slice(sep + 1);
  if (!DIGEST_ALGORITHM.test(algorithm)) return `the digest algorithm ${describe(algorithm)} is invalid`;
  if (!DIGEST_ENCODED.test(encoded)) return 'the digest must end in at least 32 hex digits';
  const length = DIGEST_LENGTHS[algorithm];
  if (length !== undefined && encoded.length !== length) {
    return `a ${algorithm} digest has exactly ${length} hex digits, not ${encoded.length}`;
  }
  return undefined;
}

/**
 * Docker's rule for where the registry ends: the first component is a domain only if
 * it looks like one (has '.' or ':', is `localhost`, or has uppercase letters, which
 * a path never has). Otherwise `foo/bar` is a Docker Hub path. The grammar makes the
 * domain optional, so a first component that looks like a host but is not a valid one
 * (`team_a.v2/api`) is read as part of the path, as distribution/reference does.
 */
function splitDomain(name: string): { domain: string | undefined; path: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: undefined, path: name };
  const first = name.slice(0, slash);
  return looksLikeDomain(first) && DOMAIN.test(first)
    ? { domain: first, path: name.slice(slash + 1) }
    : { domain: undefined, path: name };
}

function looksLikeDomain(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost' ||
    component.toLowerCase() !== component
  );
}

/**
 * Quote a value for an error message without ever echoing control or non-ASCII
 * characters raw: they could forge lines in logs or hide behind a look-alike.
 */
function describe(value: string): string {
  const shown = value.length > 200 ? `${value.slice(0, 200)}...` : value;
  return `"${shown.replace(/[^\x20-\x7e]|["\\]/g, escapeChar)}"`;
}

function describeChar(ch: string): string {
  if (ch === ' ') return 'a space';
  return `the character ${escapeChar(ch)}`;
}

function escapeChar(ch: string): string {
  if (ch === '"' || ch === '\\') return `\\${ch}`;
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
