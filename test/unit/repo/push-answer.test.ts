import { describe, expect, it } from 'vitest';
import { FLUSH_PKT, parsePushAnswer, pktLine } from '../../../src/repo/pkt-line.js';
import { isLostRace, remoteMessages } from '../../../src/repo/push-refusal.js';

/** One side-band packet: the band byte, then the data. */
const band = (n: number, data: string | Buffer) =>
  pktLine(Buffer.concat([Buffer.from([n]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));

describe('receive-pack answers with side-band-64k', () => {
  it('reads the report from band 1 and the remote’s lines from band 2, however the packets split them', () => {
    const report = Buffer.concat([
      pktLine('unpack ok\n'),
      pktLine('ng refs/heads/main pre-receive hook declined\n'),
      FLUSH_PKT,
    ]);
    const answer = Buffer.concat([
      band(2, 'POLICY-REJECT: pushes fro'),
      band(2, 'zen for INC-99\nsecond line\r\n'),
      band(1, report.subarray(0, 7)),
      band(1, report.subarray(7)),
      FLUSH_PKT,
    ]);
    const { report: parsed, messages } = parsePushAnswer(answer);
    expect(parsed.unpack).toBe('ok');
    expect(parsed.refs.get('refs/heads/main')).toBe('pre-receive hook declined');
    expect(messages).toEqual(['POLICY-REJECT: pushes frozen for INC-99', 'second line']);
  });

  it('reads a bare report from a server that ignored the capability', () => {
    const bare = Buffer.concat([pktLine('unpack ok\n'), pktLine('ok refs/heads/main\n'), FLUSH_PKT]);
    const { report, messages } = parsePushAnswer(bare);
    expect(report.refs.get('refs/heads/main')).toBeNull();
    expect(messages).toEqual([]);
  });

  it('takes a fatal error on band 3 as the answer’s error', () => {
    expect(parsePushAnswer(Buffer.concat([band(3, 'quota exceeded\n'), FLUSH_PKT])).report.error).toBe(
      'quota exceeded',
    );
  });
});

describe('a lost race or a refusal', () => {
  it.each([
    ['non-fast-forward', true],
    ['fetch first', true],
    ['failed to update ref', true],
    ['failed to lock', true],
    ["cannot lock ref 'refs/heads/main': is at 1234 but expected 5678", true],
    ['stale info', true],
    ['pre-receive hook declined', false],
    ['hook declined', false],
    ['protected branch hook declined', false],
    ['deny updating a hidden ref', false],
  ])('%s → lost race: %s', (reason, race) => {
    expect(isLostRace(reason)).toBe(race);
  });

  it('strips terminal escapes and control characters from the remote’s lines and redacts them', () => {
    const lines = remoteMessages(
      ['\u001b[31mGH006: Protected branch update failed\u001b[0m', '\u001b]0;pwned\u0007token s3cret', '   '],
      (s) => s.replaceAll('s3cret', '***'),
    );
    expect(lines).toEqual(['GH006: Protected branch update failed', 'token ***']);
  });
});
