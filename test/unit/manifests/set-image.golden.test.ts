import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { setImage } from '../../../src/manifests/set-image.js';
import { loadGoldenCases } from './load-fixtures.js';
import { maskSpans, targetSpans, valuesAt } from './yaml-spans.js';

const cases = loadGoldenCases();

describe('setImage golden files (fixtures/manifests)', () => {
  it('has the cases the edit must survive', () => {
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'deployment-commented',
        'crlf',
        'bom',
        'no-final-newline',
        'multi-document',
        'sidecar-and-init-containers',
        'shared-image',
        'long-lines',
        'quoted-single',
        'quoted-double',
        'flow-container',
        'anchors-aliases',
        'statefulset',
        'daemonset',
        'job',
        'cronjob',
        'pod',
        'replicaset',
        'container-narrowing',
        'numeric-tag',
      ]),
    );
  });

  describe.each(cases)('$name', (golden) => {
    const target = { image: parseImageReference(golden.image), container: golden.container };

    it('produces expected.yaml byte for byte', () => {
      const result = setImage(golden.input, target);
      expect(result.text).toBe(golden.expected);
      expect(result.changed).toBe(true);
      expect(result.matches).toHaveLength(golden.matches);
      for (const match of result.matches) expect(match.after).toBe(golden.image);
    });

    it('differs from the input only inside the image scalars', () => {
      const { text, matches } = setImage(golden.input, target);
      const before = maskSpans(golden.input, targetSpans(golden.input, matches));
      const after = maskSpans(text, targetSpans(text, matches));
      expect(after).toBe(before);
      const posted = matches.map(() => golden.image);
      expect(valuesAt(text, matches, '1.2')).toEqual(posted);
      expect(valuesAt(text, matches, '1.1')).toEqual(posted);
    });

    it('is idempotent: setting the same image again changes nothing', () => {
      const once = setImage(golden.input, target).text;
      const twice = setImage(once, target);
      expect(twice.text).toBe(once);
      expect(twice.changed).toBe(false);
      expect(twice.matches.every((m) => m.before === m.after)).toBe(true);
    });
  });
});
