import { describe, expect, it } from 'vitest';
import { isSshUrl, parseSshUrl } from '../../../src/config/ssh-url.js';
import { knownHostsName } from '../../../src/repo/ssh-remote.js';

describe('SSH remote URLs', () => {
  it('reads ssh:// with and without user and port, and git’s ~user form', () => {
    expect(parseSshUrl('ssh://git@github.com/acme/config.git')).toEqual({
      user: 'git',
      host: 'github.com',
      port: undefined,
      path: '/acme/config.git',
    });
    expect(parseSshUrl('ssh://git.example.com:2222/srv/config.git')).toEqual({
      user: undefined,
      host: 'git.example.com',
      port: 2222,
      path: '/srv/config.git',
    });
    expect(parseSshUrl('ssh://git@[::1]:2222/repo.git')).toMatchObject({ host: '::1', port: 2222 });
    expect(parseSshUrl('ssh://git@host/~deploy/config.git')?.path).toBe('~deploy/config.git');
  });

  it('reads the scp-like user@host:path', () => {
    expect(parseSshUrl('git@github.com:acme/config.git')).toEqual({
      user: 'git',
      host: 'github.com',
      port: undefined,
      path: 'acme/config.git',
    });
    expect(parseSshUrl('git@host:/srv/config.git')?.path).toBe('/srv/config.git');
    expect(isSshUrl('git@github.com:acme/config.git')).toBe(true);
    expect(isSshUrl('https://github.com/acme/config.git')).toBe(false);
  });

  it('refuses what ssh would read as an option, and what is not an SSH URL', () => {
    for (const bad of [
      'ssh://-oProxyCommand=id/x',
      'ssh://git@-oProxyCommand=id/x',
      '-oProxyCommand=id@host:x',
      'ssh://host:99999/x',
      'ssh://host',
      'host:path',
      'https://git@host:x',
    ]) {
      expect(parseSshUrl(bad), bad).toBeUndefined();
    }
  });

  it('names the host as known_hosts does: bare on port 22, [host]:port otherwise', () => {
    expect(knownHostsName({ user: 'git', host: 'github.com', port: undefined, path: 'x' })).toBe('github.com');
    expect(knownHostsName({ user: 'git', host: 'github.com', port: 22, path: 'x' })).toBe('github.com');
    expect(knownHostsName({ user: 'git', host: '127.0.0.1', port: 2222, path: 'x' })).toBe('[127.0.0.1]:2222');
  });
});
