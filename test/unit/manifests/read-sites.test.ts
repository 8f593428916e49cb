import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { readSites, type FileReading } from '../../../src/manifests/read-sites.js';
import { setImage, setImageFrom, type EditResult, type ImageTarget } from '../../../src/manifests/set-image.js';
import { mulberry32 } from '../../helpers/seeded-random.js';
import { loadGoldenCases } from './load-fixtures.js';

/** A reading by a full parse, or the error code a full parse throws. */
function parsed(text: string, app: string | undefined): FileReading | string {
  try {
    return readSites(text, app);
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

/** The reading of `text` from `previous`, or the error code. */
function derived(text: string, app: string | undefined, previous: FileReading): FileReading | string {
  try {
    return readSites(text, app, previous);
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

const DEPLOYMENT = `# api: generated test app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/api:v1
      containers:
        - name: api
          image: registry.example.com/api:v1 # set by kipper
        - name: proxy
          image: docker.io/envoyproxy/envoy:v1.30.1
`;

// A file read from its last reading must read exactly as a full parse reads it (issue #14).
describe('readSites from an earlier reading', () => {
  it('reads an edited image without parsing, the same as a parse', () => {
    const before = readSites(DEPLOYMENT, 'shop-test/api');
    expect(before.simple).toBe(true);
    const text = DEPLOYMENT.replace('api:v1 #', 'api:v2-rc.1 #');
    const after = readSites(text, 'shop-test/api', before);
    expect(after).toEqual(parsed(text, 'shop-test/api'));
    expect(after.sites.map((s) => s.current)).toEqual(['registry.example.com/api:v1', 'registry.example.com/api:v2-rc.1', 'docker.io/envoyproxy/envoy:v1.30.1']);
  });

  describe.each(loadGoldenCases().filter((c) => c.image !== undefined))('$name', (golden) => {
    it('reads every edit of it as a parse does', () => {
      const app = golden.app ?? 'shop-test/api';
      const repository = parseImageReference(golden.image!).repository;
      const first = parsed(golden.input, app);
      if (typeof first === 'string') expect.unreachable(`a golden input must parse, got ${first}`);
      let previous: FileReading = first;
      const postings = [golden.image!, `${repository}:v9`, `${repository}:1.10`, `${repository}@sha256:${'ab'.repeat(32)}`, 'other.example.com/a/b:1'];
      let compared = 0;
      for (const posted of postings) {
        // Every one of these edits applies to every golden case: one that throws fails the test.
        const text = setImage(previous.text, { image: parseImageReference(posted), container: golden.container, workload: golden.workload, app }).text;
        const next = derived(text, app, previous);
        expect(next, posted).toEqual(parsed(text, app));
        compared++;
        if (typeof next === 'string') expect.unreachable(`${posted}: the edited file must read, got ${next}`);
        previous = next;
      }
      expect(compared).toBe(postings.length); // every posting compared; none skipped
    });
  });

  it('reads any change of any file as a parse does, or parses', () => {
    const random = mulberry32(14);
    const alphabet = 'abc019:/.@-_+ #"\'\n{}[],&*!|>%`\t\r';
    const pick = () => alphabet[Math.floor(random() * alphabet.length)]!;
    const texts = [DEPLOYMENT, ...loadGoldenCases().map((c) => c.input)];
    let shortcuts = 0;
    for (let round = 0; round < 3000; round++) {
      const base = round % 2 === 0 ? DEPLOYMENT : texts[round % texts.length]!;
      const previous = parsed(base, 'shop-test/api');
      if (typeof previous === 'string') continue;
      // Mostly inside or around an image scalar, where the shortcut may apply.
      const site = previous.sites[Math.floor(random() * Math.max(1, previous.sites.length))]?.scalar;
      const around = site && random() < 0.8 ? site.start - 2 + Math.floor(random() * (site.end - site.start + 4)) : Math.floor(random() * base.length);
      const at = Math.max(0, Math.min(base.length, around));
      const removed = Math.floor(random() * 3);
      const inserted = Array.from({ length: Math.floor(random() * 4) }, pick).join('');
      const text = base.slice(0, at) + inserted + base.slice(at + removed);
      const next = derived(text, 'shop-test/api', previous);
      expect(next, JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))).toEqual(parsed(text, 'shop-test/api'));
      // A reading made from the previous one shares the sites before the change with it.
      if (typeof next !== 'string' && next !== previous && next.sites.some((s, i) => s === previous.sites[i])) shortcuts++;
    }
    // The shortcut must actually be taken on the simple cases, not only the parse.
    expect(shortcuts).toBeGreaterThan(100);
  });
});

/** An edit's result, or the error code it throws. */
function outcome(edit: () => EditResult): EditResult | string {
  try {
    return edit();
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

// A deploy edits a file from its last reading when only one image changed since (issue #14).
describe('setImageFrom an earlier reading', () => {
  it('edits as setImage does, without a parse when the reading follows', () => {
    const target = (tag: string, container?: string): ImageTarget => ({ image: parseImageReference(`registry.example.com/api:${tag}`), container, app: 'shop-test/api' });
    let { reading } = setImageFrom(DEPLOYMENT, target('v1'), undefined);
    let text = DEPLOYMENT;
    for (const [i, t] of [target('v2', 'api'), target('10', 'api'), target('v3', 'api'), target('v3', 'migrate'), target('v4'), target('1.10', 'api')].entries()) {
      const next = setImageFrom(text, t, reading);
      expect(next.edit, String(i)).toEqual(setImage(text, t));
      // While only the api container changes, its reading is taken from the last one, not
      // parsed again: the migrate site before it is the same object.
      if (i > 0 && i < 4) expect(next.reading.sites[0]).toBe(reading.sites[0]);
      reading = next.reading;
      text = next.edit.text;
    }
    expect(text).toContain('image: registry.example.com/api:1.10 # set by kipper');
  });

  it('edits every golden file and any change of it as setImage does', () => {
    const random = mulberry32(41);
    const alphabet = 'abc019:/.@-_+ #"\'\n{}[],&*';
    for (const golden of loadGoldenCases().filter((c) => c.image !== undefined)) {
      const app = golden.app ?? 'shop-test/api';
      const target: ImageTarget = { image: parseImageReference(golden.image!), container: golden.container, workload: golden.workload, app };
      let previous: FileReading | undefined;
      let text = golden.input;
      for (let round = 0; round < 40; round++) {
        const expected = outcome(() => setImage(text, target));
        let reading: FileReading | undefined;
        const got = outcome(() => {
          const r = setImageFrom(text, target, previous);
          reading = r.reading;
          return r.edit;
        });
        expect(got, `${golden.name} round ${round}`).toEqual(expected);
        if (reading) previous = reading;
        // Next: the edit's output, or a random change near an image.
        const site = previous?.sites[Math.floor(random() * Math.max(1, previous.sites.length))]?.scalar;
        const at = site ? site.start + Math.floor(random() * (site.end - site.start + 1)) : Math.floor(random() * text.length);
        const insert = Array.from({ length: Math.floor(random() * 3) }, () => alphabet[Math.floor(random() * alphabet.length)]!).join('');
        text = typeof expected !== 'string' && random() < 0.5 ? expected.text : text.slice(0, at) + insert + text.slice(at + Math.floor(random() * 2));
      }
    }
  });
});
