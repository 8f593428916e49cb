import { describe, expect, it } from 'vitest';
import { parseKipperFile, type AppConfig } from '../../../src/config/kipper-file.js';
import { appValue } from '../../../src/history/app-value.js';

function app(fields: string): AppConfig {
  return parseKipperFile(`apps:\n  - {namespace: shop, name: api, files: [a.yaml, b.yaml]${fields}}\n`).apps.get('shop/api') as AppConfig;
}

const deployment = (name: string, image: string) =>
  `kind: Deployment\nmetadata: {name: ${name}}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: server, image: ${image}}\n`;

// History reads an app's value by the same rules a deploy writes it (issue #9).
describe('appValue', () => {
  it('reads only the named workload', () => {
    const file = `${deployment('api', 'ghcr.io/acme/api:1')}---\n${deployment('web', 'ghcr.io/acme/web:1')}`;
    expect(appValue(app(', container: server, workload: Deployment/web'), [file, null], undefined)).toEqual({ images: ['ghcr.io/acme/web:1'] });
    expect(appValue(app(', workload: Deployment/api'), [file, null], undefined)).toEqual({ images: ['ghcr.io/acme/api:1'] });
  });

  it('has no value where a deploy would be refused as ambiguous, within a file or across files', () => {
    const file = `${deployment('api', 'ghcr.io/acme/api:1')}---\n${deployment('web', 'ghcr.io/acme/web:1')}`;
    expect(appValue(app(', container: server'), [file, null], undefined)).toBeNull();
    const [api, web] = file.split('---\n');
    expect(appValue(app(', container: server'), [api ?? '', web ?? ''], undefined)).toBeNull();
    expect(appValue(app(', container: server'), [api ?? '', api ?? ''], undefined)).toEqual({ images: ['ghcr.io/acme/api:1'] });
  });

  it('reads a Helm tag: null as no tag', () => {
    const values = 'image:\n  repository: keelhq/keel\n  tag: null\n  pullPolicy: Always\n';
    expect(appValue(app(''), [values, null], undefined)).toEqual({ images: ['keelhq/keel'] });
    expect(appValue(app(''), [values, null], 'docker.io/keelhq/keel')).toEqual({ images: ['keelhq/keel'] });
  });
});
