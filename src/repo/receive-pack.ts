/**
 * The two ends of a receive-pack push that do not depend on the transport (smart HTTP
 * or SSH): the request (one ref update and the pack) and reading the answer into a
 * PushResult. https://git-scm.com/docs/gitprotocol-pack#_pushing_data_to_a_server
 */
import { FLUSH_PKT, parsePushAnswer, pktLine } from './pkt-line.js';
import { isLostRace, remoteMessages } from './push-refusal.js';
import type { PushResult } from './remote.js';

const AGENT = 'kipper/0.1';

/**
 * The command list of a compare-and-swap push, `<old> <new> <ref>`, then the pack.
 * side-band-64k: a hook's output reaches us only on band 2 (without it, the server logs it).
 */
export function receivePackRequest(oldOid: string, newOid: string, ref: string, pack: Uint8Array): Buffer {
  return Buffer.concat([
    pktLine(`${oldOid} ${newOid} ${ref}\0report-status side-band-64k agent=${AGENT}`),
    FLUSH_PKT,
    pack,
  ]);
}

/** What `readPushAnswer` needs to say whose answer it read. */
export interface AnswerContext {
  /** The ref pushed, `refs/heads/<branch>`. */
  ref: string;
  /** The remote for messages (never credentials). */
  description: string;
  /** Blanks secrets a server might echo. */
  redact: (text: string) => string;
}

/**
 * A receive-pack answer (side-band-64k report-status) as a PushResult: `ok`, a lost race
 * (`rejected`), a refusal for policy with the remote's lines (`declined`), or no usable
 * answer (`unreachable`).
 */
export function readPushAnswer(bytes: Uint8Array, { ref, description, redact }: AnswerContext): PushResult {
  let report, messages;
  try {
    ({ report, messages } = parsePushAnswer(bytes));
  } catch (err) {
    return unreachable('unreadable answer', `push to ${description}: unreadable answer (${(err as Error).message})`);
  }
  if (report.error !== undefined)
    return unreachable('ERR', redact(`push to ${description}: server error: ${report.error}`));
  if (report.unpack !== 'ok') {
    // The server answered but could not take the pack (fsck of our objects, quota): not a
    // network problem; retrying on a fresh head is the queue's bounded loop.
    const reason = redact(report.unpack || 'no status');
    return {
      ok: false,
      kind: 'rejected',
      answer: `unpack ${reason}`,
      detail: `remote could not unpack the push: ${reason}`,
    };
  }
  const refStatus = report.refs.get(ref);
  if (refStatus === undefined)
    return unreachable('no ref status', `push to ${description}: no status for ${ref} in the answer`);
  if (refStatus === null) return { ok: true };
  const reason = redact(refStatus);
  if (isLostRace(refStatus))
    return { ok: false, kind: 'rejected', answer: reason, detail: `${ref} rejected: ${reason}` };
  return {
    ok: false,
    kind: 'declined',
    answer: reason,
    detail: `${ref} declined: ${reason}`,
    messages: remoteMessages(messages, redact),
  };
}

/** A push that got no usable answer: it may or may not have landed. */
export function unreachable(answer: string, detail: string): PushResult {
  return { ok: false, kind: 'unreachable', answer, detail };
}
