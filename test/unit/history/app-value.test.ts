import { describe, expect, it } from 'vitest';
import { parseKipperFile, type AppConfig } from '../../../src/config/kipper-file.js';
import { appValue, narrowValue, readAppValue, readsEveryImage } from '../../../src/history/app-value.js';

function app(fields: string): AppConfig {
  return parseKipperFile(`apps:\n  - {namespace: shop, name: api, files: [a.yaml, b.yaml]${fields}}\n`).apps.get(
    'shop/api',
  ) as AppConfig;
}

const deployment = (name: string, image: string) =>
  `kind: Deployment\nmetadata: {name: ${name}}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: server, image: ${image}}\n`;

// History reads an app's value by the same rules a deploy writes it (issue #9).
describe('appValue', () => {
  it('reads only the named workload', () => {
    const file = `${deployment('api', 'ghcr.io/acme/api:1')}---\n${deployment('web', 'ghcr.io/acme/web:1')}`;
    expect(appValue(app(', container: server, workload: Deployment/web'), [file, null], undefined)).toEqual({
      images: ['ghcr.io/acme/web:1'],
    });
    expect(appValue(app(', workload: Deployment/api'), [file, null], undefined)).toEqual({
      images: ['ghcr.io/acme/api:1'],
    });
  });

  it('has no value where a deploy would be refused as ambiguous, within a file or across files', () => {
    const file = `${deployment('api', 'ghcr.io/acme/api:1')}---\n${deployment('web', 'ghcr.io/acme/web:1')}`;
    expect(appValue(app(', container: server'), [file, null], undefined)).toBeNull();
    const [api, web] = file.split('---\n');
    expect(appValue(app(', container: server'), [api ?? '', web ?? ''], undefined)).toBeNull();
    expect(appValue(app(', container: server'), [api ?? '', api ?? ''], undefined)).toEqual({
      images: ['ghcr.io/acme/api:1'],
    });
  });

  it('reads a Helm tag: null as no tag', () => {
    const values = 'image:\n  repository: keelhq/keel\n  tag: null\n  pullPolicy: Always\n';
    expect(appValue(app(''), [values, null], undefined)).toEqual({ images: ['keelhq/keel'] });
    expect(appValue(app(''), [values, null], 'docker.io/keelhq/keel')).toEqual({ images: ['keelhq/keel'] });
  });

  // Issue #18: the ordinary "migrate first" Deployment runs images of two repositories.
  describe('of a file that runs images of two repositories', () => {
    const migrateFirst =
      'kind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n' +
      '      initContainers:\n        - {name: migrate, image: registry.example.com/tools/migrate:1.4.0}\n' +
      '      containers:\n        - {name: api, image: registry.example.com/api:v0}\n';
    const both = { images: ['registry.example.com/api:v0', 'registry.example.com/tools/migrate:1.4.0'] };

    it('is the image of the repository the app deploys, never the first image of the file', () => {
      expect(appValue(app(''), [migrateFirst, null], 'registry.example.com/api')).toEqual({
        images: ['registry.example.com/api:v0'],
      });
      expect(appValue(app(''), [migrateFirst, null], 'registry.example.com/tools/migrate')).toEqual({
        images: ['registry.example.com/tools/migrate:1.4.0'],
      });
    });

    it('is the named container, whatever repository a deploy told', () => {
      expect(appValue(app(', container: api'), [migrateFirst, null], undefined)).toEqual({
        images: ['registry.example.com/api:v0'],
      });
      expect(appValue(app(', container: api'), [migrateFirst, null], 'registry.example.com/tools/migrate')).toEqual({
        images: ['registry.example.com/api:v0'],
      });
      expect(appValue(app(', container: migrate, workload: Deployment/api'), [migrateFirst, null], undefined)).toEqual({
        images: ['registry.example.com/tools/migrate:1.4.0'],
      });
      expect(readsEveryImage(app(', container: api'), undefined)).toBe(false);
    });

    it('is every image before any deploy told which, also within a named workload', () => {
      expect(readsEveryImage(app(''), undefined)).toBe(true);
      expect(appValue(app(''), [migrateFirst, null], undefined)).toEqual(both);
      expect(readsEveryImage(app(', workload: Deployment/api'), undefined)).toBe(true);
      expect(appValue(app(', workload: Deployment/api'), [migrateFirst, null], undefined)).toEqual(both);
      expect(appValue(app(', workload: Deployment/api'), [migrateFirst, null], 'registry.example.com/api')).toEqual({
        images: ['registry.example.com/api:v0'],
      });
      expect(readsEveryImage(app(''), 'registry.example.com/api')).toBe(false);
      // The main container's image first (what history's `image` shows), though `tools/…` sorts before `web`.
      const web = migrateFirst.replace('registry.example.com/api:v0', 'registry.example.com/web:v0');
      expect(appValue(app(''), [web, null], undefined)).toEqual({
        images: ['registry.example.com/web:v0', 'registry.example.com/tools/migrate:1.4.0'],
      });
    });

    it('narrows a value of every image, once a deploy tells the repository, to what a reading with it gives', () => {
      const marker = 'image: registry.example.com/api:v0 # {"$kipper": "shop/api"}\n';
      for (const [texts, entry] of [
        [[migrateFirst, null], ''],
        [[migrateFirst, migrateFirst.replace(':v0', ':v1')], ''],
        [[migrateFirst, null], ', workload: Deployment/api'],
        [[migrateFirst.replace('name: api}', 'name: other}'), migrateFirst], ', workload: Deployment/api'],
        [[migrateFirst, marker], ''],
      ] as const) {
        const read = readAppValue(app(entry), [...texts], undefined);
        expect(read.value).toEqual(appValue(app(entry), [...texts], undefined));
        expect(read.repositories).toBeDefined();
        for (const repository of [
          'registry.example.com/api',
          'registry.example.com/tools/migrate',
          'docker.io/library/nginx',
        ]) {
          expect(
            narrowValue(read.value!, read.repositories!, repository),
            `${repository} in ${texts.join('---')}`,
          ).toEqual(appValue(app(entry), [...texts], repository));
        }
      }
      // One image, or a named container: nothing to narrow later.
      expect(
        readAppValue(app(''), [migrateFirst.replace(/ {6}initContainers:\n.*\n/, ''), null], undefined).repositories,
      ).toBeUndefined();
      expect(readAppValue(app(', container: api'), [migrateFirst, null], undefined).repositories).toBeUndefined();
    });
  });
});
