import { describe, expect, it } from 'vitest';
import { canBePlain } from '../../../src/manifests/can-be-plain.js';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { setCommit } from '../../../src/manifests/set-commit.js';
import { setImage, type ImageTarget } from '../../../src/manifests/set-image.js';
import { mulberry32 } from '../../helpers/seeded-random.js';
import { loadGoldenCases } from './load-fixtures.js';
import { expectReadsAsPosted } from './site-reading.js';
import { jsAt, maskTargets } from './yaml-spans.js';

/** Random strings from the distribution/reference grammar, biased towards odd corners. */
class ReferenceGenerator {
  constructor(private readonly random: () => number) {}

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  private chars(alphabet: string, min: number, max: number): string {
    let out = '';
    for (let n = this.int(min, max); n > 0; n -= 1) out += alphabet[this.int(0, alphabet.length - 1)];
    return out;
  }

  private label(): string {
    const edge = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    if (this.random() < 0.3) return this.chars(edge, 1, 1);
    return this.chars(edge, 1, 1) + this.chars(`${edge}-`, 0, 8) + this.chars(edge, 1, 1);
  }

  domain(): string {
    const host = this.pick([
      () => 'localhost',
      () => `${this.label()}.${this.label()}`,
      () => `${this.label()}.${this.label()}.${this.label()}`,
      () => `${this.int(1, 255)}.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(0, 255)}`,
      () => this.pick(['[::1]', '[2001:db8::1]', '[fe80::1ff:fe23:4567:890a]']),
    ])();
    return this.random() < 0.4 ? `${host}:${this.int(1, 65535)}` : host;
  }

  private component(): string {
    // Digit-heavy half the time, so `10`, `1.10` and `2024-01-31` come up.
    const alnum = this.random() < 0.5 ? '0123456789' : 'abcdefghijklmnopqrstuvwxyz0123456789';
    let out = this.chars(alnum, 1, 6);
    for (let n = this.int(0, 2); n > 0; n -= 1) {
      out += this.pick(['.', '_', '__', '-', '--', '---']) + this.chars(alnum, 1, 4);
    }
    return out;
  }

  path(): string {
    return Array.from({ length: this.int(1, 3) }, () => this.component()).join('/');
  }

  tag(): string {
    const word = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
    if (this.random() < 0.05) return this.chars(word, 128, 128);
    const body = this.random() < 0.5 ? '0123456789.' : `${word}.-`;
    return this.chars(this.random() < 0.5 ? '0123456789' : word, 1, 1) + this.chars(body, 0, 12);
  }

  digest(): string {
    return `sha256:${this.chars(this.random() < 0.8 ? '0123456789abcdef' : '0123456789abcdefABCDEF', 64, 64)}`;
  }

  /** A repository with a random tag and/or digest. */
  withSuffix(repository: string): string {
    const tag = this.random() < 0.8 ? `:${this.tag()}` : '';
    const digest = tag === '' || this.random() < 0.2 ? `@${this.digest()}` : '';
    return `${repository}${tag}${digest}`;
  }

  /** A git commit SHA, short or full. */
  commit(): string {
    // Digit-only and `1e…` SHAs come up too: YAML would read those as numbers unquoted.
    const alphabet = this.random() < 0.3 ? '0123456789e' : '0123456789abcdef';
    const length = this.pick([7, 8, 12, 40, 64]);
    return this.chars(alphabet, length, length);
  }

  reference(): string {
    const name = this.random() < 0.5 ? `${this.domain()}/${this.path()}` : this.path();
    return this.random() < 0.15 ? name : this.withSuffix(name);
  }
}

const ROUNDS = 40;

function assertOnlyTargetsChanged(input: string, target: ImageTarget, expectedMatches: number): void {
  const { text, matches } = setImage(input, target);
  expect(matches).toHaveLength(expectedMatches);
  const [before, after] = maskTargets(input, text, matches);
  expect(after).toBe(before);
  expectReadsAsPosted(text, matches, target.image);
}

describe('setImage with random valid references on every golden input', () => {
  it('generates references that parse', () => {
    const generate = new ReferenceGenerator(mulberry32(7));
    let needQuotes = 0;
    for (let i = 0; i < 2000; i += 1) {
      const ref = generate.reference();
      expect(() => parseImageReference(ref), ref).not.toThrow();
      if (!canBePlain(ref)) needQuotes += 1;
    }
    // The corner the quoting rules exist for must come up (`10`, `1.10:20`, `[::1]/a`).
    expect(needQuotes).toBeGreaterThan(20);
  });

  describe.each(loadGoldenCases())('$name', (golden) => {
    const seed = [...golden.name].reduce((n, ch) => n * 31 + ch.charCodeAt(0), 7) >>> 0;

    if (golden.commit !== undefined) {
      it('any commit changes only the marked scalars', () => {
        const generate = new ReferenceGenerator(mulberry32(seed));
        for (let i = 0; i < ROUNDS; i += 1) {
          const commit = generate.commit();
          const { text, matches } = setCommit(golden.input, { app: golden.app as string, commit });
          expect(matches).toHaveLength(golden.matches);
          const [before, after] = maskTargets(golden.input, text, matches);
          expect(after).toBe(before);
          for (const match of matches) {
            expect(jsAt(text, match, '1.1')).toBe(commit);
            expect(jsAt(text, match, '1.2')).toBe(commit);
          }
        }
      });
      return;
    }

    const posted = parseImageReference(golden.image as string);
    const first = setImage(golden.input, { image: posted, container: golden.container, workload: golden.workload, app: golden.app });
    const containers = [...new Set(first.matches.map((m) => m.container))].filter((c) => c !== undefined);

    if (golden.app !== undefined) {
      it('any reference posted to the markers changes only the marked scalars', () => {
        const generate = new ReferenceGenerator(mulberry32(seed));
        for (let i = 0; i < ROUNDS; i += 1) {
          const image = parseImageReference(generate.reference());
          assertOnlyTargetsChanged(golden.input, { image, app: golden.app }, golden.matches);
        }
      });
      return;
    }

    it('a new tag or digest for the same repository changes only the target values', () => {
      const generate = new ReferenceGenerator(mulberry32(seed));
      const repository = parseImageReference(first.matches[0]?.after ?? '').repository;
      for (let i = 0; i < ROUNDS; i += 1) {
        const image = parseImageReference(generate.withSuffix(repository));
        assertOnlyTargetsChanged(golden.input, { image, container: golden.container, workload: golden.workload }, golden.matches);
      }
    });

    if (containers.length > 0) {
      it('any reference set on a named container changes only the image scalars', () => {
        const generate = new ReferenceGenerator(mulberry32(seed ^ 0x9e3779b9));
        for (let i = 0; i < ROUNDS; i += 1) {
          const image = parseImageReference(generate.reference());
          const container = containers[i % containers.length];
          const { matches } = setImage(golden.input, { image, container, workload: golden.workload });
          assertOnlyTargetsChanged(golden.input, { image, container, workload: golden.workload }, matches.length);
        }
      });
    }
  });
});
