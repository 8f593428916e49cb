import { describe, expect, it } from 'vitest';
import { eventJson, notificationEvent } from '../../../src/notify/events.js';
import { DEPLOY_EVENT_FIELDS } from '../../helpers/notify-receiver.js';

describe('notification events', () => {
  it('fills what the caller does not know with null, and stamps the time', () => {
    const e = notificationEvent({ event: 'locked', app: 'team/api', reason: 'incident 42', author: 'alice' });
    expect(e).toEqual({
      event: 'locked',
      app: 'team/api',
      revision: null,
      image: null,
      commit: null,
      configCommit: null,
      trigger: null,
      reason: 'incident 42',
      author: 'alice',
      actor: null,
      url: null,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('serialises exactly the documented fields, in order, refused with its code and error', () => {
    const at = new Date('2026-03-01T10:00:00Z');
    const deployed = notificationEvent({
      event: 'deployed',
      app: 'team/api',
      revision: 4,
      image: 'ghcr.io/acme/api:1.4',
      configCommit: 'c0ffee',
      trigger: 'webhook',
      at,
    });
    expect(eventJson({ ...deployed, extra: 'not sent' } as unknown as typeof deployed)).toBe(
      '{"event":"deployed","app":"team/api","revision":4,"image":"ghcr.io/acme/api:1.4","commit":null,"configCommit":"c0ffee","trigger":"webhook","reason":null,"author":null,"actor":null,"url":null,"at":"2026-03-01T10:00:00.000Z"}',
    );
    const refused = notificationEvent({
      event: 'refused',
      app: 'team/api',
      code: 'PUSH_REJECTED',
      error: 'the branch kept moving',
      at: '2026-03-01T10:00:00.000Z',
    });
    // A refused event carries its code and error before the time.
    expect(Object.keys(JSON.parse(eventJson(refused)) as object)).toEqual([
      ...DEPLOY_EVENT_FIELDS.slice(0, -1),
      'code',
      'error',
      'at',
    ]);
  });
});
